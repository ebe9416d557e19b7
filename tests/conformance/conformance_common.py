"""Shared helpers of the conformance tests: the skip rule, the C driver, raw
files, a minimal safetensors reader/writer (the safetensors package is not
needed) and the error measure.

Import this module before anything else from torch: it exits 77 (ctest's
"skipped") when /usr/bin/python3 lacks numpy, torch or torchvision.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
from collections import OrderedDict

try:
    import numpy as np
    import torch
    import torchvision  # noqa: F401  (the tests need it; checked here once)
except ImportError as e:  # a missing prerequisite skips, it never passes
    print(f"skipped: {sys.executable} cannot import {e.name} "
          "(Debian: apt-get install python3-numpy python3-torch python3-torchvision)", file=sys.stderr)
    sys.exit(77)

DRIVER = os.environ.get("DEIT_CONFORMANCE_DRIVER", "")


def tmp_dir(name):
    """A fresh folder under $DEIT_TEST_TMPDIR (set by ctest) or /tmp."""
    base = os.environ.get("DEIT_TEST_TMPDIR") or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=name + "-", dir=base)


def run_driver(*args):
    """Runs deit_conformance_driver; returns its stdout, raises with its stderr."""
    if not DRIVER or not os.path.exists(DRIVER):
        raise RuntimeError("DEIT_CONFORMANCE_DRIVER does not name the built deit_conformance_driver "
                           f"(got '{DRIVER}'); run the tests through ctest")
    cmd = [DRIVER] + [str(a) for a in args]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stderr}")
    return r.stdout


def write_f32(path, tensor):
    np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype="<f4").tofile(path)


def write_i64(path, tensor):
    np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype="<i8").tofile(path)


def read_f32(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(shape).copy())


# safetensors: 8-byte little-endian header length, JSON header, tensor bytes.
_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.int64: "I64",
           torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
_NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?"}


def save_safetensors(path, tensors, metadata=None):
    """tensors: name -> tensor, written in the given order; metadata: str -> str."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        dtype = _DTYPES[t.dtype]
        blob = t.numpy().astype(_NUMPY[dtype], copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for blob in blobs:
            f.write(blob)


def load_safetensors(path):
    """(OrderedDict name -> tensor in file order, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = OrderedDict()
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        arr = np.frombuffer(body[begin:end], dtype=_NUMPY[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, metadata


def rel_err(got, want):
    """max |got - want| / max |want|: the error relative to the output's scale
    (element-wise relative error is meaningless for outputs near zero)."""
    got = torch.as_tensor(got, dtype=torch.float64)
    want = torch.as_tensor(want, dtype=torch.float64)
    if got.shape != want.shape:
        raise AssertionError(f"shape {tuple(got.shape)} != {tuple(want.shape)}")
    scale = want.abs().max().item()
    return (got - want).abs().max().item() / (scale if scale > 0 else 1.0)


def assert_close(test, got, want, rtol, what):
    err = rel_err(got, want)
    print(f"{what}: relative error {err:.3g} (limit {rtol:g})", file=sys.stderr)
    test.assertLessEqual(err, rtol, f"{what}: libdeit and PyTorch differ by {err:.3g} relative (limit {rtol:g})")


def randomize_batchnorm(model, generator):
    """Random BatchNorm affine parameters and running statistics: with the
    defaults (1, 0, mean 0, var 1) eval-mode BN is nearly the identity and a
    mix-up of weight, bias, mean or var would go unnoticed."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=generator))
                m.bias.copy_(0.1 * torch.randn(c, generator=generator))
                m.running_mean.copy_(0.1 * torch.randn(c, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(c, generator=generator))
                m.num_batches_tracked.fill_(7)
    return model


# He et al.'s CIFAR ResNets: blocks per stage (three stages of 16/32/64 planes).
CIFAR_RESNET_BLOCKS = {"resnet20": 3, "resnet56": 9}


def cifar_resnet(depth_name, num_classes):
    """He et al.'s CIFAR ResNet-20/56 assembled from torchvision's own ResNet and BasicBlock: its 3x3
    stride-1 stem of 16 channels, no max-pool, layer1..layer3 of n blocks (16, 32, 64 planes, torchvision's
    1x1-conv + BN projection shortcut where the shape changes), no layer4, fc on 64 features."""
    from torchvision.models.resnet import BasicBlock, conv1x1
    n = CIFAR_RESNET_BLOCKS[depth_name]
    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = torch.nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
    model.bn1 = torch.nn.BatchNorm2d(16)
    model.maxpool = torch.nn.Identity()
    inplanes = 16
    for stage, planes in enumerate((16, 32, 64)):
        stride = 1 if stage == 0 else 2
        down = None
        if stride != 1 or inplanes != planes:
            down = torch.nn.Sequential(conv1x1(inplanes, planes, stride), torch.nn.BatchNorm2d(planes))
        blocks = [BasicBlock(inplanes, planes, stride, down)] + [BasicBlock(planes, planes) for _ in range(n - 1)]
        setattr(model, f"layer{stage + 1}", torch.nn.Sequential(*blocks))
        inplanes = planes
    model.layer4 = torch.nn.Identity()  # not a parameter: the state dict has no layer4.*
    model.fc = torch.nn.Linear(64, num_classes)
    for m in model.modules():  # torchvision's init, on the replaced modules too
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


def torchvision_resnet(arch, num_classes, seed):
    """torchvision.models.<arch>, random init from `seed`, random BatchNorm, eval mode.  An arch ending in
    -small-image gets the CIFAR ResNet's stem from torchvision's own modules: conv1 a 3x3 stride-1 conv
    (random, as torchvision initialises convs), no max-pool; resnet20/56-small-image are cifar_resnet."""
    torch.manual_seed(seed)
    small = arch.endswith("-small-image")
    base = arch.removesuffix("-small-image")
    if base in CIFAR_RESNET_BLOCKS:
        return randomize_batchnorm(cifar_resnet(base, num_classes), torch.Generator().manual_seed(seed + 1)).eval()
    model = getattr(torchvision.models, base)(num_classes=num_classes)
    if small:
        model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        torch.nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
        model.maxpool = torch.nn.Identity()
    return randomize_batchnorm(model, torch.Generator().manual_seed(seed + 1)).eval()
