package deit

// #include <stdlib.h>
// #include <deit/deit.h>
// #include "trampoline.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// StudentConfig is the shape of a DeiT student; start from PresetConfig.
type StudentConfig struct {
	ImgSize         int
	PatchSize       int
	InChannels      int
	NumClasses      int
	EmbedDim        int
	Depth           int
	NumHeads        int
	MLPDim          int
	PreNorm         bool // false: post-norm (seed), true: pre-norm (timm)
	GELU            bool // false: ReLU (seed), true: GELU (timm)
	Dropout         float64
	AttnDropout     float64
	LNEps           float64
	QKVBias         bool
	TruncNormalInit bool // true: timm init; false: PyTorch defaults, zero tokens
}

func b2i(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

func (c *StudentConfig) toC() C.deit_student_config {
	var o C.deit_student_config
	o.struct_size = C.uint32_t(unsafe.Sizeof(o))
	o.img_size, o.patch_size, o.in_channels = C.int32_t(c.ImgSize), C.int32_t(c.PatchSize), C.int32_t(c.InChannels)
	o.num_classes, o.embed_dim, o.depth = C.int32_t(c.NumClasses), C.int32_t(c.EmbedDim), C.int32_t(c.Depth)
	o.num_heads, o.mlp_dim = C.int32_t(c.NumHeads), C.int32_t(c.MLPDim)
	o.pre_norm, o.gelu, o.qkv_bias, o.trunc_normal_init = b2i(c.PreNorm), b2i(c.GELU), b2i(c.QKVBias), b2i(c.TruncNormalInit)
	o.dropout, o.attn_dropout, o.ln_eps = C.double(c.Dropout), C.double(c.AttnDropout), C.double(c.LNEps)
	return o
}

func configFromC(o *C.deit_student_config) StudentConfig {
	return StudentConfig{ImgSize: int(o.img_size), PatchSize: int(o.patch_size), InChannels: int(o.in_channels),
		NumClasses: int(o.num_classes), EmbedDim: int(o.embed_dim), Depth: int(o.depth), NumHeads: int(o.num_heads),
		MLPDim: int(o.mlp_dim), PreNorm: o.pre_norm != 0, GELU: o.gelu != 0, Dropout: float64(o.dropout),
		AttnDropout: float64(o.attn_dropout), LNEps: float64(o.ln_eps), QKVBias: o.qkv_bias != 0,
		TruncNormalInit: o.trunc_normal_init != 0}
}

// PresetConfig fills a configuration from a preset: "seed" (the reference
// notebook's model), "deit-tiny", "deit-small", "deit-base" (224 pixels),
// "small-image" (28-32 pixel images: patch 4, width 64, depth 6, timm layout).
func PresetConfig(preset string, numClasses int) (StudentConfig, error) {
	cp := C.CString(preset)
	defer C.free(unsafe.Pointer(cp))
	var o C.deit_student_config
	if err := call("deit_student_config_init", func() C.deit_status {
		return C.deit_student_config_init_sized(&o, C.size_t(unsafe.Sizeof(o)), cp, C.int32_t(numClasses))
	}); err != nil {
		return StudentConfig{}, err
	}
	return configFromC(&o), nil
}

// PretrainedConfig reads the architecture of a weights file: a safetensors
// state dict under timm's names (deit_*_distilled_patch16_224, deit_*/vit_*
// patch16 layouts) or a libdeit student checkpoint.  Change NumClasses,
// ImgSize or InChannels for a new task, then NewStudent and LoadWeights.
func PretrainedConfig(path string) (StudentConfig, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var o C.deit_student_config
	if err := call("deit_student_config_from_weights", func() C.deit_status {
		return C.deit_student_config_from_weights_sized(&o, C.size_t(unsafe.Sizeof(o)), cp)
	}); err != nil {
		return StudentConfig{}, err
	}
	return configFromC(&o), nil
}

// Student is a DeiT vision transformer with [CLS] and [DIST] tokens.
type Student struct {
	p *C.deit_student
}

func newStudent(p *C.deit_student) *Student {
	s := &Student{p: p}
	runtime.SetFinalizer(s, (*Student).Close)
	return s
}

// Close frees the student; it is safe to call more than once.
func (s *Student) Close() error {
	if s != nil && s.p != nil {
		C.deit_student_free(s.p)
		s.p = nil
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

func (s *Student) ptr(op string) (*C.deit_student, error) {
	if s == nil || s.p == nil {
		return nil, closedError(op, "student")
	}
	return s.p, nil
}

// NewStudent creates a student with weights initialised from seed.
func NewStudent(config StudentConfig, seed uint64) (*Student, error) {
	o := config.toC()
	var p *C.deit_student
	if err := call("deit_student_create", func() C.deit_status {
		return C.deit_student_create(&o, C.uint64_t(seed), &p)
	}); err != nil {
		return nil, err
	}
	return newStudent(p), nil
}

// LoadStudent loads a student checkpoint (.safetensors).
func LoadStudent(path string) (*Student, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var p *C.deit_student
	if err := call("deit_student_load", func() C.deit_status { return C.deit_student_load(cp, &p) }); err != nil {
		return nil, err
	}
	return newStudent(p), nil
}

// Save writes a .safetensors checkpoint atomically.
func (s *Student) Save(path string) error {
	const op = "deit_student_save"
	p, err := s.ptr(op)
	if err != nil {
		return err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	err = call(op, func() C.deit_status { return C.deit_student_save(p, cp) })
	runtime.KeepAlive(s)
	return err
}

// LoadWeights copies pretrained weights into the student, fitted to it:
// heads of another class count stay fresh, pos_embed is resampled to its
// image size, a non-distilled file starts [DIST] from [CLS].
func (s *Student) LoadWeights(path string) error {
	const op = "deit_student_load_weights"
	p, err := s.ptr(op)
	if err != nil {
		return err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	err = call(op, func() C.deit_status { return C.deit_student_load_weights(p, cp) })
	runtime.KeepAlive(s)
	return err
}

// ExportONNX writes the chosen head's inference as an ONNX model (opset 17):
// input "images" float32 [batch, C, H, W] with pixels / 255, output "logits"
// float32 [batch, classes]; written atomically.
func (s *Student) ExportONNX(path string, head Head) error {
	const op = "deit_student_export_onnx"
	p, err := s.ptr(op)
	if err != nil {
		return err
	}
	var o C.deit_onnx_options
	C.deit_onnx_options_init_sized(&o, C.size_t(unsafe.Sizeof(o))) // cannot fail on a valid pointer
	o.head = C.deit_head(head)
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	err = call(op, func() C.deit_status { return C.deit_student_export_onnx(p, cp, &o) })
	runtime.KeepAlive(s)
	return err
}

// SetDevice moves the student to "auto", "cpu", "cuda" or "cuda:N".
func (s *Student) SetDevice(device string) error {
	const op = "deit_student_set_device"
	p, err := s.ptr(op)
	if err != nil {
		return err
	}
	cd := C.CString(device)
	defer C.free(unsafe.Pointer(cd))
	err = call(op, func() C.deit_status { return C.deit_student_set_device(p, cd) })
	runtime.KeepAlive(s)
	return err
}

// Config returns the student's configuration.
func (s *Student) Config() (StudentConfig, error) {
	const op = "deit_student_get_config"
	p, err := s.ptr(op)
	if err != nil {
		return StudentConfig{}, err
	}
	var o C.deit_student_config
	o.struct_size = C.uint32_t(unsafe.Sizeof(o))
	err = call(op, func() C.deit_status { return C.deit_student_get_config(p, &o) })
	runtime.KeepAlive(s)
	if err != nil {
		return StudentConfig{}, err
	}
	return configFromC(&o), nil
}

// NumParams is the number of parameters.
func (s *Student) NumParams() (int64, error) {
	const op = "deit_student_num_params"
	p, err := s.ptr(op)
	if err != nil {
		return 0, err
	}
	var n C.int64_t
	err = call(op, func() C.deit_status { return C.deit_student_num_params(p, &n) })
	runtime.KeepAlive(s)
	return int64(n), err
}

// DistillOptions configures Student.Distill; start from DefaultDistillOptions.
type DistillOptions struct {
	Epochs             int
	BatchSize          int
	LR                 float64
	Optimizer          Optimizer
	WeightDecay        float64 // -1: the optimizer's default (0; AdamW 0.05)
	Momentum           float64 // SGD only
	Schedule           Schedule
	WarmupEpochs       int     // cosine only
	Alpha              float64 // weight of the distillation loss
	Temperature        float64
	Distillation       Distillation
	LabelSmoothing     float64
	Seed               uint64
	Device             string // "": keep the student's device
	CacheTeacherLogits bool
	TeacherLogitsPath  string // with CacheTeacherLogits: keep them in this file between runs
	Progress           ProgressFunc
	State              StateOptions // crash safety
	Group              *Group       // data parallelism (nil: this process alone); BatchSize is per rank
	// The training recipe.
	Augment  *AugmentOptions // nil: the images as stored; with augmentation the teacher runs on each batch
	ClipGrad float64         // 0: off; > 0: largest global gradient norm
	DropPath float64         // stochastic depth rate of the last block (block i of d: rate*i/(d-1)); training only
	// Validation, as for the teacher: Val (nil: none) is evaluated at every
	// epoch's end (Progress.ValAccuracy, the averaged heads); with BestPath
	// (needs Val) the best epoch's checkpoint is written there.
	Val      *Dataset
	BestPath string // "": none
	// 0: off; in (0, 1): an exponential moving average of the weights (DeiT's
	// model EMA), which validation sees and the student ends holding.
	EMADecay float64
}

// DefaultDistillOptions returns libdeit's defaults (5 epochs, batch 64, Adam
// 1e-3, soft distillation at temperature 2 with alpha 0.5, ...).
func DefaultDistillOptions() DistillOptions {
	var o C.deit_distill_options
	C.deit_distill_options_init_sized(&o, C.size_t(unsafe.Sizeof(o))) // cannot fail on a valid pointer
	return DistillOptions{Epochs: int(o.epochs), BatchSize: int(o.batch_size), LR: float64(o.lr),
		Optimizer: Optimizer(o.optimizer), WeightDecay: float64(o.weight_decay), Momentum: float64(o.momentum),
		Schedule: Schedule(o.schedule), WarmupEpochs: int(o.warmup_epochs), Alpha: float64(o.alpha),
		Temperature: float64(o.temperature), Distillation: Distillation(o.distillation),
		LabelSmoothing: float64(o.label_smoothing), Seed: uint64(o.seed),
		CacheTeacherLogits: o.cache_teacher_logits != 0, ClipGrad: float64(o.clip_grad),
		DropPath: float64(o.drop_path), EMADecay: float64(o.ema_decay)}
}

// Distill trains the student on train against the frozen teacher; teacher may
// be nil only with DistillNone, nil options means the defaults.
func (s *Student) Distill(teacher *Teacher, train *Dataset, options *DistillOptions) error {
	const op = "deit_distill"
	p, err := s.ptr(op)
	if err != nil {
		return err
	}
	dp, err := train.ptr(op)
	if err != nil {
		return err
	}
	var tp *C.deit_teacher // NULL: libdeit says whether that is allowed
	if teacher != nil {
		if tp, err = teacher.ptr(op); err != nil {
			return err
		}
	}
	if options == nil {
		d := DefaultDistillOptions()
		options = &d
	}
	var o C.deit_distill_options
	C.deit_distill_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	o.epochs, o.batch_size, o.lr = C.int32_t(options.Epochs), C.int32_t(options.BatchSize), C.double(options.LR)
	o.optimizer, o.weight_decay = C.deit_optimizer(options.Optimizer), C.double(options.WeightDecay)
	o.momentum, o.schedule = C.double(options.Momentum), C.deit_schedule(options.Schedule)
	o.warmup_epochs, o.alpha = C.int32_t(options.WarmupEpochs), C.double(options.Alpha)
	o.temperature, o.distillation = C.double(options.Temperature), C.deit_distillation(options.Distillation)
	o.label_smoothing, o.seed = C.double(options.LabelSmoothing), C.uint64_t(options.Seed)
	o.cache_teacher_logits = b2i(options.CacheTeacherLogits)
	o.clip_grad, o.drop_path = C.double(options.ClipGrad), C.double(options.DropPath)
	o.ema_decay = C.double(options.EMADecay)
	if o.val, err = options.Val.optional(op); err != nil {
		return err
	}
	o.augment = options.Augment.cOptions()
	defer C.free(unsafe.Pointer(o.augment))
	o.device = cString(options.Device)
	defer C.free(unsafe.Pointer(o.device))
	o.best_path = cString(options.BestPath)
	defer C.free(unsafe.Pointer(o.best_path))
	o.teacher_logits_path = cString(options.TeacherLogitsPath)
	defer C.free(unsafe.Pointer(o.teacher_logits_path))
	o.state_path, o.state_every_steps, o.resume = cString(options.State.Path), C.int32_t(options.State.EverySteps), b2i(options.State.Resume)
	defer C.free(unsafe.Pointer(o.state_path))
	if o.group, err = options.Group.optional(op); err != nil {
		return err
	}
	err = withProgress(options.Progress, func(cb C.deit_progress_fn, user unsafe.Pointer) error {
		o.progress, o.user_data = cb, user
		return call(op, func() C.deit_status { return C.deit_distill(p, tp, dp, &o) })
	})
	runtime.KeepAlive(options.Val)
	runtime.KeepAlive(options.Group)
	runtime.KeepAlive(s)
	runtime.KeepAlive(teacher)
	runtime.KeepAlive(train)
	return err
}

// Evaluate returns the accuracy of all three heads on data (eval mode).
func (s *Student) Evaluate(data *Dataset) (EvalResult, error) {
	r, _, err := s.evaluate(data, nil, false)
	return r, err
}

// EvaluateGroup is Evaluate split over the ranks of group, as for the teacher.
func (s *Student) EvaluateGroup(data *Dataset, group *Group) (EvalResult, error) {
	if _, err := group.ptr("deit_student_evaluate_group"); err != nil {
		return EvalResult{}, err
	}
	r, _, err := s.evaluate(data, group, false)
	return r, err
}

// EvaluateConfusion also returns the averaged head's confusion matrix (row =
// true label).
func (s *Student) EvaluateConfusion(data *Dataset) (EvalResult, [][]int64, error) {
	return s.evaluate(data, nil, true)
}

func (s *Student) evaluate(data *Dataset, group *Group, confusion bool) (EvalResult, [][]int64, error) {
	op := "deit_student_evaluate"
	if group != nil {
		op = "deit_student_evaluate_group"
	}
	p, err := s.ptr(op)
	if err != nil {
		return EvalResult{}, nil, err
	}
	dp, err := data.ptr(op)
	if err != nil {
		return EvalResult{}, nil, err
	}
	cfg, err := s.Config()
	if err != nil {
		return EvalResult{}, nil, err
	}
	k := cfg.NumClasses
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
			return C.deit_student_evaluate_group(p, dp, group.p, &r, cp, C.size_t(len(conf)))
		}
		return C.deit_student_evaluate(p, dp, &r, cp, C.size_t(len(conf)))
	})
	runtime.KeepAlive(group)
	runtime.KeepAlive(s)
	runtime.KeepAlive(data)
	if err != nil {
		return EvalResult{}, nil, err
	}
	return evalFromC(&r), rows(conf, k), nil
}

// Predict returns the chosen head's logits, Count x NumClasses row-major.
func (s *Student) Predict(images *Images, head Head) ([]float32, error) {
	const op = "deit_student_predict"
	p, err := s.ptr(op)
	if err != nil {
		return nil, err
	}
	ci, data, err := images.toC(op)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config()
	if err != nil {
		return nil, err
	}
	logits := make([]float32, images.Count*cfg.NumClasses)
	err = call(op, func() C.deit_status {
		return C.deit_go_student_predict(p, ci, data, C.deit_head(head), (*C.float)(unsafe.Pointer(&logits[0])),
			C.size_t(len(logits)))
	})
	runtime.KeepAlive(s)
	runtime.KeepAlive(images)
	if err != nil {
		return nil, err
	}
	return logits, nil
}

// Classify returns the chosen head's predicted class of each image.
func (s *Student) Classify(images *Images, head Head) ([]int32, error) {
	const op = "deit_student_classify"
	p, err := s.ptr(op)
	if err != nil {
		return nil, err
	}
	ci, data, err := images.toC(op)
	if err != nil {
		return nil, err
	}
	classes := make([]int32, images.Count)
	err = call(op, func() C.deit_status {
		return C.deit_go_student_classify(p, ci, data, C.deit_head(head), (*C.int32_t)(unsafe.Pointer(&classes[0])),
			C.size_t(len(classes)))
	})
	runtime.KeepAlive(s)
	runtime.KeepAlive(images)
	if err != nil {
		return nil, err
	}
	return classes, nil
}

// DistillationLoss computes alpha*dist_part + (1-alpha)*cls_part on caller
// logits (n x numClasses each, row-major) and int64 labels; it returns the
// total loss and its two parts.
func DistillationLoss(clsLogits, distLogits, teacherLogits []float32, labels []int64, numClasses int,
	kind Distillation, alpha, temperature, labelSmoothing float64) (loss, lossCls, lossDist float64, err error) {
	const op = "deit_distillation_loss"
	n := len(labels)
	if n == 0 || numClasses <= 0 {
		return 0, 0, 0, argError(op, "need at least one label and one class")
	}
	for _, l := range [][]float32{clsLogits, distLogits} {
		if len(l) != n*numClasses {
			return 0, 0, 0, argError(op, "logits hold %d values, n*numClasses is %d", len(l), n*numClasses)
		}
	}
	var tp *C.float // NULL is allowed with DistillNone; libdeit checks
	if teacherLogits != nil {
		if len(teacherLogits) != n*numClasses {
			return 0, 0, 0, argError(op, "teacher logits hold %d values, n*numClasses is %d", len(teacherLogits),
				n*numClasses)
		}
		tp = (*C.float)(unsafe.Pointer(&teacherLogits[0]))
	}
	var l, lc, ld C.double
	err = call(op, func() C.deit_status {
		return C.deit_distillation_loss((*C.float)(unsafe.Pointer(&clsLogits[0])),
			(*C.float)(unsafe.Pointer(&distLogits[0])), tp, (*C.int64_t)(unsafe.Pointer(&labels[0])),
			C.int64_t(n), C.int32_t(numClasses), C.deit_distillation(kind), C.double(alpha), C.double(temperature),
			C.double(labelSmoothing), &l, &lc, &ld)
	})
	runtime.KeepAlive(teacherLogits)
	return float64(l), float64(lc), float64(ld), err
}
