"""ONNX export (deit_student_export_onnx, through deit_conformance_driver) checked by the real PyPI onnx
(checker with full_check: strict shape inference) and run by the real onnxruntime (CPU provider): the same
logits as libdeit's deit_student_predict, for the seed, small-image and deit-tiny presets, batch sizes 1
and 7 through the one symbolic batch dimension, each head.  Every parameter is randomised first (tokens,
positions, biases and LayerNorms too), so that a swapped, skipped or identity-initialised tensor shows."""
import os
import unittest

from pretrained_common import cc  # first: exits 77 without the venv's packages

import sys

try:
    import onnx
    import onnxruntime as ort
except ImportError as e:
    print(f"skipped: {sys.executable} cannot import {e.name} (run scripts/install-python-venv.sh)", file=sys.stderr)
    sys.exit(77)

import numpy as np
import torch

# onnxruntime's kernels against LibTorch's (different GEMM blocking, fused attention and LayerNorm
# kernels); measured up to 2.0e-6 relative (deit-tiny, batch 7).  An ln_eps left at ONNX's default 1e-5
# (planted) shows as 2.4e-5 on small-image and 1.2e-5 on deit-tiny.
RTOL = 1e-5
OPSET = 17
# docs/INTEROP.md lists these; a new operator in the graph is a documentation change.
DOCUMENTED_OPS = {"Add", "Concat", "Conv", "Div", "Erf", "Expand", "Gather", "Gemm", "LayerNormalization",
                  "MatMul", "Mul", "Relu", "Reshape", "Shape", "Slice", "Softmax", "Sub", "Transpose"}
HEADS = ("cls", "dist", "avg")  # the order of student-predict's output


class OnnxExport(unittest.TestCase):
    def setUp(self):
        self.dir = cc.tmp_dir("onnx")

    def path(self, name):
        return os.path.join(self.dir, name)

    def random_student(self, preset, classes, seed, channels=None):
        """A libdeit checkpoint of `preset` whose every tensor is random (and, with `channels`, another
        input channel count, through deit_student_load_weights' adaptation)."""
        ckpt = self.path(f"{preset}.safetensors")
        cc.run_driver("student-init", preset, classes, seed, "keep", ckpt)
        tensors, metadata = cc.load_safetensors(ckpt)
        g = torch.Generator().manual_seed(seed)
        for name, t in tensors.items():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                tensors[name] = 1 + 0.2 * torch.randn(t.shape, generator=g)
            else:
                scale = 0.3 if name in ("cls_token", "dist_token", "pos_embed") else 0.05
                tensors[name] = t + scale * torch.randn(t.shape, generator=g)
        cc.save_safetensors(ckpt, tensors, metadata)
        if channels is not None:
            adapted = self.path(f"{preset}-{channels}ch.safetensors")
            cc.run_driver("student-from-weights", ckpt, "file", "file", channels, seed, adapted)
            ckpt = adapted
            tensors, _ = cc.load_safetensors(ckpt)
        return ckpt, tensors

    def libdeit_logits(self, ckpt, x):
        """{head: logits} from deit_student_predict."""
        cc.write_f32(self.path("x.f32"), x)
        cc.run_driver("student-predict", ckpt, self.path("x.f32"), x.shape[0], self.path("y.f32"))
        y = cc.read_f32(self.path("y.f32"), (3, x.shape[0], -1))
        return dict(zip(HEADS, y))

    def export(self, ckpt, head):
        out = self.path(f"{os.path.basename(ckpt)}-{head}.onnx")
        cc.run_driver("student-export-onnx", ckpt, head, out)
        model = onnx.load(out)
        onnx.checker.check_model(model, full_check=True)
        return out, model

    def check_model_shape(self, model, channels, size, classes):
        self.assertEqual([(o.domain, o.version) for o in model.opset_import], [("", OPSET)])
        (inp,), (out,) = model.graph.input, model.graph.output
        dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
        self.assertEqual((inp.name, dims(inp)), ("images", ["batch", channels, size, size]))
        self.assertEqual((out.name, dims(out)), ("logits", ["batch", classes]))
        ops = {n.op_type for n in model.graph.node}
        self.assertLessEqual(ops, DOCUMENTED_OPS, f"operators not in docs/INTEROP.md: {ops - DOCUMENTED_OPS}")

    def run_onnxruntime(self, path, x):
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return torch.from_numpy(session.run(["logits"], {"images": x.numpy()})[0])

    def test_presets_match_libdeit_at_batch_1_and_7(self):
        for preset, classes, size in (("seed", 10, 28), ("small-image", 6, 28), ("deit-tiny", 5, 224)):
            with self.subTest(preset):
                ckpt, tensors = self.random_student(preset, classes, seed=3)
                path, model = self.export(ckpt, "avg")
                self.check_model_shape(model, 3, size, classes)
                # The weights are initializers under their checkpoint names, unchanged.
                inits = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy())
                         for t in model.graph.initializer}
                for name, t in tensors.items():
                    self.assertIn(name, inits)
                    self.assertTrue(torch.equal(inits[name], t.float()), name)
                self.assertEqual({p.key: p.value for p in model.metadata_props}.get("libdeit.head"), "avg")
                g = torch.Generator().manual_seed(11)
                for n in (1, 7):
                    x = torch.rand((n, 3, size, size), generator=g)
                    cc.assert_close(self, self.run_onnxruntime(path, x), self.libdeit_logits(ckpt, x)["avg"], RTOL,
                                    f"{preset} batch {n} avg")

    def test_each_head_is_its_own(self):
        ckpt, _ = self.random_student("seed", 10, seed=5)
        x = torch.rand((4, 3, 28, 28), generator=torch.Generator().manual_seed(2))
        want = self.libdeit_logits(ckpt, x)
        for head in HEADS:
            with self.subTest(head):
                path, model = self.export(ckpt, head)
                got = self.run_onnxruntime(path, x)
                cc.assert_close(self, got, want[head], RTOL, f"seed {head} head")
                for other in HEADS:
                    if other != head:  # the heads are far apart, so a swapped head cannot pass
                        self.assertGreater(cc.rel_err(got, want[other]), 100 * RTOL, f"{head} export is {other}")
                names = {t.name for t in model.graph.initializer}
                self.assertEqual("head.weight" in names, head != "dist", "an unused head is not in the file")
                self.assertEqual("head_dist.weight" in names, head != "cls", "an unused head is not in the file")

    def test_gray_student(self):
        ckpt, _ = self.random_student("seed", 4, seed=7, channels=1)
        path, model = self.export(ckpt, "avg")
        self.check_model_shape(model, 1, 28, 4)
        x = torch.rand((7, 1, 28, 28), generator=torch.Generator().manual_seed(3))
        cc.assert_close(self, self.run_onnxruntime(path, x), self.libdeit_logits(ckpt, x)["avg"], RTOL, "gray seed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
