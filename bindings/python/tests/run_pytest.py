"""ctest entry: run pytest on one test file; exit 77 (skipped) when pytest or numpy is missing."""
import os
import sys

try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-pytest python3-numpy)")
    sys.exit(77)

# No cache or hypothesis database written into the build tree.
args = [*sys.argv[1:], "-v", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
if os.environ.get("DEIT_TEST_TMPDIR"):
    # pytest empties --basetemp itself but needs its parent.
    os.makedirs(os.path.dirname(os.environ["DEIT_TEST_TMPDIR"]), exist_ok=True)
    args += ["--basetemp", os.environ["DEIT_TEST_TMPDIR"]]
sys.exit(pytest.main(args))
