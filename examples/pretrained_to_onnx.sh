#!/usr/bin/env bash
# The whole path of docs/INTEROP.md: timm and torchvision weights -> a libdeit teacher and student ->
# fine-tuning with distillation kept on -> an ONNX model -> onnxruntime, which classifies the photographs
# as `deitctl predict` does.
#
#   examples/pretrained_to_onnx.sh DATA_DIR WORK_DIR [IMAGE_SIZE]
#
# DATA_DIR: image class folders (train/ + val/, or one folder of classes).  IMAGE_SIZE: the side the images
# are resized and cropped to (default 224, the pretrained models' own; smaller is faster, and pos_embed is
# resampled for it).  Python: the venv of scripts/install-python-venv.sh (timm, torchvision, safetensors,
# onnx, onnxruntime), or $PYTHON.  deitctl: $DEITCTL, else build/cli/deitctl, else the one on PATH.
#
# With PRETRAINED=1 timm and torchvision download their ImageNet weights.  This project's machines cannot,
# so by default both models start from random weights: the commands are the same, the accuracy is not.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:?usage: $0 DATA_DIR WORK_DIR [IMAGE_SIZE]}"
work="${2:?usage: $0 DATA_DIR WORK_DIR [IMAGE_SIZE]}"
size="${3:-224}"
python="${PYTHON:-$root/third_party/venv-torch211/bin/python}"
deitctl="${DEITCTL:-}"
if [ -z "$deitctl" ]; then
  if [ -x "$root/build/cli/deitctl" ]; then deitctl="$root/build/cli/deitctl"; else deitctl="$(command -v deitctl)"; fi
fi
data="$(cd "$data" && pwd)"
mkdir -p "$work"
cd "$work"

echo "== 1. timm's DeiT-tiny and torchvision's ResNet-18 as plain safetensors state dicts"
PRETRAINED="${PRETRAINED:-0}" "$python" - <<'PY'
import os, safetensors.torch, timm, torchvision
pretrained = os.environ["PRETRAINED"] == "1"
deit = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=pretrained)
safetensors.torch.save_file(deit.state_dict(), "deit-tiny.safetensors")
resnet = torchvision.models.resnet18(weights="DEFAULT" if pretrained else None)
safetensors.torch.save_file(resnet.state_dict(), "resnet18.safetensors")
print("pretrained ImageNet weights" if pretrained else "random weights (PRETRAINED=1 downloads ImageNet's)")
PY

echo "== 2. the teacher: ResNet-18 weights fine-tuned on $data"
# --normalize imagenet: both models take the input their ImageNet weights were trained on (kept in their
# checkpoints and the ONNX model, which normalise by themselves).
"$deitctl" teacher --data "$data" --image-size "$size" --normalize imagenet --arch resnet18 --weights resnet18.safetensors \
  --epochs 1 --batch-size 16 --out teacher.safetensors

echo "== 3. the student: DeiT-tiny's weights fine-tuned against the teacher, distillation on"
"$deitctl" distill --init deit-tiny.safetensors --teacher teacher.safetensors --data "$data" \
  --image-size "$size" --normalize imagenet --epochs 1 --batch-size 16 --out student.safetensors

echo "== 4. the student as ONNX"
"$deitctl" export student.safetensors --onnx student.onnx

echo "== 5. onnxruntime classifies the photographs as deitctl predict does"
photos=()
while IFS= read -r f; do photos+=("$f"); done < <(find "$data" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort | head -n 32)
"$deitctl" predict student.safetensors "${photos[@]}" --json > libdeit.jsonl
"$python" - libdeit.jsonl "${photos[@]}" <<'PY'
import json, math, sys
import numpy as np, onnx, onnxruntime
from PIL import Image
from torchvision import transforms

# The model carries its checkpoint's data card: class names and the preprocessing of its training images.
# Its input is pixels / 255 (ToTensor): the ImageNet normalisation is inside the graph.
meta = {p.key: p.value for p in onnx.load("student.onnx").metadata_props}
card = json.loads(meta["libdeit.data_card"])
pre, names = card["preprocess"], card["class_names"]
filt = {"bicubic": transforms.InterpolationMode.BICUBIC, "bilinear": transforms.InterpolationMode.BILINEAR}[pre["filter"]]
prepare = transforms.Compose([transforms.Resize(math.floor(pre["image_size"] / pre["crop_pct"]), filt),
                              transforms.CenterCrop(pre["image_size"]), transforms.ToTensor()])  # pixels / 255
mode = "RGB" if pre["channels"] == 3 else "L"
x = np.stack([prepare(Image.open(p).convert(mode)).numpy() for p in sys.argv[2:]])
if x.shape[1] == 1:
    x = np.repeat(x, 3, axis=1)  # a gray-trained student takes the gray value in all three channels
logits = onnxruntime.InferenceSession("student.onnx").run(["logits"], {"images": x})[0]
libdeit = [json.loads(line) for line in open(sys.argv[1])]
want = np.array([lib["logits"] for lib in libdeit], dtype=np.float32)
agree = sum(names[int(row.argmax())] == lib["class_name"] for row, lib in zip(logits, libdeit))
err = float(np.abs(logits - want).max() / np.abs(want).max())
for path, row in list(zip(sys.argv[2:], logits))[:4]:
    print(f"{path}: {names[int(row.argmax())]}")
print(f"{agree} of {len(libdeit)} photographs classified alike; logits differ by {err:.2g} of the largest")
sys.exit(0 if agree == len(libdeit) and err < 1e-4 else 1)
PY
