"""libdeit from Python: fine-tune a CNN teacher, distill it into a DeiT student, run inference.

A thin layer over the SWIG module ``deit.deit_c`` (extension ``deit._deit_c``), which wraps the C API of ``deit/deit.h``:

- ``Dataset``, ``Teacher`` and ``Student`` own their C handles and free them on ``close()``, at the
  end of a ``with`` block, or when garbage-collected;
- a failed call raises ``deit.Error`` with ``.status`` (the ``deit_status`` value, e.g.
  ``deit.E_IO``) and ``.message`` (``deit_last_error()``);
- images go in as numpy arrays: ``uint8`` N x H x W x C (or N x C x H x W with ``layout="nchw"``),
  ``float32`` N x C x H x W, or N x H x W for gray; C-contiguous arrays are passed without a copy;
- ``predict`` returns ``float32`` logits, ``classify`` ``int64`` classes;
- training takes ``progress=callable(Progress)``; a true return value or an exception stops it.
  The exception is re-raised once the C call has returned (the model stays usable). The GIL is
  released while libdeit works;
- training takes ``augment=``: None (the default: the images as stored), True (libdeit's
  augmentation defaults, ``augment_defaults()``) or a dict of deit_augment_options fields that
  override those defaults, e.g. ``augment={"hflip": 1, "mixup_alpha": 0.8}``;
- training takes ``val=`` (a Dataset, evaluated at every epoch's end: ``Progress.val_accuracy``, -1
  on the other reports) and ``best_path=`` (needs val: the best epoch's checkpoint is written there).
  ``Dataset.split(fraction, seed)`` holds a validation set out of a training set;
- image files (JPEG, PNG, BMP, PGM/PPM) are read as torchvision's Resize + CenterCrop + ToTensor would
  (``Dataset.open_folder``, ``Dataset.open``, ``read_image``); their keyword arguments are the
  deit_image_options fields (image_size, crop_pct, filter="bicubic"/"bilinear", channels, threads,
  skip_bad, max_pixels, normalize="none"/"imagenet"/"inception": how the models trained on them normalise their
  input), each left out or None taking libdeit's default (``image_options_defaults()``).
  ``Dataset.class_names``, ``Teacher.class_names`` and ``Student.class_names`` give the class folder
  names, and a model's ``image_options`` how its training images were made.
"""

import collections
import collections.abc
import json
import os

import numpy as np

from . import deit_c as _c

__all__ = [
    "Error", "Dataset", "Teacher", "Student", "Progress", "EvalResult", "version", "set_num_threads",
    "get_num_threads", "set_log_level", "runtime_init", "runtime_settings", "teacher_archs", "student_presets", "libtorch_version", "cuda_compiled", "cuda_available", "cuda_device_count", "resolve_device",
    "distillation_loss", "describe_checkpoint", "checkpoint_kind", "Group", "augment_defaults", "image_options_defaults",
    "read_image",
]


class Error(Exception):
    """A libdeit call failed: ``status`` is the deit_status (negative), ``message`` the reason."""

    def __init__(self, status, message):
        super().__init__(status, message)
        self.status = status
        self.message = message

    @property
    def status_name(self):
        """Static text of the status, e.g. "I/O error"."""
        return _c.deit_status_str(self.status)

    def __str__(self):
        return f"{self.message} [{_c.deit_status_str(self.status)}, status {self.status}]"


_c.deit_py_set_error_class(Error)

# Status codes as module constants: deit.OK, deit.E_IO, ...
for _name in dir(_c):
    if _name.startswith("DEIT_OK") or _name.startswith("DEIT_E_"):
        globals()[_name[len("DEIT_"):]] = getattr(_c, _name)

Progress = collections.namedtuple(
    "Progress", "phase epoch epochs step steps loss loss_cls loss_dist lr images_per_sec seconds end_of_epoch "
    "val_accuracy", defaults=(-1.0,))
Progress.__doc__ = ("One progress report; phase is 'teacher_train', 'teacher_logits', 'distill' or 'evaluate'; "
                    "val_accuracy is the accuracy on val= (a student's averaged heads) on an epoch's last report "
                    "when val is given, else -1.")

EvalResult = collections.namedtuple("EvalResult", "count accuracy loss accuracy_cls accuracy_dist confusion")
EvalResult.__doc__ = ("Evaluation: accuracy in [0, 1], mean loss; for a student the accuracy of each head; "
                      "confusion is a num_classes x num_classes int64 array (row = true label) or None.")

_PHASES = {getattr(_c, n): n[len("DEIT_PHASE_"):].lower() for n in dir(_c) if n.startswith("DEIT_PHASE_")}
# Enum-valued option fields accept the enum's name in lower case, e.g. optimizer="adamw".
_ENUM_PREFIX = {"optimizer": "DEIT_OPTIM_", "schedule": "DEIT_SCHEDULE_", "distillation": "DEIT_DISTILL_",
                "trainable": "DEIT_TRAIN_", "head": "DEIT_HEAD_", "split": "DEIT_SPLIT_",
                "layout": "DEIT_LAYOUT_", "level": "DEIT_LOG_", "filter": "DEIT_RESIZE_",
                "normalize": "DEIT_NORMALIZE_"}


def _enum(field, value):
    if isinstance(value, str):
        name = _ENUM_PREFIX[field] + value.upper().replace("-", "_")
        if not hasattr(_c, name):
            known = sorted(n[len(_ENUM_PREFIX[field]):].lower() for n in dir(_c) if n.startswith(_ENUM_PREFIX[field]))
            raise ValueError(f"{field}: unknown value {value!r}; expected one of {', '.join(known)}")
        return getattr(_c, name)
    return int(value)


def _fields(struct):
    """The C struct's fields as SWIG exposes them (follows the header)."""
    cls = type(struct)
    return [n for n in dir(cls) if isinstance(getattr(cls, n), property) and n not in ("this", "thisown", "struct_size")]


def _set_fields(struct, values, what):
    known = _fields(struct)
    for key, value in values.items():
        if key not in known:
            raise TypeError(f"{what}: unknown option {key!r}; known: {', '.join(known)}")
        setattr(struct, key, _enum(key, value) if key in _ENUM_PREFIX else value)
    return struct


def _as_dict(struct):
    return {n: getattr(struct, n) for n in _fields(struct)}


def _augment_options(value, what):
    """The deit_augment_options that ``augment=`` asks for, or None for no augmentation.  The caller
    keeps the returned struct alive while the C call that points to it runs."""
    if value is None or value is False:
        return None
    if value is True:
        return _c.deit_augment_options_init()
    if isinstance(value, _c.deit_augment_options):
        return value
    if isinstance(value, collections.abc.Mapping):
        return _set_fields(_c.deit_augment_options_init(), value, what + " augment")
    raise TypeError(f"{what}: augment must be None, True or a dict of deit_augment_options fields, "
                    f"got {type(value).__name__}")


def _image_options(values, what):
    """A deit_image_options: libdeit's defaults with the given fields set (None: the default)."""
    return _set_fields(_c.deit_image_options_init(), {k: v for k, v in values.items() if v is not None}, what)


def _image_options_dict(o):
    """dict of a deit_image_options, filter by name ("bicubic"), so that it can be passed back as **kwargs."""
    d = _as_dict(o)
    d["filter"] = _enum_name("filter", o.filter)
    d["normalize"] = _enum_name("normalize", o.normalize)
    d["skip_bad"] = bool(o.skip_bad)
    return d


def _enum_name(field, value):
    prefix = _ENUM_PREFIX[field]
    for n in dir(_c):
        if n.startswith(prefix) and getattr(_c, n) == value:
            return n[len(prefix):].lower()
    return value


def image_options_defaults():
    """dict of the deit_image_options fields as deit_image_options_init gives them (image_size,
    crop_pct, filter, channels, threads, skip_bad, max_pixels, normalize): what the image readers use for an
    option that is not given."""
    return _image_options_dict(_c.deit_image_options_init())


def read_image(path, **image_options):
    """One image file as ``Dataset.open_folder`` would store it with the same options: a uint8 numpy
    array channels x image_size x image_size (e.g. for ``predict(img[None], layout="nchw")``;
    ``**model.image_options`` prepares it as the model's training images were)."""
    o = _image_options(image_options, "read_image")
    shape = (o.channels, o.image_size, o.image_size)
    # An invalid size gets an empty buffer: libdeit then reports the bad option.
    out = np.empty(shape if min(shape) > 0 else 0, dtype=np.uint8)
    _c.deit_image_read_file(os.fspath(path), o, out)
    return out


def _class_names(name_at, num_classes):
    """The class names, or [] when the data set (or the model's data set) had none."""
    names = [name_at(i) for i in range(num_classes)]
    return names if any(names) else []


def _model_image_options(get, handle):
    try:
        return _image_options_dict(get(handle))
    except Error as e:
        if e.status == _c.DEIT_E_STATE:  # not trained on image files
            return None
        raise


def _validation(o, val, best_path, what):
    """Set the options' val and best_path.  The caller holds the Dataset ``val`` (and so its C handle)
    until the C call that points to it has returned."""
    if val is not None:
        if not isinstance(val, Dataset):
            raise TypeError(f"{what}: val must be a deit.Dataset or None, got {type(val).__name__}")
        o.val = val._h
    if best_path is not None:
        o.best_path = os.fspath(best_path)


def augment_defaults():
    """dict of the deit_augment_options fields as deit_augment_options_init gives them (crop_padding,
    resized_crop_scale, hflip, erase_prob, mixup_alpha, cutmix_alpha): what ``augment=True`` uses."""
    return _as_dict(_c.deit_augment_options_init())


def _progress_adapter(progress):
    if progress is None:
        return None
    if not callable(progress):
        raise TypeError("progress must be callable (it receives a deit.Progress) or None")

    def call(d):
        d["phase"] = _PHASES.get(d["phase"], d["phase"])
        return progress(Progress(**d))

    return call


def _images(images, layout):
    """(contiguous array, layout) for the C typemap; copies only when the input is not usable as is."""
    a = np.asarray(images)
    if a.dtype == np.uint8:
        lay = _enum("layout", layout if layout is not None else "nhwc")
    elif a.dtype.kind == "f":
        if layout is not None and _enum("layout", layout) != _c.DEIT_LAYOUT_NCHW:
            raise ValueError("float images must be NCHW (only uint8 may be NHWC)")
        a = a.astype(np.float32, copy=False)
        lay = _c.DEIT_LAYOUT_NCHW
    else:
        raise TypeError(f"images: expected uint8 or float32, got {a.dtype}")
    if a.ndim not in (3, 4):
        raise ValueError(f"images: expected N x H x W or 4 dimensions, got shape {a.shape}")
    return np.ascontiguousarray(a), lay


class _Handle:
    """Owns one C handle; freed exactly once."""

    _free = None

    def __init__(self, ptr):
        self._ptr = ptr

    @property
    def _h(self):
        if self._ptr is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    @property
    def closed(self):
        return self._ptr is None

    def close(self):
        """Free the C handle now (idempotent)."""
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr is not None:
            type(self)._free(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Dataset(_Handle):
    """Images with labels: IDX (MNIST family), CIFAR binaries, image files, or numpy arrays."""

    _free = staticmethod(_c.deit_dataset_free)

    @classmethod
    def open_dir(cls, path, split="train"):
        """An IDX pair, CIFAR-10 or CIFAR-100 directory, or image class folders (open_folder with the
        defaults); split is "train" or "test"."""
        return cls(_c.deit_dataset_open_dir(str(path), _enum("split", split)))

    @classmethod
    def open_folder(cls, path, split="train", **image_options):
        """Image files: a folder of class folders (torchvision's ImageFolder; classes sorted by name
        are the labels), a folder holding train/ and val/ (or test/) such folders (split picks one),
        or a "path,label" CSV list file.  Each image becomes Resize(floor(image_size / crop_pct)) +
        CenterCrop(image_size) of torchvision on PIL images; image_options are deit_image_options
        fields (see the module doc; e.g. image_size=160, filter="bilinear", skip_bad=True)."""
        o = _image_options(image_options, "Dataset.open_folder")
        return cls(_c.deit_dataset_open_folder(os.fspath(path), _enum("split", split), o))

    @classmethod
    def open(cls, path, split="train", **image_options):
        """Whatever path holds: a .csv list file (as open_folder), or a directory as open_dir reads it
        (IDX, CIFAR, else image class folders), image files made with image_options.  What deitctl's
        --data accepts."""
        o = _image_options(image_options, "Dataset.open")
        return cls(_c.deit_dataset_open(os.fspath(path), _enum("split", split), o))

    @classmethod
    def open_idx(cls, images_path, labels_path):
        return cls(_c.deit_dataset_open_idx(str(images_path), str(labels_path)))

    @classmethod
    def open_cifar(cls, paths, num_classes=10):
        return cls(_c.deit_dataset_open_cifar([str(p) for p in paths], num_classes))

    @classmethod
    def from_memory(cls, images, labels, num_classes=0, layout=None):
        """Copy images (see the module doc) and int32/int64 labels; num_classes 0 = max label + 1."""
        labels = np.asarray(labels)
        if labels.dtype != np.int64:
            labels = labels.astype(np.int32, copy=False)
        labels = np.ascontiguousarray(labels.reshape(-1))
        return cls(_c.deit_dataset_from_memory(_images(images, layout), labels, num_classes))

    @property
    def info(self):
        """dict: count, channels, height, width, num_classes, dtype ("uint8"/"float32"), format
        ("idx", "cifar10", "cifar100", "memory", "folder") and skipped (unreadable image files left out
        with skip_bad)."""
        i = _c.deit_dataset_get_info(self._h)
        d = _as_dict(i)
        d["dtype"] = "uint8" if i.dtype == _c.DEIT_DTYPE_U8 else "float32"
        d["format"] = {_c.DEIT_FORMAT_IDX: "idx", _c.DEIT_FORMAT_CIFAR10: "cifar10",
                       _c.DEIT_FORMAT_CIFAR100: "cifar100", _c.DEIT_FORMAT_MEMORY: "memory",
                       _c.DEIT_FORMAT_FOLDER: "folder"}.get(i.format, i.format)
        return d

    def __len__(self):
        return self.info["count"]

    @property
    def num_classes(self):
        return self.info["num_classes"]

    @property
    def class_names(self):
        """The class folder names (or list-file labels) by label; [] for data sets without names."""
        return _class_names(lambda i: _c.deit_py_dataset_class_name(self._h, i), self.num_classes)

    def label_histogram(self):
        counts = np.zeros(self.num_classes, dtype=np.int64)
        _c.deit_dataset_label_histogram(self._h, counts)
        return counts

    def subset_fraction(self, fraction, seed=0):
        return Dataset(_c.deit_dataset_subset_fraction(self._h, fraction, seed))

    def subset_first(self, n):
        return Dataset(_c.deit_dataset_subset_first(self._h, n))

    def split(self, fraction, seed=0):
        """(first, rest): the subset_fraction(fraction, seed) subset and the other images, disjoint and
        both non-empty, e.g. a validation set held out of a training set."""
        first, rest = _c.deit_dataset_split(self._h, fraction, seed)
        return Dataset(first), Dataset(rest)

    def images(self, start=0, count=None):
        """Images [start, start + count) as stored: N x C x H x W, uint8 or float32."""
        i = self.info
        count = i["count"] - start if count is None else count
        out = np.empty((max(count, 0), i["channels"], i["height"], i["width"]), dtype=i["dtype"])
        _c.deit_dataset_copy_images(self._h, start, count, out)
        return out

    def labels(self, start=0, count=None):
        count = len(self) - start if count is None else count
        out = np.empty(max(count, 0), dtype=np.int32)
        _c.deit_dataset_copy_labels(self._h, start, count, out)
        return out


def _eval_result(r, num_classes, confusion):
    return EvalResult(r.count, r.accuracy, r.loss, r.accuracy_cls, r.accuracy_dist,
                      confusion.reshape(num_classes, num_classes) if confusion is not None else None)


class Teacher(_Handle):
    """A torchvision ResNet (resnet18 ... resnet152) or a TorchScript CNN."""

    _free = staticmethod(_c.deit_teacher_free)

    def __init__(self, arch="resnet50", num_classes=10, *, _ptr=None):
        super().__init__(_ptr if _ptr is not None else _c.deit_teacher_create(arch, num_classes))

    @classmethod
    def load(cls, path):
        """A checkpoint written by save()."""
        return cls(_ptr=_c.deit_teacher_load(str(path)))

    @classmethod
    def load_torchscript(cls, path, num_classes):
        return cls(_ptr=_c.deit_teacher_load_torchscript(str(path), num_classes))

    def load_weights(self, safetensors_path):
        """torchvision/timm ResNet weights; a differing fc is replaced."""
        _c.deit_teacher_load_weights(self._h, str(safetensors_path))

    def save(self, path):
        _c.deit_teacher_save(self._h, str(path))

    def to(self, device):
        """Move to "cpu", "cuda", "cuda:N" or "auto"; returns self."""
        _c.deit_teacher_set_device(self._h, device)
        return self

    @property
    def arch(self):
        return _c.deit_teacher_get_arch(self._h)

    @property
    def num_classes(self):
        return _c.deit_teacher_num_classes(self._h)

    @property
    def class_names(self):
        """The class names of the data set it was trained on (kept in its checkpoint); [] when none."""
        return _class_names(lambda i: _c.deit_py_teacher_class_name(self._h, i), self.num_classes)

    @property
    def image_options(self):
        """dict of the deit_image_options its training images were made with (for
        ``read_image(path, **teacher.image_options)``), None when it was not trained on image files."""
        return _model_image_options(_c.deit_teacher_image_options, self._h)

    def train(self, dataset, progress=None, device=None, augment=None, val=None, best_path=None, **options):
        """Fine-tune; options are deit_teacher_train_options fields (epochs, batch_size, lr, schedule,
        warmup_epochs, label_smoothing, clip_grad, ...); augment, val and best_path as in the module doc."""
        group = options.pop("group", None)
        aug = _augment_options(augment, "Teacher.train")
        o = _set_fields(_c.deit_teacher_train_options_init(), options, "Teacher.train")
        if group is not None:
            o.group = group._h
        if aug is not None:
            o.augment = aug  # aug (held here) outlives the call
        _validation(o, val, best_path, "Teacher.train")  # val (held here) outlives the call
        _c.deit_py_teacher_train(self._h, dataset._h, o, device, _progress_adapter(progress))

    def evaluate(self, dataset, confusion=False, group=None):
        """Accuracy and loss; with a Group each rank evaluates its share and all get the whole result."""
        n = self.num_classes
        cm = np.zeros(n * n, dtype=np.int64) if confusion else None
        if group is not None:
            return _eval_result(_c.deit_teacher_evaluate_group(self._h, dataset._h, group._h, cm), n, cm)
        return _eval_result(_c.deit_teacher_evaluate(self._h, dataset._h, cm), n, cm)

    def predict(self, images, layout=None):
        """float32 logits, N x num_classes."""
        arr = _images(images, layout)
        out = np.empty((arr[0].shape[0], self.num_classes), dtype=np.float32)
        _c.deit_teacher_predict(self._h, arr, out)
        return out

    def classify(self, images, layout=None):
        """int64 classes (argmax of the logits)."""
        return self.predict(images, layout).argmax(axis=1).astype(np.int64)


class Student(_Handle):
    """The DeiT student; Student("seed", 10) is the reference notebook's model.

    Keyword arguments override fields of the preset's deit_student_config (embed_dim, depth, ...).
    """

    _free = staticmethod(_c.deit_student_free)

    def __init__(self, preset="seed", num_classes=10, seed=0, *, _ptr=None, **config):
        if _ptr is None:
            cfg = _set_fields(_c.deit_student_config_init(preset, num_classes), config, "Student")
            _ptr = _c.deit_student_create(cfg, seed)
        elif config:
            raise TypeError("Student: configuration fields apply to new students only")
        super().__init__(_ptr)

    @classmethod
    def load(cls, path):
        return cls(_ptr=_c.deit_student_load(str(path)))

    @classmethod
    def from_pretrained(cls, path, num_classes=None, seed=0, **config):
        """A student fine-tunable from pretrained weights: a safetensors state dict under timm's names
        (deit_*_distilled_patch16_224, deit_*/vit_* patch16 layouts) or a libdeit student checkpoint.
        The architecture is read from the tensors (pretrained_config); num_classes and keyword fields
        (img_size, in_channels, ...) change it for the new task: heads of another class count start
        afresh, pos_embed is resampled to another img_size (deit_student_load_weights)."""
        cfg = _c.deit_student_config_from_weights(str(path))
        if num_classes is not None:
            cfg.num_classes = num_classes
        cfg = _set_fields(cfg, config, "Student.from_pretrained")
        s = cls(_ptr=_c.deit_student_create(cfg, seed))
        s.load_weights(path)
        return s

    @staticmethod
    def pretrained_config(path):
        """The architecture a weights file holds (deit_student_config_from_weights), as a dict."""
        return _as_dict(_c.deit_student_config_from_weights(str(path)))

    def load_weights(self, path):
        """Copy pretrained weights into this student, fitted to it (deit_student_load_weights)."""
        _c.deit_student_load_weights(self._h, str(path))

    def save(self, path):
        _c.deit_student_save(self._h, str(path))

    def export_onnx(self, path, head="avg"):
        """Write the inference of a head ("avg", "cls", "dist") as an ONNX model (opset 17): input "images"
        float32 [batch, C, H, W] with pixels / 255, output "logits" [batch, num_classes]."""
        o = _c.deit_onnx_options_init()
        o.head = _enum("head", head)
        _c.deit_student_export_onnx(self._h, str(path), o)

    def to(self, device):
        _c.deit_student_set_device(self._h, device)
        return self

    @property
    def config(self):
        """dict of the deit_student_config fields."""
        return _as_dict(_c.deit_student_get_config(self._h))

    @property
    def num_classes(self):
        return _c.deit_student_get_config(self._h).num_classes

    @property
    def num_params(self):
        return _c.deit_student_num_params(self._h)

    @property
    def class_names(self):
        """The class names of the data set it was distilled on (kept in its checkpoint); [] when none."""
        return _class_names(lambda i: _c.deit_py_student_class_name(self._h, i), self.num_classes)

    @property
    def image_options(self):
        """dict of the deit_image_options its training images were made with, None when it was not
        trained on image files."""
        return _model_image_options(_c.deit_student_image_options, self._h)

    def distill(self, teacher, dataset, progress=None, device=None, augment=None, val=None, best_path=None,
                **options):
        """Train against the frozen teacher (None with distillation="none"); options are
        deit_distill_options fields (epochs, batch_size, lr, alpha, temperature, distillation,
        clip_grad, drop_path, ema_decay, ...); augment, val and best_path as in the module doc."""
        group = options.pop("group", None)
        aug = _augment_options(augment, "Student.distill")
        o = _set_fields(_c.deit_distill_options_init(), options, "Student.distill")
        if group is not None:
            o.group = group._h
        if aug is not None:
            o.augment = aug  # aug (held here) outlives the call
        _validation(o, val, best_path, "Student.distill")  # val (held here) outlives the call
        t = teacher._h if teacher is not None else None
        _c.deit_py_distill(self._h, t, dataset._h, o, device, _progress_adapter(progress))

    def evaluate(self, dataset, confusion=False, group=None):
        """Accuracy of all heads; with a Group each rank evaluates its share and all get the whole result."""
        n = self.num_classes
        cm = np.zeros(n * n, dtype=np.int64) if confusion else None
        if group is not None:
            return _eval_result(_c.deit_student_evaluate_group(self._h, dataset._h, group._h, cm), n, cm)
        return _eval_result(_c.deit_student_evaluate(self._h, dataset._h, cm), n, cm)

    def predict(self, images, head="avg", layout=None):
        """float32 logits of a head ("avg", "cls", "dist"), N x num_classes."""
        arr = _images(images, layout)
        out = np.empty((arr[0].shape[0], self.num_classes), dtype=np.float32)
        _c.deit_student_predict(self._h, arr, _enum("head", head), out)
        return out

    def classify(self, images, head="avg", layout=None):
        """int64 predicted classes of a head."""
        arr = _images(images, layout)
        out = np.empty(arr[0].shape[0], dtype=np.int32)
        _c.deit_student_classify(self._h, arr, _enum("head", head), out)
        return out.astype(np.int64)


def version():
    """Version of the libdeit actually loaded, "MAJOR.MINOR.PATCH"."""
    return _c.deit_version_string()


def set_num_threads(n):
    """CPU threads for all work (0 = number of cores)."""
    _c.deit_set_num_threads(n)


def get_num_threads():
    return _c.deit_get_num_threads()


def set_log_level(level):
    """"debug", "info", "warn", "error" or "off" (default "warn"); lines go to stderr."""
    _c.deit_set_log_level(_enum("level", level))


def runtime_init(**settings):
    """Choose libdeit's process-wide settings (``num_threads``, ``single_threaded_blas``, ``tune_malloc``;
    see deit.h) before any other libdeit work; raises (DEIT_E_STATE) once they have been applied."""
    _c.deit_runtime_init(_set_fields(_c.deit_runtime_options_init(), settings, "runtime_init"))


def runtime_settings():
    """(settings dict, applied): the process-wide settings in effect, or the defaults still to be applied."""
    options, applied = _c.deit_runtime_get()
    return _as_dict(options), bool(applied)


def _names(name_at):
    out = []
    while name_at(len(out)) is not None:
        out.append(name_at(len(out)))
    return out


def teacher_archs():
    """The teacher architectures libdeit builds: ["resnet18", ...]."""
    return _names(_c.deit_teacher_arch_name)


def student_presets():
    """The student presets: ["seed", "deit-tiny", "deit-small", "deit-base", "small-image"]."""
    return _names(_c.deit_student_preset_name)


def libtorch_version():
    """Version of the LibTorch libdeit was compiled against, e.g. "2.11.0"."""
    return _c.deit_libtorch_version()


def cuda_compiled():
    """Whether libdeit was compiled against a CUDA-enabled LibTorch (a device may still be absent)."""
    return bool(_c.deit_cuda_compiled())


def cuda_available():
    return bool(_c.deit_cuda_available())


def cuda_device_count():
    return _c.deit_cuda_device_count()


def resolve_device(spec="auto"):
    """The device a spec resolves to, "cpu" or "cuda:N"."""
    return _c.deit_resolve_device(spec)


def describe_checkpoint(path):
    """A checkpoint's kind, configuration and tensors, as a dict."""
    return json.loads(_c.deit_py_checkpoint_describe(str(path)))


def checkpoint_kind(path):
    """"teacher" or "student": which load() opens a libdeit checkpoint, read from its header alone."""
    kind = _c.deit_checkpoint_read_kind(str(path))
    return "teacher" if kind == _c.DEIT_CHECKPOINT_TEACHER else "student"


def distillation_loss(cls_logits, dist_logits, teacher_logits, labels, distillation="soft", alpha=0.5,
                      temperature=2.0, label_smoothing=0.0):
    """(loss, loss_cls, loss_dist) for N x C logits and N labels, as training computes them."""
    cls_logits = np.ascontiguousarray(cls_logits, dtype=np.float32)
    n, c = cls_logits.shape
    dist_logits = np.ascontiguousarray(dist_logits, dtype=np.float32)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if teacher_logits is not None:
        teacher_logits = np.ascontiguousarray(teacher_logits, dtype=np.float32)
    for name, a, shape in (("dist_logits", dist_logits, (n, c)), ("labels", labels, (n,)),
                           ("teacher_logits", teacher_logits, (n, c))):
        if a is not None and a.shape != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {a.shape}")
    return tuple(_c.deit_distillation_loss(cls_logits, dist_logits, teacher_logits, labels, n, c,
                                           _enum("distillation", distillation), alpha, temperature,
                                           label_smoothing))


class Group(_Handle):
    """A data-parallel process group (c10d; docs/DISTRIBUTED.md).  Pass it as ``group=`` to
    Teacher.train, Student.distill and evaluate; batch_size is then per rank.

    Group.from_env() joins the group torchrun (or ``deitctl launch``) describes; Group(rank=..,
    world_size=.., master_addr=.., master_port=.., backend=.., timeout_seconds=..) an explicit one.
    Joining blocks until every rank has joined (or the timeout)."""

    _free = staticmethod(_c.deit_group_free)

    def __init__(self, *, _options=None, **options):
        o = _options if _options is not None else _set_fields(_c.deit_group_options_init(), options, "Group")
        super().__init__(_c.deit_group_create(o))

    @classmethod
    def from_env(cls):
        return cls(_options=_c.deit_py_group_options_from_env())

    @property
    def rank(self):
        return _c.deit_group_rank(self._h)[0]

    @property
    def world_size(self):
        return _c.deit_group_rank(self._h)[1]

    def barrier(self):
        _c.deit_group_barrier(self._h)
