"""deit.h's comments state each option's default; the library's *_init functions are where the defaults
live (libdeit/capi/option_defaults.h).  Every field of every options struct is checked here: a field's
trailing comment starts with its default, and a field without one must start at 0 / NULL."""
import os
import re

import pytest

from deit import deit_c as _c

HEADER = os.path.join(os.path.dirname(__file__), "..", "..", "..", "include", "deit", "deit.h")
STRUCTS = {  # struct -> its init, as Python calls it
    "deit_teacher_train_options": _c.deit_teacher_train_options_init,
    "deit_distill_options": _c.deit_distill_options_init,
    "deit_augment_options": _c.deit_augment_options_init,
    "deit_image_options": _c.deit_image_options_init,
    "deit_group_options": _c.deit_group_options_init,
    "deit_runtime_options": _c.deit_runtime_options_init,
    "deit_onnx_options": _c.deit_onnx_options_init,
}
# Not reachable from deit_c (deit_c.i ignores them; the Python layer sets them per call).
UNWRAPPED = {"progress", "user_data", "device"}


def header_text():
    with open(HEADER) as f:
        return f.read()


def init_sized_structs(text):
    """The structs whose *_init_sized takes only (struct, struct_size): each one's defaults come from
    its init alone (deit_student_config's also from a preset)."""
    return set(re.findall(r"DEIT_API deit_status (\w+)_init_sized\(\1 \*\w+, size_t struct_size\);", text))


def enum_members(text):
    """{'ADAM': DEIT_OPTIM_ADAM's value, ...} per enum type, from the header."""
    members = {}
    for name, body in re.findall(r"typedef enum (\w+) \{(.*?)\} \1;", text, re.S):
        for member in re.findall(r"\b(DEIT_\w+)\s*=", body):
            members.setdefault(name, {})[member] = getattr(_c, member)
    return members


def fields(text, struct):
    """[(type, name, comment or None)] of one struct, comments on the field's own line."""
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (struct, struct), text, re.S).group(1)
    out = []
    for line in body.split("\n"):
        m = re.match(r"\s*((?:const\s+)?\w+\s*\**)\s*(\w+);\s*(?:/\*\s*(.*?)(?:\*/)?\s*)?$", line)
        if m and m.group(2) != "struct_size":
            out.append((m.group(1).replace(" ", ""), m.group(2), m.group(3)))
    return out


def stated_default(ctype, comment, enums):
    """The value a field's comment starts with, as the SWIG attribute reads it."""
    token = re.match(r'\s*("[^"]*"|[-\w.]+)', comment).group(1)
    if token == "NULL":
        return None
    if token.startswith('"'):
        return token.strip('"')
    if ctype in enums:
        # The member's suffix ("ADAM") or its whole name ("DEIT_RESIZE_BICUBIC").
        matches = [v for k, v in enums[ctype].items() if k == token or k.endswith("_" + token)]
        assert len(matches) == 1, "%s: %r names no single member of %s" % (comment, token, ctype)
        return matches[0]
    return float(token)


@pytest.mark.parametrize("struct", sorted(STRUCTS))
def test_header_comments_state_the_init_defaults(struct):
    text = header_text()
    enums = enum_members(text)
    options = STRUCTS[struct]()
    checked = 0
    for ctype, name, comment in fields(text, struct):
        if name in UNWRAPPED:
            continue
        actual = getattr(options, name)
        if comment:
            expected = stated_default(ctype, comment, enums)
        else:
            expected = None if ctype.endswith("*") else 0
        assert actual == expected, "%s.%s: deit.h says %r, %s_init gives %r" % (
            struct, name, expected, struct, actual)
        checked += 1
    assert checked >= min(6, len(fields(text, struct))), "%s: only %d fields parsed from deit.h" % (struct, checked)


def test_every_options_struct_is_checked():
    # A struct appended to deit.h with its own init is checked here too, not silently skipped.
    found = init_sized_structs(header_text())
    assert "deit_augment_options" in found and "deit_distill_options" in found, found
    assert found == set(STRUCTS), "deit.h has init_sized for %s; STRUCTS lists %s" % (sorted(found), sorted(STRUCTS))
