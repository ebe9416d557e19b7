/* SWIG interface of the low-level module deit.deit_c (the proxy deit_c.py over
 * the compiled extension deit._deit_c): the C API of
 * include/deit/deit.h as it is (the header is %included, so new functions
 * appear here without edits), plus typemaps that make it usable from Python:
 *  - a failed deit_status raises deit.Error(status, deit_last_error()) at once,
 *    before any other libdeit call on the thread can replace the message;
 *  - `T **out` handles come back as return values;
 *  - images are numpy arrays (uint8 NHWC/NCHW, float32 NCHW), output buffers
 *    are caller numpy arrays written in place (no copy);
 *  - training takes a Python callable as progress callback (helpers below);
 *  - class names come back as str of any length (deit_py_*_class_name).
 * The GIL is released around every C call (-threads) and taken again in the
 * progress trampoline.  The Pythonic layer is deit/__init__.py. */
%module(package = "deit", threads = "1") deit_c

%{
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL deit_py_ARRAY_API
#include <numpy/arrayobject.h>
#include <stddef.h>
#include <string.h>

#include <deit/deit.h>
%}

%init %{
  if (_import_array() < 0) {
    PyErr_Print();
    PyErr_SetString(PyExc_ImportError, "deit._deit_c: numpy.core.multiarray failed to import");
    return NULL;
  }
%}

%include <stdint.i>
%include <typemaps.i>

/* ---- errors ------------------------------------------------------------ */
%{
/* deit.Error, registered by the Python layer; RuntimeError until then. */
static PyObject *deit_py_error_class = NULL;

/* Raise deit.Error(status, message) for a failed call; returns NULL. */
static PyObject *deit_py_raise(deit_status status) {
  const char *message = deit_last_error();
  if (message[0] == '\0') message = deit_status_str(status);
  PyObject *cls = deit_py_error_class ? deit_py_error_class : PyExc_RuntimeError;
  PyObject *args = Py_BuildValue("(is)", (int)status, message);
  if (args) {
    PyErr_SetObject(cls, args);
    Py_DECREF(args);
  }
  return NULL;
}
%}

%inline %{
/* Called once by deit/__init__.py with its Error class. */
static PyObject *deit_py_set_error_class(PyObject *cls) {
  if (!PyType_Check(cls) || !PyObject_IsSubclass(cls, PyExc_Exception)) {
    PyErr_SetString(PyExc_TypeError, "deit_py_set_error_class: expected an Exception subclass");
    return NULL;
  }
  Py_XDECREF(deit_py_error_class);
  Py_INCREF(cls);
  deit_py_error_class = cls;
  Py_RETURN_NONE;
}
%}
%nothread deit_py_set_error_class;

/* Status codes raise; a successful call returns None (or its outputs). */
%typemap(out) deit_status {
  if ($1 != DEIT_OK) {
    deit_py_raise($1);
    SWIG_fail;
  }
  $result = SWIG_Py_Void();
}
/* deit_status_str takes a status as a plain integer. */
%typemap(in) deit_status status {
  long v = PyLong_AsLong($input);
  if (v == -1 && PyErr_Occurred()) SWIG_fail;
  $1 = (deit_status)v;
}
%typemap(typecheck) deit_status status = int;

/* ---- handles through out-parameters ------------------------------------ */
%define DEIT_OUT_HANDLE(TYPE)
%typemap(in, numinputs = 0) TYPE **out (TYPE *handle = NULL) { $1 = &handle; }
%typemap(argout) TYPE **out {
  $result = SWIG_Python_AppendOutput($result, SWIG_NewPointerObj(SWIG_as_voidptr(*$1), $*1_descriptor, 0));
}
%enddef
DEIT_OUT_HANDLE(deit_dataset)
DEIT_OUT_HANDLE(deit_teacher)
DEIT_OUT_HANDLE(deit_student)
DEIT_OUT_HANDLE(deit_group)
/* deit_dataset_split's two new data sets come back as [first, rest]. */
%apply deit_dataset **out { deit_dataset **first, deit_dataset **rest };

/* Scalar out-parameters. */
%typemap(in, numinputs = 0) int32_t *out (int32_t v = 0), int64_t *out (int64_t v = 0),
    deit_checkpoint_kind *out (deit_checkpoint_kind v = DEIT_CHECKPOINT_TEACHER) { $1 = &v; }
%typemap(argout) int32_t *out, int64_t *out, deit_checkpoint_kind *out {
  $result = SWIG_Python_AppendOutput($result, PyLong_FromLongLong((long long)*$1));
}

/* Short strings written into a caller buffer (device name, architecture). */
%typemap(in, numinputs = 0) (char *buf, size_t capacity) (char text[256]) {
  text[0] = '\0';
  $1 = text;
  $2 = sizeof text;
}
%typemap(argout) (char *buf, size_t capacity) {
  $result = SWIG_Python_AppendOutput($result, PyUnicode_FromString($1));
}

/* A list of file names for deit_dataset_open_cifar. */
%typemap(in) (const char *const *paths, size_t n_paths) (PyObject *seq = NULL, const char **names = NULL) {
  seq = PySequence_Fast($input, "paths must be a sequence of str");
  if (!seq) SWIG_fail;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  names = (const char **)calloc(n > 0 ? (size_t)n : 1, sizeof(char *));
  if (!names) {
    PyErr_NoMemory();
    SWIG_fail;
  }
  for (Py_ssize_t i = 0; i < n; ++i) {
    names[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
    if (!names[i]) SWIG_fail;
  }
  $1 = ($1_ltype)names;
  $2 = (size_t)n;
}
%typemap(freearg) (const char *const *paths, size_t n_paths) {
  free((void *)names$argnum);
  Py_XDECREF(seq$argnum);
}

/* ---- numpy arrays ------------------------------------------------------ */
%{
/* A C-contiguous, aligned array of `type` (a new reference, copying only if
 * obj is not one already); NULL with TypeError/ValueError otherwise. */
static PyArrayObject *deit_py_input_array(PyObject *obj, int type, const char *what) {
  if (!PyArray_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "%s: expected a numpy array, got %s", what, Py_TYPE(obj)->tp_name);
    return NULL;
  }
  if (PyArray_TYPE((PyArrayObject *)obj) != type) {
    PyArray_Descr *want = PyArray_DescrFromType(type);
    PyErr_Format(PyExc_TypeError, "%s: expected dtype %c%d, got %c%d", what, want->kind, (int)want->elsize,
                 PyArray_DESCR((PyArrayObject *)obj)->kind, (int)PyArray_ITEMSIZE((PyArrayObject *)obj));
    Py_DECREF(want);
    return NULL;
  }
  return (PyArrayObject *)PyArray_FROM_OTF(obj, type, NPY_ARRAY_IN_ARRAY);
}

/* A writable output array of `type` that the C call fills in place: no copy
 * is made, so it must already be C-contiguous. */
static PyArrayObject *deit_py_output_array(PyObject *obj, int type, const char *what) {
  if (!PyArray_Check(obj) || PyArray_TYPE((PyArrayObject *)obj) != type ||
      !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)obj) || !PyArray_ISWRITEABLE((PyArrayObject *)obj) ||
      !PyArray_ISALIGNED((PyArrayObject *)obj)) {
    PyArray_Descr *want = PyArray_DescrFromType(type);
    PyErr_Format(PyExc_TypeError, "%s: expected a writable C-contiguous numpy array of %c%d", what, want->kind,
                 (int)want->elsize);
    Py_DECREF(want);
    return NULL;
  }
  Py_INCREF(obj);
  return (PyArrayObject *)obj;
}

/* Images: an array, or (array, layout).  uint8 is NHWC unless the layout
 * says DEIT_LAYOUT_NCHW; float32 is NCHW.  A 3-D array is N x H x W gray. */
static PyArrayObject *deit_py_images(PyObject *obj, deit_images *im) {
  int layout = -1;
  if (PyTuple_Check(obj)) {
    if (PyTuple_GET_SIZE(obj) != 2) {
      PyErr_SetString(PyExc_TypeError, "images: expected an array or (array, layout)");
      return NULL;
    }
    layout = (int)PyLong_AsLong(PyTuple_GET_ITEM(obj, 1));
    if (layout == -1 && PyErr_Occurred()) return NULL;
    obj = PyTuple_GET_ITEM(obj, 0);
  }
  if (!PyArray_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "images: expected a numpy array, got %s", Py_TYPE(obj)->tp_name);
    return NULL;
  }
  int type = PyArray_TYPE((PyArrayObject *)obj);
  if (type != NPY_UINT8 && type != NPY_FLOAT32) {
    PyErr_SetString(PyExc_TypeError, "images: expected dtype uint8 (NHWC or NCHW) or float32 (NCHW)");
    return NULL;
  }
  PyArrayObject *a = deit_py_input_array(obj, type, "images");
  if (!a) return NULL;
  const int nd = PyArray_NDIM(a);
  const npy_intp *d = PyArray_DIMS(a);
  if (nd != 3 && nd != 4) {
    PyErr_Format(PyExc_ValueError, "images: expected 3 (N, H, W) or 4 dimensions, got %d", nd);
    Py_DECREF(a);
    return NULL;
  }
  if (layout < 0) layout = type == NPY_UINT8 ? DEIT_LAYOUT_NHWC : DEIT_LAYOUT_NCHW;
  im->data = PyArray_DATA(a);
  im->dtype = type == NPY_UINT8 ? DEIT_DTYPE_U8 : DEIT_DTYPE_F32;
  im->layout = (deit_layout)layout;
  im->count = (int64_t)d[0];
  if (nd == 3) {
    im->layout = DEIT_LAYOUT_NCHW; /* one channel: both layouts are the same bytes */
    im->channels = 1;
    im->height = (int32_t)d[1];
    im->width = (int32_t)d[2];
  } else if (layout == DEIT_LAYOUT_NHWC) {
    im->height = (int32_t)d[1];
    im->width = (int32_t)d[2];
    im->channels = (int32_t)d[3];
  } else {
    im->channels = (int32_t)d[1];
    im->height = (int32_t)d[2];
    im->width = (int32_t)d[3];
  }
  for (int i = 1; i < nd; ++i)
    if (d[i] > INT32_MAX) {
      PyErr_SetString(PyExc_ValueError, "images: a dimension does not fit in int32");
      Py_DECREF(a);
      return NULL;
    }
  return a;
}
%}

%typemap(in) const deit_images *images (deit_images im, PyArrayObject *array = NULL) {
  array = deit_py_images($input, &im);
  if (!array) SWIG_fail;
  $1 = &im;
}
%typemap(freearg) const deit_images *images { Py_XDECREF(array$argnum); }

/* Typed input pointers (no length of their own: the Python layer checks
 * shapes before calling). */
%define DEIT_IN_ARRAY(CTYPE, NAME, NPYTYPE)
%typemap(in) const CTYPE *NAME (PyArrayObject *array = NULL) {
  if ($input == Py_None) {
    $1 = NULL;
  } else {
    array = deit_py_input_array($input, NPYTYPE, "$1_name");
    if (!array) SWIG_fail;
    $1 = (CTYPE *)PyArray_DATA(array);
  }
}
%typemap(freearg) const CTYPE *NAME { Py_XDECREF(array$argnum); }
%enddef
DEIT_IN_ARRAY(float, cls_logits, NPY_FLOAT32)
DEIT_IN_ARRAY(float, dist_logits, NPY_FLOAT32)
DEIT_IN_ARRAY(float, teacher_logits, NPY_FLOAT32)
DEIT_IN_ARRAY(int64_t, labels, NPY_INT64)

/* Labels for deit_dataset_from_memory: int32 or int64, one per image. */
%typemap(in) (const void *labels, deit_dtype label_dtype) (PyArrayObject *array = NULL) {
  int type = PyArray_Check($input) ? PyArray_TYPE((PyArrayObject *)$input) : NPY_INT32;
  if (type != NPY_INT64) type = NPY_INT32;
  array = deit_py_input_array($input, type, "labels");
  if (!array) SWIG_fail;
  $1 = PyArray_DATA(array);
  $2 = type == NPY_INT64 ? DEIT_DTYPE_I64 : DEIT_DTYPE_I32;
}
%typemap(freearg) (const void *labels, deit_dtype label_dtype) { Py_XDECREF(array$argnum); }
/* The C call reads images->count labels: make sure there are that many. */
%typemap(check) (const void *labels, deit_dtype label_dtype) {
  if (PyArray_SIZE(array$argnum) != (npy_intp)arg1->count) {
    PyErr_Format(PyExc_ValueError, "labels: %lld labels for %lld images", (long long)PyArray_SIZE(array$argnum),
                 (long long)arg1->count);
    SWIG_fail;
  }
}

/* Output buffers: (array, capacity in elements or bytes) from one array. */
%define DEIT_OUT_ARRAY(CTYPE, NAME, CAP, NPYTYPE, BYTES)
%typemap(in) (CTYPE *NAME, size_t CAP) (PyArrayObject *array = NULL) {
  if ($input == Py_None) {
    $1 = NULL;
    $2 = 0;
  } else {
    array = deit_py_output_array($input, NPYTYPE, "$1_name");
    if (!array) SWIG_fail;
    $1 = (CTYPE *)PyArray_DATA(array);
    $2 = BYTES ? (size_t)PyArray_NBYTES(array) : (size_t)PyArray_SIZE(array);
  }
}
%typemap(freearg) (CTYPE *NAME, size_t CAP) { Py_XDECREF(array$argnum); }
%enddef
DEIT_OUT_ARRAY(float, logits, capacity, NPY_FLOAT32, 0)
DEIT_OUT_ARRAY(int32_t, classes, capacity, NPY_INT32, 0)
DEIT_OUT_ARRAY(int64_t, counts, capacity, NPY_INT64, 0)
DEIT_OUT_ARRAY(int32_t, buf, capacity, NPY_INT32, 0)
DEIT_OUT_ARRAY(int64_t, confusion, confusion_capacity, NPY_INT64, 0)
/* deit_image_read_file: one C x S x S uint8 image (capacity in bytes). */
DEIT_OUT_ARRAY(uint8_t, buf, capacity_bytes, NPY_UINT8, 1)

/* deit_dataset_copy_images writes uint8 or float32 as the data set stores. */
%typemap(in) (void *buf, size_t capacity_bytes) (PyArrayObject *array = NULL) {
  int type = PyArray_Check($input) ? PyArray_TYPE((PyArrayObject *)$input) : NPY_UINT8;
  array = deit_py_output_array($input, type == NPY_FLOAT32 ? NPY_FLOAT32 : NPY_UINT8, "buf");
  if (!array) SWIG_fail;
  $1 = PyArray_DATA(array);
  $2 = (size_t)PyArray_NBYTES(array);
}
%typemap(freearg) (void *buf, size_t capacity_bytes) { Py_XDECREF(array$argnum); }

/* Loss outputs of deit_distillation_loss. */
%apply double *OUTPUT { double *loss, double *loss_cls, double *loss_dist };

/* Result structs are filled by the call: create and return them. */
%define DEIT_OUT_STRUCT(TYPE, NAME)
%typemap(in, numinputs = 0) TYPE *NAME (TYPE *value = NULL) {
  value = (TYPE *)calloc(1, sizeof(TYPE));
  if (!value) {
    PyErr_NoMemory();
    SWIG_fail;
  }
  value->struct_size = sizeof(TYPE);
  $1 = value;
}
%typemap(argout) TYPE *NAME {
  $result = SWIG_Python_AppendOutput($result, SWIG_NewPointerObj(SWIG_as_voidptr($1), $1_descriptor, SWIG_POINTER_OWN));
  value$argnum = NULL;
}
%typemap(freearg) TYPE *NAME { free(value$argnum); }
/* SWIG would match the const inputs (create, train) to the above too. */
%typemap(in) const TYPE *NAME = SWIGTYPE *;
%typemap(argout) const TYPE *NAME "";
%typemap(freearg) const TYPE *NAME "";
%enddef
DEIT_OUT_STRUCT(deit_dataset_info, info)
DEIT_OUT_STRUCT(deit_eval_result, result)
/* Options and configurations come back from their init functions; the
 * const versions taken by the other calls are plain proxies. */
DEIT_OUT_STRUCT(deit_augment_options, options)
DEIT_OUT_STRUCT(deit_image_options, options)
DEIT_OUT_STRUCT(deit_teacher_train_options, options)
DEIT_OUT_STRUCT(deit_distill_options, options)
DEIT_OUT_STRUCT(deit_student_config, config)
DEIT_OUT_STRUCT(deit_group_options, options)
DEIT_OUT_STRUCT(deit_runtime_options, options)
DEIT_OUT_STRUCT(deit_onnx_options, options)
%apply int *OUTPUT { int *applied };
%apply int32_t *out { int32_t *rank, int32_t *world_size };

/* ---- what Python does not call directly -------------------------------- */
/* The log callback is C-only (it may run on any thread); levels still work. */
%ignore deit_set_log_callback;
/* Training takes a Python callable: see deit_py_*_train below. */
%ignore deit_teacher_train;
%ignore deit_distill;
%ignore deit_teacher_train_options::progress;
%ignore deit_teacher_train_options::user_data;
%ignore deit_teacher_train_options::device;
%ignore deit_distill_options::progress;
%ignore deit_distill_options::user_data;
%ignore deit_distill_options::device;
/* In-out struct: wrapped as deit_py_group_options_from_env. */
%ignore deit_group_options_from_env;
/* Two-step size query: wrapped as deit_py_checkpoint_describe. */
%ignore deit_checkpoint_describe;
/* Class names may be longer than the fixed buffer of (char *buf, size_t capacity): wrapped as
 * deit_py_*_class_name, which grow the buffer. */
%ignore deit_dataset_class_name;
%ignore deit_teacher_class_name;
%ignore deit_student_class_name;
/* The *_init names are macros over *_init_sized (deit.h): Python gets them as
 * functions below, whose C wrappers expand the macros with the wrapper's sizeof. */
%ignore deit_group_options_init_sized;
%ignore deit_augment_options_init_sized;
%ignore deit_image_options_init_sized;
%ignore deit_teacher_train_options_init_sized;
%ignore deit_distill_options_init_sized;
%ignore deit_student_config_init_sized;
%ignore deit_student_config_from_weights_sized;
%ignore deit_runtime_options_init_sized;
%ignore deit_onnx_options_init_sized;
/* The header's export macro means nothing to SWIG. */
#define DEIT_API

%include <deit/deit.h>

#undef deit_group_options_init
#undef deit_augment_options_init
#undef deit_image_options_init
#undef deit_teacher_train_options_init
#undef deit_distill_options_init
#undef deit_student_config_init
#undef deit_student_config_from_weights
#undef deit_runtime_options_init
#undef deit_onnx_options_init
deit_status deit_runtime_options_init(deit_runtime_options *options);
deit_status deit_onnx_options_init(deit_onnx_options *options);
deit_status deit_group_options_init(deit_group_options *options);
deit_status deit_augment_options_init(deit_augment_options *options);
deit_status deit_image_options_init(deit_image_options *options);
deit_status deit_teacher_train_options_init(deit_teacher_train_options *options);
deit_status deit_distill_options_init(deit_distill_options *options);
deit_status deit_student_config_init(deit_student_config *config, const char *preset, int32_t num_classes);
deit_status deit_student_config_from_weights(deit_student_config *config, const char *path);

/* ---- training with a Python progress callable -------------------------- */
%{
typedef struct deit_py_progress_ctx {
  PyObject *callable;
  PyObject *type, *value, *traceback; /* the exception the callable raised */
} deit_py_progress_ctx;

/* The C progress callback: called on the training thread without the GIL. */
static int deit_py_progress(const deit_progress *p, void *user_data) {
  deit_py_progress_ctx *ctx = (deit_py_progress_ctx *)user_data;
  PyGILState_STATE gil = PyGILState_Ensure();
  int stop = 0;
  /* val_accuracy is new in 0.2: a struct from an older libdeit ends before it. */
  const double val_accuracy =
      p->struct_size >= offsetof(deit_progress, val_accuracy) + sizeof p->val_accuracy ? p->val_accuracy : -1.0;
  PyObject *d = Py_BuildValue(
      "{s:i,s:i,s:i,s:L,s:L,s:d,s:d,s:d,s:d,s:d,s:d,s:O,s:d}", "phase", (int)p->phase, "epoch", (int)p->epoch,
      "epochs", (int)p->epochs, "step", (long long)p->step, "steps", (long long)p->steps, "loss", p->loss,
      "loss_cls", p->loss_cls, "loss_dist", p->loss_dist, "lr", p->lr, "images_per_sec", p->images_per_sec,
      "seconds", p->seconds, "end_of_epoch", p->end_of_epoch ? Py_True : Py_False, "val_accuracy", val_accuracy);
  PyObject *r = d ? PyObject_CallFunctionObjArgs(ctx->callable, d, NULL) : NULL;
  Py_XDECREF(d);
  if (r) {
    stop = PyObject_IsTrue(r); /* a true return value also stops, as in C */
    Py_DECREF(r);
    if (stop < 0) stop = 1;
  }
  /* Ctrl-C during training cancels it too. */
  if (!PyErr_Occurred()) PyErr_CheckSignals();
  if (PyErr_Occurred()) {
    stop = 1;
    if (!ctx->type) {
      PyErr_Fetch(&ctx->type, &ctx->value, &ctx->traceback);
    } else {
      PyErr_Clear();
    }
  }
  PyGILState_Release(gil);
  return stop;
}

/* After the C call: the callable's exception wins over DEIT_E_CANCELLED
 * (it caused it); otherwise a failure raises deit.Error. */
static PyObject *deit_py_finish(deit_status status, deit_py_progress_ctx *ctx) {
  if (ctx->type) {
    PyErr_Restore(ctx->type, ctx->value, ctx->traceback);
    return NULL;
  }
  if (status != DEIT_OK) return deit_py_raise(status);
  Py_RETURN_NONE;
}

static const char *deit_py_device(PyObject *device, int *ok) {
  *ok = 1;
  if (device == Py_None) return NULL;
  const char *s = PyUnicode_AsUTF8(device);
  if (!s) *ok = 0;
  return s;
}
%}

%nothread deit_py_teacher_train;
%nothread deit_py_distill;
%nothread deit_py_checkpoint_describe;
%inline %{
/* deit_teacher_train with `device` (str or None) and `progress` (a callable
 * taking a dict, or None). */
static PyObject *deit_py_teacher_train(deit_teacher *teacher, const deit_dataset *train,
                                       const deit_teacher_train_options *options, PyObject *device,
                                       PyObject *progress) {
  deit_teacher_train_options o = *options;
  deit_py_progress_ctx ctx = {progress, NULL, NULL, NULL};
  int ok;
  o.device = deit_py_device(device, &ok);
  if (!ok) return NULL;
  if (progress != Py_None) {
    o.progress = deit_py_progress;
    o.user_data = &ctx;
  }
  PyThreadState *save = PyEval_SaveThread();
  deit_status st = deit_teacher_train(teacher, train, &o);
  PyEval_RestoreThread(save);
  return deit_py_finish(st, &ctx);
}

/* deit_distill; teacher may be None with DEIT_DISTILL_NONE. */
static PyObject *deit_py_distill(deit_student *student, deit_teacher *teacher, const deit_dataset *train,
                                 const deit_distill_options *options, PyObject *device, PyObject *progress) {
  deit_distill_options o = *options;
  deit_py_progress_ctx ctx = {progress, NULL, NULL, NULL};
  int ok;
  o.device = deit_py_device(device, &ok);
  if (!ok) return NULL;
  if (progress != Py_None) {
    o.progress = deit_py_progress;
    o.user_data = &ctx;
  }
  PyThreadState *save = PyEval_SaveThread();
  deit_status st = deit_distill(student, teacher, train, &o);
  PyEval_RestoreThread(save);
  return deit_py_finish(st, &ctx);
}

/* The JSON text of deit_checkpoint_describe. */
static PyObject *deit_py_checkpoint_describe(const char *path) {
  size_t needed = 0;
  PyThreadState *save = PyEval_SaveThread();
  deit_status st = deit_checkpoint_describe(path, NULL, 0, &needed);
  PyEval_RestoreThread(save);
  if (st != DEIT_E_BUFFER_TOO_SMALL) return deit_py_raise(st); /* size query fails only for a bad file */
  char *buf = (char *)malloc(needed);
  if (!buf) return PyErr_NoMemory();
  save = PyEval_SaveThread();
  st = deit_checkpoint_describe(path, buf, needed, NULL);
  PyEval_RestoreThread(save);
  PyObject *text = st == DEIT_OK ? PyUnicode_FromString(buf) : deit_py_raise(st);
  free(buf);
  return text;
}
%}

/* ---- data-parallel groups ------------------------------------------------ */
%inline %{
/* Defaults, then torchrun's environment (a fresh struct comes back). */
static deit_status deit_py_group_options_from_env(deit_group_options *options) {
  deit_status st = deit_group_options_init(options);
  return st != DEIT_OK ? st : deit_group_options_from_env(options);
}
%}

/* ---- class names of any length --------------------------------------------- */
%{
typedef deit_status (*deit_py_name_fn)(const void *handle, int32_t index, char *buf, size_t capacity);

/* The name of class `index` as str: the buffer grows while the call answers DEIT_E_BUFFER_TOO_SMALL. */
static PyObject *deit_py_class_name(deit_py_name_fn fn, const void *handle, int32_t index) {
  for (size_t capacity = 256;; capacity *= 4) {
    char *buf = (char *)malloc(capacity);
    if (!buf) return PyErr_NoMemory();
    PyThreadState *save = PyEval_SaveThread();
    deit_status st = fn(handle, index, buf, capacity);
    PyEval_RestoreThread(save);
    if (st == DEIT_OK) {
      PyObject *name = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "surrogateescape");
      free(buf);
      return name;
    }
    free(buf);
    if (st != DEIT_E_BUFFER_TOO_SMALL || capacity > ((size_t)1 << 24)) return deit_py_raise(st);
  }
}

static deit_status deit_py_dataset_name_at(const void *h, int32_t i, char *buf, size_t capacity) {
  return deit_dataset_class_name((const deit_dataset *)h, i, buf, capacity);
}
static deit_status deit_py_teacher_name_at(const void *h, int32_t i, char *buf, size_t capacity) {
  return deit_teacher_class_name((const deit_teacher *)h, i, buf, capacity);
}
static deit_status deit_py_student_name_at(const void *h, int32_t i, char *buf, size_t capacity) {
  return deit_student_class_name((const deit_student *)h, i, buf, capacity);
}
%}

%nothread deit_py_dataset_class_name;
%nothread deit_py_teacher_class_name;
%nothread deit_py_student_class_name;
%inline %{
/* deit_*_class_name as str ("" for a data set or model without names). */
static PyObject *deit_py_dataset_class_name(const deit_dataset *dataset, int32_t index) {
  return deit_py_class_name(deit_py_dataset_name_at, dataset, index);
}
static PyObject *deit_py_teacher_class_name(const deit_teacher *teacher, int32_t index) {
  return deit_py_class_name(deit_py_teacher_name_at, teacher, index);
}
static PyObject *deit_py_student_class_name(const deit_student *student, int32_t index) {
  return deit_py_class_name(deit_py_student_name_at, student, index);
}
%}
