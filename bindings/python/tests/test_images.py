"""Image files: Dataset.open_folder / Dataset.open / read_image against torchvision on real photographs.

The reference is torchvision's own ImageFolder (its class order, file order and PIL loader,
``Image.open(f).convert("RGB")``) with Compose([Resize(int(S / crop_pct), <filter>), CenterCrop(S),
ToTensor()]); every stored image must equal it within 1/255.  The photographs are scikit-image's
samples (python3-skimage): RGB PNGs, a gray PNG, a JPEG, a JPEG re-save and an odd-sized crop.  Nothing
is skipped: torchvision, PIL and skimage are installed by scripts/install-deps.sh, and a missing one
fails here."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import deit
# Imported, not importorskip'd: the exactness tests must fail when the reference is missing.
import skimage.data
from PIL import Image

PHOTOS = os.path.dirname(skimage.data.__file__)


def in_torch_process(code, **args):
    """Runs `code` in a child Python with torch and torchvision imported, and returns the arrays it saves
    (``save(name=array, ...)``).  Not in this process: deit may be built against another LibTorch (the CUDA
    build's 2.11), and two LibTorch versions in one process abort."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.npz")
        prelude = ("import json, sys\nimport numpy as np, torch, torchvision\nfrom PIL import Image\n"
                   "from torchvision import transforms\nfrom torchvision.transforms import InterpolationMode\n"
                   "args = json.loads(sys.argv[1])\n"
                   "def save(**arrays): np.savez(sys.argv[2], **arrays)\n")
        subprocess.run([sys.executable, "-c", prelude + code, json.dumps(args), out], check=True)
        with np.load(out, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}


REFERENCE = """
modes = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}
t = transforms.Compose([transforms.Resize(int(args["size"] / args["crop_pct"]), interpolation=modes[args["filter"]]),
                        transforms.CenterCrop(args["size"]), transforms.ToTensor()])
kwargs = {"loader": lambda p: Image.open(p).convert("L")} if args["gray"] else {}
ref = torchvision.datasets.ImageFolder(args["root"], transform=t, **kwargs)
save(images=torch.stack([ref[i][0] for i in range(len(ref))]).numpy(), labels=np.array(ref.targets),
     classes=np.array(ref.classes), paths=np.array([p for p, _ in ref.samples]))
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small ImageFolder: class names whose byte order differs from a case-blind one, a gray
    photo among RGB ones, a JPEG, a JPEG re-save, an odd-sized crop, and a sub-folder in a class."""
    root = tmp_path_factory.mktemp("photos")
    for d in ("Cat", "astronaut", "coffee", os.path.join("coffee", "aaa")):
        (root / d).mkdir()
    shutil.copy(os.path.join(PHOTOS, "chelsea.png"), root / "Cat" / "chelsea.png")
    Image.open(os.path.join(PHOTOS, "chelsea.png")).convert("RGB").save(root / "Cat" / "chelsea_q85.jpg",
                                                                        quality=85)
    shutil.copy(os.path.join(PHOTOS, "astronaut.png"), root / "astronaut" / "astronaut.png")
    shutil.copy(os.path.join(PHOTOS, "camera.png"), root / "astronaut" / "camera.png")  # gray
    shutil.copy(os.path.join(PHOTOS, "coffee.png"), root / "coffee" / "coffee.png")
    Image.open(os.path.join(PHOTOS, "coffee.png")).crop((37, 11, 37 + 301, 11 + 197)).save(
        root / "coffee" / "coffee_crop.png")  # 301 x 197: odd both ways, landscape
    shutil.copy(os.path.join(PHOTOS, "rocket.jpg"), root / "coffee" / "aaa" / "rocket.jpg")  # portrait
    return root


def reference(root, size, crop_pct, filter, gray=False):
    """torchvision's ImageFolder with the timm-style evaluation transform: (float images N x C x S x S,
    labels, classes, file paths)."""
    r = in_torch_process(REFERENCE, root=str(root), size=size, crop_pct=crop_pct, filter=filter, gray=gray)
    return r["images"], r["labels"], r["classes"].tolist(), r["paths"].tolist()


CASES = [  # image_size, crop_pct, filter
    (64, 0.875, "bicubic"),   # resize 73: timm's DeiT evaluation, scaled down
    (64, 0.875, "bilinear"),
    (37, 1.0, "bilinear"),    # odd side, shorter side resized to the crop itself
    (48, 0.9, "bicubic"),     # resize 53
    (200, 0.875, "bicubic"),  # resize 228: upsamples the 197-px crop
]


@pytest.mark.parametrize("size,crop_pct,filter", CASES)
def test_folder_matches_torchvision(folder, size, crop_pct, filter):
    ref, labels, classes, _ = reference(folder, size, crop_pct, filter)
    with deit.Dataset.open_folder(folder, image_size=size, crop_pct=crop_pct, filter=filter) as d:
        info = d.info
        assert (info["count"], info["channels"], info["height"], info["width"]) == (len(ref), 3, size, size)
        assert (info["format"], info["skipped"], info["dtype"]) == ("folder", 0, "uint8")
        assert d.class_names == classes == ["Cat", "astronaut", "coffee"]
        np.testing.assert_array_equal(d.labels(), labels)
        ours = d.images().astype(np.float64) / 255.0
    diff = np.abs(ours - ref)
    worst = diff.reshape(len(ref), -1).max(axis=1)
    print(f"S={size} crop_pct={crop_pct} {filter}: max |ours/255 - torchvision| per image (in 1/255):",
          np.round(worst * 255, 3).tolist(), "pixels off by > 0.5/255:", int((diff > 0.5 / 255).sum()))
    assert diff.max() <= 1 / 255 + 1e-6, f"max difference {diff.max() * 255:.3f}/255"


def test_gray_matches_torchvision(folder):
    """channels=1 is PIL's convert("L") of each file (ITU-R 601 luma for the RGB photos)."""
    ref, labels, _, _ = reference(folder, 40, 0.875, "bicubic", gray=True)
    with deit.Dataset.open_folder(folder, image_size=40, filter="bicubic", channels=1) as d:
        assert d.info["channels"] == 1
        np.testing.assert_array_equal(d.labels(), labels)
        diff = np.abs(d.images().astype(np.float64) / 255.0 - ref)
    print("channels=1: max difference (in 1/255):", round(diff.max() * 255, 3))
    assert diff.max() <= 1 / 255 + 1e-6, f"max difference {diff.max() * 255:.3f}/255"


def test_default_options_are_libdeit_defaults(folder):
    """No options: deit_image_options_init's defaults (224, 0.875, bicubic, RGB), as torchvision makes them."""
    defaults = deit.image_options_defaults()
    assert (defaults["image_size"], defaults["crop_pct"], defaults["filter"], defaults["channels"]) == (
        224, 0.875, "bicubic", 3)
    assert defaults["skip_bad"] is False and defaults["max_pixels"] > 0 and defaults["normalize"] == "none"
    one = folder / "Cat" / "chelsea.png"
    ref = reference(folder, 224, 0.875, "bicubic")[0][0]  # Cat/chelsea.png is the first sample
    ours = deit.read_image(one)
    assert ours.shape == (3, 224, 224) and ours.dtype == np.uint8
    assert np.abs(ours / 255.0 - ref).max() <= 1 / 255 + 1e-6
    with deit.Dataset.open(folder, image_size=None) as d:  # None: the default
        assert d.info["height"] == 224


def resize_shorter_no_antialias(img, size):
    """Bilinear resize of the shorter side to `size` without antialiasing (the 2x2 sampling of
    torch's interpolate(align_corners=False, antialias=False)): what libdeit would give with the
    filter's support not widened when downsampling."""
    h, w = img.shape[:2]
    nh, nw = (size, int(size * h / w)) if w > h else (int(size * w / h), size) if h > w else (size, size)
    ys = np.clip((np.arange(nh) + 0.5) * h / nh - 0.5, 0, h - 1)
    xs = np.clip((np.arange(nw) + 0.5) * w / nw - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    a = img.astype(np.float64)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def test_downsampling_is_antialiased(folder):
    """astronaut.png (512 x 512) to 64 px: a resize that samples 2x2 pixels (no antialiasing) differs
    from libdeit's by far more than rounding somewhere (the helmet's and suit's fine detail)."""
    path = folder / "astronaut" / "astronaut.png"
    img = np.asarray(Image.open(path).convert("RGB"))
    aliased = resize_shorter_no_antialias(img, 64).transpose(2, 0, 1)
    ours = deit.read_image(path, image_size=64, crop_pct=1.0, filter="bilinear").astype(np.float64)
    # The helper is right: without antialias torch's own resize agrees with it.
    torch_aliased = in_torch_process("""
img = np.asarray(Image.open(args["path"]).convert("RGB"))
t = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32))[None]
save(out=torch.nn.functional.interpolate(t, size=(64, 64), mode="bilinear", align_corners=False,
                                         antialias=False)[0].numpy())
""", path=str(path))["out"]
    assert np.abs(torch_aliased - aliased).max() < 1e-3
    worst = np.abs(ours - aliased).max()
    print("libdeit vs a non-antialiased bilinear resize: max difference", round(worst, 1), "levels")
    assert worst > 10, worst


def test_read_image_equals_the_stored_image(folder):
    with deit.Dataset.open_folder(folder, image_size=48, crop_pct=0.9, filter="bilinear") as d:
        stored = d.images()
    _, _, _, paths = reference(folder, 48, 0.9, "bilinear")
    for i in (1, 3, 6):  # the JPEG re-save, the gray photo, the rocket in coffee/aaa/
        np.testing.assert_array_equal(deit.read_image(paths[i], image_size=48, crop_pct=0.9, filter="bilinear"),
                                      stored[i], err_msg=paths[i])


def test_models_keep_class_names_and_image_options(folder, tmp_path):
    """A teacher trained (and a student distilled) on the folder carry its class names and image options
    through save/load; models trained on memory have neither."""
    opts = dict(image_size=28, crop_pct=0.9, filter="bilinear")
    with deit.Dataset.open_folder(folder, **opts) as train:
        with deit.Teacher("resnet18", 3).to("cpu") as t:
            assert t.class_names == [] and t.image_options is None  # not trained yet
            t.train(train, epochs=1, batch_size=4, trainable="head")
            t.save(tmp_path / "teacher.safetensors")
        with deit.Student("seed", 3, 0, mlp_dim=64).to("cpu") as s:
            s.distill(None, train, distillation="none", epochs=1, batch_size=4)
            s.save(tmp_path / "student.safetensors")
    for model in (deit.Teacher.load(tmp_path / "teacher.safetensors"),
                  deit.Student.load(tmp_path / "student.safetensors")):
        with model:
            assert model.class_names == ["Cat", "astronaut", "coffee"]
            o = model.image_options
            assert (o["image_size"], o["crop_pct"], o["filter"], o["channels"]) == (28, 0.9, "bilinear", 3)
            # Photographs prepared as in training.
            img = deit.read_image(folder / "coffee" / "coffee.png", **o)
            assert img.shape == (3, 28, 28)
            assert model.predict(img[None], layout="nchw").shape == (1, 3)
    x = np.zeros((4, 28, 28, 3), dtype=np.uint8)
    with deit.Dataset.from_memory(x, [0, 1, 2, 0]) as mem, deit.Teacher("resnet18", 3).to("cpu") as t:
        assert mem.class_names == [] and mem.info["format"] == "memory" and mem.info["skipped"] == 0
        t.train(mem, epochs=1, batch_size=4, trainable="head")
        assert t.class_names == [] and t.image_options is None


def test_bad_files(folder, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(folder, root)
    (root / "astronaut" / "broken.jpg").write_bytes(b"")  # zero bytes
    with pytest.raises(deit.Error, match="broken.jpg") as e:
        deit.Dataset.open_folder(root, image_size=32)
    assert e.value.status == deit.E_FORMAT
    with pytest.raises(deit.Error, match="broken.jpg"):
        deit.read_image(root / "astronaut" / "broken.jpg", image_size=32)
    with deit.Dataset.open_folder(root, image_size=32, skip_bad=True) as d:
        assert d.info["skipped"] == 1
        assert len(d) == 7 and d.class_names == ["Cat", "astronaut", "coffee"]
        np.testing.assert_array_equal(d.label_histogram(), [2, 2, 3])

    (root / "astronaut" / "broken.jpg").unlink()
    (root / "empty").mkdir()
    with pytest.raises(deit.Error, match="empty") as e:
        deit.Dataset.open_folder(root, image_size=32)
    assert e.value.status == deit.E_FORMAT

    with pytest.raises(deit.Error, match="no-such-folder") as e:
        deit.Dataset.open_folder(tmp_path / "no-such-folder")
    assert e.value.status == deit.E_IO


def test_csv_list(folder, tmp_path):
    """A "path,label" list file: paths relative to it, labels class names (sorted into indices)."""
    lst = tmp_path / "list.csv"
    lst.write_text("path,label\n"
                   f"{os.path.relpath(folder / 'coffee' / 'coffee.png', tmp_path)},mug\n"
                   f"{os.path.relpath(folder / 'Cat' / 'chelsea.png', tmp_path)},cat\n"
                   f"{os.path.relpath(folder / 'astronaut' / 'astronaut.png', tmp_path)},mug\n")
    with deit.Dataset.open(lst, image_size=32) as d:  # open() dispatches on .csv
        assert d.class_names == ["cat", "mug"]
        np.testing.assert_array_equal(d.labels(), [1, 0, 1])
        np.testing.assert_array_equal(d.images(1, 1)[0], deit.read_image(folder / "Cat" / "chelsea.png",
                                                                          image_size=32))
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label\n"
                   f"{os.path.relpath(folder / 'Cat' / 'chelsea.png', tmp_path)},cat\n"
                   "photos/missing-photo.png,cat\n")
    with pytest.raises(deit.Error, match="missing-photo.png"):
        deit.Dataset.open_folder(bad, image_size=32)


def test_option_errors(folder):
    with pytest.raises(ValueError, match="filter: unknown value 'box'"):
        deit.Dataset.open_folder(folder, filter="box")
    with pytest.raises(TypeError, match="unknown option 'size'"):
        deit.read_image(folder / "Cat" / "chelsea.png", size=32)
    with pytest.raises(deit.Error, match="image_size") as e:
        deit.read_image(folder / "Cat" / "chelsea.png", image_size=0)
    assert e.value.status == deit.E_INVALID_ARG
