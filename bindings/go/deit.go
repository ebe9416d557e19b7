// Package deit is the Go binding of libdeit: fine-tune a ResNet teacher,
// distill it into a DeiT student and run the student, through libdeit's C
// API (include/deit/deit.h; docs/API.md is the contract).
//
// Every handle (Dataset, Teacher, Student) has a Close method; a finalizer
// frees a forgotten handle, but Close frees the memory (often hundreds of MB
// for a teacher) when you decide. A handle must not be used by two
// goroutines at the same time; different handles may be used concurrently.
//
// Failures are *Error values carrying a Status; the statuses are sentinel
// errors, so errors.Is(err, deit.ErrIO) works.
package deit

// #cgo pkg-config: deit
// #include <stdlib.h>
// #include <deit/deit.h>
// #include "trampoline.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Status is a libdeit status code. The non-zero values are sentinel errors
// for errors.Is.
type Status int32

// The statuses of deit.h; their values never change.
const (
	OK                Status = C.DEIT_OK
	ErrInvalidArg     Status = C.DEIT_E_INVALID_ARG
	ErrIO             Status = C.DEIT_E_IO
	ErrFormat         Status = C.DEIT_E_FORMAT
	ErrOOM            Status = C.DEIT_E_OOM
	ErrUnsupported    Status = C.DEIT_E_UNSUPPORTED
	ErrCancelled      Status = C.DEIT_E_CANCELLED
	ErrBufferTooSmall Status = C.DEIT_E_BUFFER_TOO_SMALL
	ErrState          Status = C.DEIT_E_STATE
	ErrInternal       Status = C.DEIT_E_INTERNAL
	ErrDevice         Status = C.DEIT_E_DEVICE
	ErrNumeric        Status = C.DEIT_E_NUMERIC
	ErrDistributed    Status = C.DEIT_E_DISTRIBUTED
)

// String is libdeit's text for the status ("I/O error", ...).
func (s Status) String() string { return C.GoString(C.deit_status_str(C.deit_status(s))) }

func (s Status) Error() string { return "deit: " + s.String() }

// Error is a failed libdeit call: which call, its status and the message
// libdeit gave (deit_last_error).
type Error struct {
	Op      string // the C function, e.g. "deit_dataset_open_dir"
	Status  Status
	Message string
	cause   error // for ErrCancelled: the error the progress callback returned
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Status.String()
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return fmt.Sprintf("deit: %s: %s (%s)", e.Op, msg, e.Status.String())
}

// Is makes errors.Is(err, deit.ErrCancelled) and, after a cancel, errors.Is
// (err, errTheCallbackReturned) true.
func (e *Error) Is(target error) bool {
	if s, ok := target.(Status); ok {
		return s == e.Status
	}
	return e.cause != nil && errors.Is(e.cause, target)
}

// Unwrap returns the progress callback's error after a cancel, else nil.
func (e *Error) Unwrap() error { return e.cause }

// call runs one fallible C call and, when it fails, reads deit_last_error on
// the same OS thread (the message is thread-local; the goroutine must not move
// between the call and the read).
func call(op string, f func() C.deit_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if st == C.DEIT_OK {
		return nil
	}
	return &Error{Op: op, Status: Status(st), Message: C.GoString(C.deit_last_error())}
}

// argError is an error found by the binding before calling libdeit.
func argError(op, format string, args ...interface{}) error {
	return &Error{Op: op, Status: ErrInvalidArg, Message: fmt.Sprintf(format, args...)}
}

func closedError(op, what string) error {
	return &Error{Op: op, Status: ErrInvalidArg, Message: what + " is closed"}
}

// Version is the "MAJOR.MINOR.PATCH" of the loaded libdeit.
func Version() string { return C.GoString(C.deit_version_string()) }

// VersionNumber is MAJOR*10000 + MINOR*100 + PATCH of the loaded libdeit.
func VersionNumber() int { return int(C.deit_version_number()) }

// HeaderVersionNumber is the version of deit.h this package was compiled with.
const HeaderVersionNumber = C.DEIT_VERSION_NUMBER

// SetNumThreads sets the intra-op CPU threads for all work (0 = all cores).
func SetNumThreads(n int) error {
	return call("deit_set_num_threads", func() C.deit_status { return C.deit_set_num_threads(C.int32_t(n)) })
}

// NumThreads is the current intra-op thread count.
func NumThreads() int { return int(C.deit_get_num_threads()) }

// RuntimeOptions are libdeit's process-wide settings (deit.h, deit_runtime_options).
type RuntimeOptions struct {
	NumThreads         int  // 0: OMP_NUM_THREADS when set, else every core
	SingleThreadedBLAS bool // OpenBLAS gets one thread (LibTorch's threads split the work)
	TuneMalloc         bool // glibc's malloc keeps freed blocks during a call
}

func runtimeFromC(o *C.deit_runtime_options) RuntimeOptions {
	return RuntimeOptions{NumThreads: int(o.num_threads), SingleThreadedBLAS: o.single_threaded_blas != 0,
		TuneMalloc: o.tune_malloc != 0}
}

// DefaultRuntimeOptions are the settings libdeit applies when RuntimeInit is not called.
func DefaultRuntimeOptions() RuntimeOptions {
	var o C.deit_runtime_options
	C.deit_runtime_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	return runtimeFromC(&o)
}

// RuntimeInit applies the process-wide settings; call it before any other
// libdeit work (ErrState once they have been applied).
func RuntimeInit(options RuntimeOptions) error {
	var o C.deit_runtime_options
	C.deit_runtime_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	o.num_threads = C.int32_t(options.NumThreads)
	o.single_threaded_blas, o.tune_malloc = b2i(options.SingleThreadedBLAS), b2i(options.TuneMalloc)
	return call("deit_runtime_init", func() C.deit_status { return C.deit_runtime_init(&o) })
}

// RuntimeSettings returns the settings in effect and whether they have been applied yet.
func RuntimeSettings() (RuntimeOptions, bool, error) {
	var o C.deit_runtime_options
	o.struct_size = C.uint32_t(unsafe.Sizeof(o))
	var applied C.int
	err := call("deit_runtime_get", func() C.deit_status { return C.deit_runtime_get(&o, &applied) })
	return runtimeFromC(&o), applied != 0, err
}

// names lists a library name table (NULL past the last entry).
func names(nameAt func(C.size_t) *C.char) []string {
	var out []string
	for i := C.size_t(0); nameAt(i) != nil; i++ {
		out = append(out, C.GoString(nameAt(i)))
	}
	return out
}

// TeacherArchs lists the teacher architectures libdeit builds ("resnet18", ...).
func TeacherArchs() []string {
	return names(func(i C.size_t) *C.char { return C.deit_teacher_arch_name(i) })
}

// StudentPresets lists the student presets ("seed", "deit-tiny", ...).
func StudentPresets() []string {
	return names(func(i C.size_t) *C.char { return C.deit_student_preset_name(i) })
}

// LibTorchVersion is the version of the LibTorch libdeit was compiled against.
func LibTorchVersion() string { return C.GoString(C.deit_libtorch_version()) }

// CUDACompiled says whether libdeit was compiled against a CUDA-enabled LibTorch.
func CUDACompiled() bool { return C.deit_cuda_compiled() != 0 }

// CUDAAvailable says whether this build has CUDA and a device is present.
func CUDAAvailable() bool { return C.deit_cuda_available() != 0 }

// CUDADeviceCount is the number of CUDA devices (0 on CPU-only builds).
func CUDADeviceCount() int { return int(C.deit_cuda_device_count()) }

// getString calls a C function that writes a NUL-terminated string into a
// caller buffer, growing the buffer on ErrBufferTooSmall.
func getString(op string, f func(buf *C.char, capacity C.size_t) C.deit_status) (string, error) {
	for capacity := 64; ; capacity *= 4 {
		buf := (*C.char)(C.malloc(C.size_t(capacity)))
		var s string
		err := call(op, func() C.deit_status {
			st := f(buf, C.size_t(capacity))
			if st == C.DEIT_OK {
				s = C.GoString(buf)
			}
			return st
		})
		C.free(unsafe.Pointer(buf))
		if !errors.Is(err, ErrBufferTooSmall) || capacity > 1<<20 {
			return s, err
		}
	}
}

// ResolveDevice checks a device spec ("auto", "cpu", "cuda", "cuda:N") and
// returns the device it resolves to ("cpu" or "cuda:N").
func ResolveDevice(spec string) (string, error) {
	cs := C.CString(spec)
	defer C.free(unsafe.Pointer(cs))
	return getString("deit_resolve_device", func(buf *C.char, capacity C.size_t) C.deit_status {
		return C.deit_resolve_device(cs, buf, capacity)
	})
}

// LogLevel is the severity of a log line.
type LogLevel int32

// Log levels; lines below the level set with SetLogLevel are dropped.
const (
	LogDebug LogLevel = C.DEIT_LOG_DEBUG
	LogInfo  LogLevel = C.DEIT_LOG_INFO
	LogWarn  LogLevel = C.DEIT_LOG_WARN
	LogError LogLevel = C.DEIT_LOG_ERROR
	LogOff   LogLevel = C.DEIT_LOG_OFF
)

// SetLogLevel drops log lines below level (default LogWarn).
func SetLogLevel(level LogLevel) error {
	return call("deit_set_log_level", func() C.deit_status { return C.deit_set_log_level(C.deit_log_level(level)) })
}

// LogFunc receives libdeit's log lines; it may be called from any thread that
// is inside a libdeit call, so it must be safe for concurrent use.
type LogFunc func(level LogLevel, message string)

var logMu sync.Mutex // one SetLogFunc at a time

// SetLogFunc routes log lines to fn; nil restores the default stderr writer.
// Meant to be called rarely (at start-up): each call keeps its function alive
// for the life of the process.
func SetLogFunc(fn LogFunc) error {
	logMu.Lock()
	defer logMu.Unlock()
	var h cgo.Handle
	err := call("deit_set_log_callback", func() C.deit_status {
		if fn == nil {
			return C.deit_set_log_callback(nil, nil)
		}
		h = cgo.NewHandle(fn)
		return C.deit_set_log_callback(C.deit_log_fn(C.deit_go_log), C.deit_go_handle(C.uintptr_t(h)))
	})
	if err != nil {
		if h != 0 {
			h.Delete()
		}
		return err
	}
	// The previous handle is kept, not deleted: a log line already in flight on
	// another thread may still look it up (one small leak per SetLogFunc).
	return nil
}

// CheckpointKind says which loader opens a libdeit checkpoint (deit_checkpoint_kind).
type CheckpointKind int32

const (
	CheckpointTeacher CheckpointKind = C.DEIT_CHECKPOINT_TEACHER // LoadTeacher
	CheckpointStudent CheckpointKind = C.DEIT_CHECKPOINT_STUDENT // LoadStudent
)

// ReadCheckpointKind reads a libdeit checkpoint's kind from its header alone
// (no tensor data is read); ErrFormat for plain weights or a training state.
func ReadCheckpointKind(path string) (CheckpointKind, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var kind C.deit_checkpoint_kind
	err := call("deit_checkpoint_read_kind", func() C.deit_status {
		return C.deit_checkpoint_read_kind(cp, &kind)
	})
	return CheckpointKind(kind), err
}

// CheckpointDescribe returns the JSON description of a libdeit checkpoint
// (kind, configuration, parameter count, tensors).
func CheckpointDescribe(path string) (string, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var needed C.size_t
	err := call("deit_checkpoint_describe", func() C.deit_status {
		return C.deit_checkpoint_describe(cp, nil, 0, &needed)
	})
	if err != nil && !errors.Is(err, ErrBufferTooSmall) {
		return "", err
	}
	buf := make([]byte, int(needed))
	if len(buf) == 0 {
		return "", &Error{Op: "deit_checkpoint_describe", Status: ErrInternal, Message: "size query returned 0"}
	}
	err = call("deit_checkpoint_describe", func() C.deit_status {
		return C.deit_checkpoint_describe(cp, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), nil)
	})
	if err != nil {
		return "", err
	}
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0]))), nil
}
