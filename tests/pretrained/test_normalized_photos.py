"""Photographs in as timm's and torchvision's pretrained models take them: torchvision's Resize + CenterCrop
+ ToTensor + Normalize(ImageNet mean, std) into timm's own DeiT-tiny, against deitctl with a student fitted
from the same timm weights (`distill --init ... --normalize imagenet`, trained one epoch at lr 1e-30 so that
its weights stay timm's and its checkpoint records the data's normalisation), predicting the same photo
files.  The student's ONNX export, run by onnxruntime on ToTensor's output (pixels / 255), gives the same
logits: the normalisation is in the graph.  Without the Normalize step the reference must differ, so the
check can tell."""
import json
import math
import os
import subprocess
import sys
import unittest

from pretrained_common import RTOL, cc, st, timm  # first: exits 77 without the venv's packages

try:
    import onnxruntime as ort
    from PIL import Image
    from torchvision import transforms
except ImportError as e:
    print(f"skipped: {sys.executable} cannot import {e.name} (run scripts/install-python-venv.sh)", file=sys.stderr)
    sys.exit(77)

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from test_timm_students import timm_model

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DEITCTL = os.environ.get("DEITCTL", "")
SIZE = 64


def deitctl(*args):
    if not DEITCTL or not os.path.exists(DEITCTL):
        raise RuntimeError(f"DEITCTL does not name the built deitctl (got '{DEITCTL}'); run the tests through ctest")
    r = subprocess.run([DEITCTL] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise AssertionError(f"deitctl {' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr}")
    return r.stdout


class NormalizedPhotos(unittest.TestCase):
    def test_student_sees_photos_as_timm_does(self):
        work = cc.tmp_dir("normalized")
        subprocess.run([sys.executable, os.path.join(ROOT, "cli/tests/make_tiny_data.py"), "photos", work], check=True)
        photos = os.path.join(work, "photos")
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(photos, "val")) for f in fs)[:8]
        weights, student = os.path.join(work, "timm.safetensors"), os.path.join(work, "student.safetensors")
        st.save_file({k: v.contiguous() for k, v in timm_model("deit_tiny_distilled_patch16_224", 9).state_dict().items()},
                     weights)
        deitctl("distill", "--init", weights, "--distillation", "none", "--data", photos, "--image-size", SIZE,
                "--normalize", "imagenet", "--epochs", 1, "--lr", 1e-30, "--batch-size", 8, "--threads", 2,
                "--quiet", "--out", student)
        got = torch.tensor([json.loads(line)["logits"] for line in deitctl("predict", student, *files, "--json",
                                                                           "--threads", 2).splitlines()])

        ref = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, img_size=SIZE,
                                num_classes=4).eval()
        ref.load_state_dict(st.load_file(student), strict=True)
        pixels = transforms.Compose([transforms.Resize(math.floor(SIZE / 0.875), transforms.InterpolationMode.BICUBIC),
                                     transforms.CenterCrop(SIZE), transforms.ToTensor()])
        x = torch.stack([pixels(Image.open(f).convert("RGB")) for f in files])
        with torch.no_grad():
            want = ref(transforms.Normalize(IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)(x))
            unnormalized = ref(x)
        cc.assert_close(self, got, want, RTOL, "deitctl predict vs timm on Normalize(ImageNet) input")
        self.assertGreater(cc.rel_err(got, unnormalized), 100 * RTOL, "the check cannot tell normalisation apart")

        onnx_path = os.path.join(work, "student.onnx")
        deitctl("export", student, "--onnx", onnx_path)
        session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        onnx_logits = torch.from_numpy(session.run(["logits"], {"images": x.numpy()})[0])
        cc.assert_close(self, onnx_logits, got, RTOL, "onnxruntime on pixels / 255 vs deitctl predict")


if __name__ == "__main__":
    unittest.main(verbosity=2)
