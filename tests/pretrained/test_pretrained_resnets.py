"""Pretrained teachers: torchvision's and timm's own resnet50 (PyPI, torch 2.11,
the venv of scripts/install-python-venv.sh) on random initialisation with
random BatchNorm statistics, state_dict() saved by safetensors' save_file and
loaded by deit_teacher_create + deit_teacher_load_weights: the same logits in
eval mode, and libdeit's checkpoint loads back strictly into both."""
import os
import unittest

from pretrained_common import RTOL, cc, st, timm  # first: exits 77 without the venv's packages

import torch
import torchvision

N, SIZE = 2, 64


class PretrainedResNets(unittest.TestCase):
    def check(self, model, what):
        d = cc.tmp_dir("resnet")
        src, ckpt = os.path.join(d, "src.safetensors"), os.path.join(d, "libdeit.safetensors")
        st.save_file(model.state_dict(), src)
        x = torch.rand(N, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))
        cc.write_f32(os.path.join(d, "x.f32"), x)
        spec = f"weights:resnet50:1000:{src}"
        cc.run_driver("teacher-predict", spec, os.path.join(d, "x.f32"), N, 3, SIZE, SIZE, os.path.join(d, "y.f32"))
        with torch.no_grad():
            want = model(x)
        cc.assert_close(self, cc.read_f32(os.path.join(d, "y.f32"), (N, 1000)), want, RTOL, what)
        cc.run_driver("teacher-save", spec, ckpt)
        return ckpt

    def test_torchvision_resnet50(self):
        m = cc.torchvision_resnet("resnet50", 1000, seed=1)
        ckpt = self.check(m, "torchvision resnet50")
        back = torchvision.models.resnet50().eval()
        back.load_state_dict(st.load_file(ckpt), strict=True)
        for k, v in m.state_dict().items():
            self.assertTrue(torch.equal(back.state_dict()[k], v), k)

    def test_timm_resnet50(self):
        torch.manual_seed(2)
        m = cc.randomize_batchnorm(timm.create_model("resnet50", pretrained=False),
                                   torch.Generator().manual_seed(3)).eval()
        ckpt = self.check(m, "timm resnet50")
        back = timm.create_model("resnet50", pretrained=False).eval()
        back.load_state_dict(st.load_file(ckpt), strict=True)
        for k, v in m.state_dict().items():
            self.assertTrue(torch.equal(back.state_dict()[k], v), k)


if __name__ == "__main__":
    unittest.main()
