package deit

// #include <stdlib.h>
// #include <deit/deit.h>
// #include "trampoline.h"
import "C"

import (
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// Phase is what a training or evaluation call is doing.
type Phase int32

// Phases reported to a ProgressFunc.
const (
	PhaseTeacherTrain  Phase = C.DEIT_PHASE_TEACHER_TRAIN
	PhaseTeacherLogits Phase = C.DEIT_PHASE_TEACHER_LOGITS
	PhaseDistill       Phase = C.DEIT_PHASE_DISTILL
	PhaseEvaluate      Phase = C.DEIT_PHASE_EVALUATE
)

// Progress is one progress report of a training call.
type Progress struct {
	Phase        Phase
	Epoch        int // 1-based
	Epochs       int
	Step         int64 // 1-based within the epoch
	Steps        int64
	Loss         float64 // running mean of the total loss this epoch
	LossCls      float64 // distillation: class head's cross-entropy
	LossDist     float64 // distillation: distillation head's loss
	LR           float64
	ImagesPerSec float64
	Seconds      float64 // since the epoch started
	EndOfEpoch   bool
	// ValAccuracy is the accuracy on the options' Val set (for a student, of
	// the averaged heads) on an epoch's last report when Val is set; -1
	// otherwise.
	ValAccuracy float64
}

func progressFromC(p *C.deit_progress) Progress {
	r := Progress{
		Phase: Phase(p.phase), Epoch: int(p.epoch), Epochs: int(p.epochs), Step: int64(p.step),
		Steps: int64(p.steps), Loss: float64(p.loss), LossCls: float64(p.loss_cls),
		LossDist: float64(p.loss_dist), LR: float64(p.lr), ImagesPerSec: float64(p.images_per_sec),
		Seconds: float64(p.seconds), EndOfEpoch: p.end_of_epoch != 0, ValAccuracy: -1,
	}
	// A libdeit older than 0.2 passes a shorter struct without the field.
	if uintptr(p.struct_size) >= unsafe.Offsetof(p.val_accuracy)+unsafe.Sizeof(p.val_accuracy) {
		r.ValAccuracy = float64(p.val_accuracy)
	}
	return r
}

// ProgressFunc is called on the training goroutine a few times per second and
// at the end of every epoch. Returning a non-nil error cancels the call, which
// then fails with an *Error that matches both ErrCancelled and that error; the
// model is left usable with the weights of the last full step.
type ProgressFunc func(Progress) error

// withProgress runs a training call with fn (may be nil) installed as its
// progress callback through a cgo.Handle, and folds what the callback did into
// the call's error.
func withProgress(fn ProgressFunc, run func(cb C.deit_progress_fn, user unsafe.Pointer) error) error {
	if fn == nil {
		return run(nil, nil)
	}
	st := &progressState{fn: fn}
	h := cgo.NewHandle(st)
	defer h.Delete()
	err := run(C.deit_progress_fn(C.deit_go_progress), C.deit_go_handle(C.uintptr_t(h)))
	if st.panicV != nil {
		panic(st.panicV)
	}
	if e, ok := err.(*Error); ok && e.Status == ErrCancelled {
		e.cause = st.err
	}
	return err
}

// Optimizer selects the optimizer of a training call.
type Optimizer int32

// Optimizers.
const (
	OptimAdam  Optimizer = C.DEIT_OPTIM_ADAM
	OptimAdamW Optimizer = C.DEIT_OPTIM_ADAMW
	OptimSGD   Optimizer = C.DEIT_OPTIM_SGD // with momentum
)

// Schedule is the learning-rate schedule of a training call.
type Schedule int32

// Schedules.
const (
	ScheduleConstant Schedule = C.DEIT_SCHEDULE_CONSTANT
	ScheduleCosine   Schedule = C.DEIT_SCHEDULE_COSINE // linear warmup, then cosine decay to 0
)

// AugmentOptions configures the augmentation of training batches, as in
// DeiT's recipe (deit_augment_options in deit.h); start from
// DefaultAugmentOptions and set TeacherTrainOptions.Augment or
// DistillOptions.Augment to it (nil there: the images as stored). The ops run
// in the order crop, flip, erasing, then mixup / cutmix; their random draws
// come from the run's seed and step, so runs stay deterministic.
type AugmentOptions struct {
	CropPadding      int     // random crop of the image size after zero padding by this many pixels; 0: off
	ResizedCropScale float64 // 0: off; s in (0, 1]: RandomResizedCrop with area [s, 1] (CropPadding must be 0)
	HFlip            bool    // mirror each image with probability 1/2
	EraseProb        float64 // probability of RandomErasing (a box of 2-33% of the image) per image
	MixupAlpha       float64 // 0: off; > 0: mixup, lambda ~ Beta(a, a)
	CutmixAlpha      float64 // 0: off; > 0: cutmix (with MixupAlpha too, one or the other per batch)
}

// DefaultAugmentOptions returns libdeit's defaults (crop with padding 4,
// random erasing with probability 0.25, no flip, no mixup or cutmix).
func DefaultAugmentOptions() AugmentOptions {
	var o C.deit_augment_options
	C.deit_augment_options_init_sized(&o, C.size_t(unsafe.Sizeof(o))) // cannot fail on a valid pointer
	return AugmentOptions{CropPadding: int(o.crop_padding), ResizedCropScale: float64(o.resized_crop_scale),
		HFlip: o.hflip != 0, EraseProb: float64(o.erase_prob), MixupAlpha: float64(o.mixup_alpha),
		CutmixAlpha: float64(o.cutmix_alpha)}
}

// cOptions returns a C copy of a for an options struct's augment pointer (a
// Go pointer must not be stored in memory passed to C), or NULL for a nil a;
// the caller frees it with C.free once the call has returned.
func (a *AugmentOptions) cOptions() *C.deit_augment_options {
	if a == nil {
		return nil
	}
	p := (*C.deit_augment_options)(C.malloc(C.size_t(unsafe.Sizeof(C.deit_augment_options{}))))
	C.deit_augment_options_init_sized(p, C.size_t(unsafe.Sizeof(*p)))
	p.crop_padding, p.resized_crop_scale = C.int32_t(a.CropPadding), C.double(a.ResizedCropScale)
	p.hflip, p.erase_prob = b2i(a.HFlip), C.double(a.EraseProb)
	p.mixup_alpha, p.cutmix_alpha = C.double(a.MixupAlpha), C.double(a.CutmixAlpha)
	return p
}

// Trainable says which teacher weights fine-tuning updates.
type Trainable int32

// Trainable parts of a teacher.
const (
	TrainAuto Trainable = C.DEIT_TRAIN_AUTO // head only after LoadWeights, else all
	TrainHead Trainable = C.DEIT_TRAIN_HEAD
	TrainAll  Trainable = C.DEIT_TRAIN_ALL
)

// Distillation is the kind of loss on the student's distillation head.
type Distillation int32

// Distillation kinds.
const (
	DistillSoft Distillation = C.DEIT_DISTILL_SOFT // KL at a temperature
	DistillHard Distillation = C.DEIT_DISTILL_HARD // CE against the teacher's argmax
	DistillNone Distillation = C.DEIT_DISTILL_NONE // the dist head learns the labels too
)

// Head selects which of the student's heads gives the logits.
type Head int32

// Student heads.
const (
	HeadAvg  Head = C.DEIT_HEAD_AVG // mean of both heads (DeiT inference)
	HeadCls  Head = C.DEIT_HEAD_CLS
	HeadDist Head = C.DEIT_HEAD_DIST
)

// EvalResult is the outcome of an evaluation. For a teacher only Accuracy and
// Loss are meaningful; for a student Accuracy is that of the averaged head.
type EvalResult struct {
	Count        int
	Accuracy     float64 // in [0, 1]
	Loss         float64
	AccuracyCls  float64
	AccuracyDist float64
}

func evalFromC(r *C.deit_eval_result) EvalResult {
	return EvalResult{Count: int(r.count), Accuracy: float64(r.accuracy), Loss: float64(r.loss),
		AccuracyCls: float64(r.accuracy_cls), AccuracyDist: float64(r.accuracy_dist)}
}

// cString is C.CString for a non-empty s and NULL for "", freed by the caller
// with C.free (which accepts NULL).
func cString(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// Teacher is a CNN teacher: a torchvision ResNet or a TorchScript module.
type Teacher struct {
	p *C.deit_teacher
}

func newTeacher(p *C.deit_teacher) *Teacher {
	t := &Teacher{p: p}
	runtime.SetFinalizer(t, (*Teacher).Close)
	return t
}

// Close frees the teacher; it is safe to call more than once.
func (t *Teacher) Close() error {
	if t != nil && t.p != nil {
		C.deit_teacher_free(t.p)
		t.p = nil
		runtime.SetFinalizer(t, nil)
	}
	return nil
}

func (t *Teacher) ptr(op string) (*C.deit_teacher, error) {
	if t == nil || t.p == nil {
		return nil, closedError(op, "teacher")
	}
	return t.p, nil
}

// NewTeacher creates a ResNet ("resnet18" ... "resnet152") with numClasses
// outputs, initialised from seed 0 as torchvision does, on device "auto".
func NewTeacher(arch string, numClasses int) (*Teacher, error) {
	ca := C.CString(arch)
	defer C.free(unsafe.Pointer(ca))
	var p *C.deit_teacher
	if err := call("deit_teacher_create", func() C.deit_status {
		return C.deit_teacher_create(ca, C.int32_t(numClasses), &p)
	}); err != nil {
		return nil, err
	}
	return newTeacher(p), nil
}

// LoadTeacher loads a checkpoint written by Teacher.Save.
func LoadTeacher(path string) (*Teacher, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var p *C.deit_teacher
	if err := call("deit_teacher_load", func() C.deit_status { return C.deit_teacher_load(cp, &p) }); err != nil {
		return nil, err
	}
	return newTeacher(p), nil
}

// LoadTeacherTorchScript uses a TorchScript module (float NCHW images to
// [N, numClasses] logits) as the teacher.
func LoadTeacherTorchScript(path string, numClasses int) (*Teacher, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var p *C.deit_teacher
	if err := call("deit_teacher_load_torchscript", func() C.deit_status {
		return C.deit_teacher_load_torchscript(cp, C.int32_t(numClasses), &p)
	}); err != nil {
		return nil, err
	}
	return newTeacher(p), nil
}

// LoadWeights loads torchvision/timm ResNet weights (.safetensors).
func (t *Teacher) LoadWeights(path string) error {
	const op = "deit_teacher_load_weights"
	p, err := t.ptr(op)
	if err != nil {
		return err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	err = call(op, func() C.deit_status { return C.deit_teacher_load_weights(p, cp) })
	runtime.KeepAlive(t)
	return err
}

// Save writes a .safetensors checkpoint atomically.
func (t *Teacher) Save(path string) error {
	const op = "deit_teacher_save"
	p, err := t.ptr(op)
	if err != nil {
		return err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	err = call(op, func() C.deit_status { return C.deit_teacher_save(p, cp) })
	runtime.KeepAlive(t)
	return err
}

// SetDevice moves the teacher to "auto", "cpu", "cuda" or "cuda:N".
func (t *Teacher) SetDevice(device string) error {
	const op = "deit_teacher_set_device"
	p, err := t.ptr(op)
	if err != nil {
		return err
	}
	cd := C.CString(device)
	defer C.free(unsafe.Pointer(cd))
	err = call(op, func() C.deit_status { return C.deit_teacher_set_device(p, cd) })
	runtime.KeepAlive(t)
	return err
}

// Arch is the architecture name ("resnet18", ..., "torchscript").
func (t *Teacher) Arch() (string, error) {
	const op = "deit_teacher_get_arch"
	p, err := t.ptr(op)
	if err != nil {
		return "", err
	}
	s, err := getString(op, func(buf *C.char, capacity C.size_t) C.deit_status {
		return C.deit_teacher_get_arch(p, buf, capacity)
	})
	runtime.KeepAlive(t)
	return s, err
}

// NumClasses is the number of outputs.
func (t *Teacher) NumClasses() (int, error) {
	const op = "deit_teacher_num_classes"
	p, err := t.ptr(op)
	if err != nil {
		return 0, err
	}
	var n C.int32_t
	err = call(op, func() C.deit_status { return C.deit_teacher_num_classes(p, &n) })
	runtime.KeepAlive(t)
	return int(n), err
}

// TeacherTrainOptions configures Teacher.Train; start from
// DefaultTeacherTrainOptions.
type TeacherTrainOptions struct {
	Epochs      int
	BatchSize   int
	LR          float64
	Optimizer   Optimizer
	WeightDecay float64 // -1: the optimizer's default (0; AdamW 0.05)
	Momentum    float64 // SGD only
	Trainable   Trainable
	Seed        uint64
	Device      string // "": keep the teacher's device
	Progress    ProgressFunc
	State       StateOptions // crash safety
	Group       *Group       // data parallelism (nil: this process alone); BatchSize is per rank
	// The training recipe.
	Schedule       Schedule
	WarmupEpochs   int // cosine only
	LabelSmoothing float64
	Augment        *AugmentOptions // nil: the images as stored
	ClipGrad       float64         // 0: off; > 0: largest global gradient norm
	// Validation: Val (nil: none) is evaluated at every epoch's end
	// (Progress.ValAccuracy); with BestPath (needs Val) the checkpoint of the
	// epoch with the best validation accuracy so far is written there
	// (atomically; a resumed run starts the comparison afresh).
	Val      *Dataset
	BestPath string // "": none
}

// DefaultTeacherTrainOptions returns libdeit's defaults (3 epochs, batch 64,
// Adam 1e-3, constant learning rate, no augmentation, ...).
func DefaultTeacherTrainOptions() TeacherTrainOptions {
	var o C.deit_teacher_train_options
	C.deit_teacher_train_options_init_sized(&o, C.size_t(unsafe.Sizeof(o))) // cannot fail on a valid pointer
	return TeacherTrainOptions{Epochs: int(o.epochs), BatchSize: int(o.batch_size), LR: float64(o.lr),
		Optimizer: Optimizer(o.optimizer), WeightDecay: float64(o.weight_decay), Momentum: float64(o.momentum),
		Trainable: Trainable(o.trainable), Seed: uint64(o.seed), Schedule: Schedule(o.schedule),
		WarmupEpochs: int(o.warmup_epochs), LabelSmoothing: float64(o.label_smoothing),
		ClipGrad: float64(o.clip_grad)}
}

// Train fine-tunes the teacher on train; nil options means the defaults.
func (t *Teacher) Train(train *Dataset, options *TeacherTrainOptions) error {
	const op = "deit_teacher_train"
	p, err := t.ptr(op)
	if err != nil {
		return err
	}
	dp, err := train.ptr(op)
	if err != nil {
		return err
	}
	if options == nil {
		d := DefaultTeacherTrainOptions()
		options = &d
	}
	var o C.deit_teacher_train_options
	C.deit_teacher_train_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	o.epochs = C.int32_t(options.Epochs)
	o.batch_size = C.int32_t(options.BatchSize)
	o.lr = C.double(options.LR)
	o.optimizer = C.deit_optimizer(options.Optimizer)
	o.weight_decay = C.double(options.WeightDecay)
	o.momentum = C.double(options.Momentum)
	o.trainable = C.deit_trainable(options.Trainable)
	o.seed = C.uint64_t(options.Seed)
	o.schedule, o.warmup_epochs = C.deit_schedule(options.Schedule), C.int32_t(options.WarmupEpochs)
	o.label_smoothing, o.clip_grad = C.double(options.LabelSmoothing), C.double(options.ClipGrad)
	if o.val, err = options.Val.optional(op); err != nil {
		return err
	}
	o.augment = options.Augment.cOptions()
	defer C.free(unsafe.Pointer(o.augment))
	o.device = cString(options.Device)
	defer C.free(unsafe.Pointer(o.device))
	o.best_path = cString(options.BestPath)
	defer C.free(unsafe.Pointer(o.best_path))
	o.state_path, o.state_every_steps, o.resume = cString(options.State.Path), C.int32_t(options.State.EverySteps), b2i(options.State.Resume)
	defer C.free(unsafe.Pointer(o.state_path))
	if o.group, err = options.Group.optional(op); err != nil {
		return err
	}
	err = withProgress(options.Progress, func(cb C.deit_progress_fn, user unsafe.Pointer) error {
		o.progress, o.user_data = cb, user
		return call(op, func() C.deit_status { return C.deit_teacher_train(p, dp, &o) })
	})
	runtime.KeepAlive(options.Val)
	runtime.KeepAlive(options.Group)
	runtime.KeepAlive(t)
	runtime.KeepAlive(train)
	return err
}

// Evaluate returns accuracy and loss on data (eval mode).
func (t *Teacher) Evaluate(data *Dataset) (EvalResult, error) {
	r, _, err := t.evaluate(data, nil, false)
	return r, err
}

// EvaluateConfusion also returns the confusion matrix (row = true label).
func (t *Teacher) EvaluateConfusion(data *Dataset) (EvalResult, [][]int64, error) {
	return t.evaluate(data, nil, true)
}

// EvaluateGroup is Evaluate with each rank of group evaluating its share of
// data (every rank passes the same data); every rank gets the whole result.
func (t *Teacher) EvaluateGroup(data *Dataset, group *Group) (EvalResult, error) {
	if _, err := group.ptr("deit_teacher_evaluate_group"); err != nil {
		return EvalResult{}, err
	}
	r, _, err := t.evaluate(data, group, false)
	return r, err
}

func (t *Teacher) evaluate(data *Dataset, group *Group, confusion bool) (EvalResult, [][]int64, error) {
	op := "deit_teacher_evaluate"
	if group != nil {
		op = "deit_teacher_evaluate_group"
	}
	p, err := t.ptr(op)
	if err != nil {
		return EvalResult{}, nil, err
	}
	dp, err := data.ptr(op)
	if err != nil {
		return EvalResult{}, nil, err
	}
	k, err := t.NumClasses()
	if err != nil {
		return EvalResult{}, nil, err
	}
	var r C.deit_eval_result
	r.struct_size = C.uint32_t(unsafe.Sizeof(r))
	var conf []int64
	var cp *C.int64_t
	if confusion {
		conf = make([]int64, k*k)
		cp = (*C.int64_t)(unsafe.Pointer(&conf[0]))
	}
	err = call(op, func() C.deit_status {
		if group != nil {
			return C.deit_teacher_evaluate_group(p, dp, group.p, &r, cp, C.size_t(len(conf)))
		}
		return C.deit_teacher_evaluate(p, dp, &r, cp, C.size_t(len(conf)))
	})
	runtime.KeepAlive(group)
	runtime.KeepAlive(t)
	runtime.KeepAlive(data)
	if err != nil {
		return EvalResult{}, nil, err
	}
	return evalFromC(&r), rows(conf, k), nil
}

// rows splits a row-major k x k matrix (nil stays nil).
func rows(m []int64, k int) [][]int64 {
	if m == nil {
		return nil
	}
	out := make([][]int64, k)
	for i := range out {
		out[i] = m[i*k : (i+1)*k : (i+1)*k]
	}
	return out
}

// Predict returns the logits, Count x NumClasses row-major.
func (t *Teacher) Predict(images *Images) ([]float32, error) {
	const op = "deit_teacher_predict"
	p, err := t.ptr(op)
	if err != nil {
		return nil, err
	}
	ci, data, err := images.toC(op)
	if err != nil {
		return nil, err
	}
	k, err := t.NumClasses()
	if err != nil {
		return nil, err
	}
	logits := make([]float32, images.Count*k)
	err = call(op, func() C.deit_status {
		return C.deit_go_teacher_predict(p, ci, data, (*C.float)(unsafe.Pointer(&logits[0])), C.size_t(len(logits)))
	})
	runtime.KeepAlive(t)
	runtime.KeepAlive(images)
	if err != nil {
		return nil, err
	}
	return logits, nil
}
