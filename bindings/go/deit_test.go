package deit_test

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"libdeit/deit"
)

const (
	classes = 4
	side    = 28
	nTrain  = 256
	nTest   = 128
)

// makeTask builds the synthetic task of tests/test_models.c: class k is one of
// four noisy stripe/checker textures with a random phase, so every patch
// carries the class.
func makeTask(t *testing.T, n int, seed int64) (*deit.Images, []int32) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	pix := make([]uint8, n*side*side)
	labels := make([]int32, n)
	for i := 0; i < n; i++ {
		k := i % classes
		labels[i] = int32(k)
		phase := rng.Intn(4)
		img := pix[i*side*side : (i+1)*side*side]
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				var on int
				switch k {
				case 0:
					on = ((y + phase) / 2) % 2
				case 1:
					on = ((x + phase) / 2) % 2
				case 2:
					on = ((x + y + phase) / 2) % 2
				default:
					on = (x/4 + y/4 + phase) % 2
				}
				v := 20 + rng.Intn(80)
				if on != 0 {
					v += 140
				}
				img[y*side+x] = uint8(v)
			}
		}
	}
	return &deit.Images{U8: pix, Count: n, Channels: 1, Height: side, Width: side}, labels
}

func makeDataset(t *testing.T, n int, seed int64) *deit.Dataset {
	t.Helper()
	im, labels := makeTask(t, n, seed)
	ds, err := deit.FromMemory(im, labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return ds
}

// smallStudent is the notebook's student with a narrow MLP (small and fast),
// on the CPU; closed when the test ends.
func smallStudent(t *testing.T, seed uint64) (*deit.Student, deit.StudentConfig) {
	t.Helper()
	cfg, err := deit.PresetConfig("seed", classes)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MLPDim = 128
	s, err := deit.NewStudent(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.SetDevice("cpu"); err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

// wantError checks err is a *deit.Error with the status (through errors.Is)
// whose message contains needle.
func wantError(t *testing.T, err error, status deit.Status, needle string) *deit.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v, got no error", status)
	}
	var e *deit.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *deit.Error, got %T: %v", err, err)
	}
	if !errors.Is(err, status) || e.Status != status {
		t.Fatalf("want status %v, got %v (%v)", status, e.Status, err)
	}
	if !strings.Contains(e.Message, needle) {
		t.Fatalf("message %q does not contain %q", e.Message, needle)
	}
	return e
}

func TestVersion(t *testing.T) {
	if got := deit.VersionNumber(); got != deit.HeaderVersionNumber {
		t.Fatalf("library version %d, header %d", got, deit.HeaderVersionNumber)
	}
	n := deit.VersionNumber()
	if want := fmt.Sprintf("%d.%d.%d", n/10000, n/100%100, n%100); deit.Version() != want {
		t.Fatalf("Version() = %q, want %q", deit.Version(), want)
	}
	var major, minor int
	if _, err := fmt.Sscanf(deit.LibTorchVersion(), "%d.%d", &major, &minor); err != nil || major < 1 {
		t.Fatalf("LibTorchVersion() = %q", deit.LibTorchVersion())
	}
	if !deit.CUDACompiled() && deit.CUDAAvailable() {
		t.Fatal("CUDA available in a build without CUDA")
	}
	if got := fmt.Sprint(deit.TeacherArchs()); got != "[resnet18 resnet34 resnet50 resnet101 resnet152 resnet18-small-image resnet34-small-image resnet50-small-image resnet20-small-image resnet56-small-image]" {
		t.Fatalf("TeacherArchs() = %s", got)
	}
	if got := fmt.Sprint(deit.StudentPresets()); got != "[seed deit-tiny deit-small deit-base small-image]" {
		t.Fatalf("StudentPresets() = %s", got)
	}
}

func TestErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	_, err := deit.OpenDir(missing, deit.SplitTrain)
	e := wantError(t, err, deit.ErrIO, missing)
	if e.Op != "deit_dataset_open_dir" || errors.Is(err, deit.ErrFormat) {
		t.Fatalf("unexpected error details: %+v", e)
	}
	if !strings.Contains(err.Error(), deit.ErrIO.String()) {
		t.Fatalf("Error() %q lacks the status text %q", err.Error(), deit.ErrIO.String())
	}
	if deit.ErrIO.String() == deit.ErrFormat.String() || deit.ErrIO.String() == "" {
		t.Fatalf("status texts: %q, %q", deit.ErrIO.String(), deit.ErrFormat.String())
	}

	// A file that is not IDX: a format error, not an I/O error.
	bad := filepath.Join(t.TempDir(), "bad-idx")
	if err := os.WriteFile(bad, []byte("definitely not an IDX file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = deit.OpenIDX(bad, bad)
	wantError(t, err, deit.ErrFormat, "")

	_, err = deit.NewTeacher("resnet9", classes)
	wantError(t, err, deit.ErrInvalidArg, "resnet9")
	_, err = deit.PresetConfig("no-such-preset", classes)
	wantError(t, err, deit.ErrInvalidArg, "no-such-preset")
	_, err = deit.ResolveDevice("gpu7")
	wantError(t, err, deit.ErrInvalidArg, "gpu7")
	if dev, err := deit.ResolveDevice("cpu"); err != nil || dev != "cpu" {
		t.Fatalf("ResolveDevice(cpu) = %q, %v", dev, err)
	}

	// Checked by the binding: libdeit only sees a pointer.
	im, labels := makeTask(t, 4, 1)
	short := *im
	short.U8 = short.U8[:len(short.U8)-1]
	_, err = deit.FromMemory(&short, labels, classes)
	wantError(t, err, deit.ErrInvalidArg, "count*channels*height*width")
	_, err = deit.FromMemory(im, labels[:3], classes)
	wantError(t, err, deit.ErrInvalidArg, "3 labels for 4 images")

	// A closed handle fails cleanly; Close twice is harmless.
	ds, err := deit.FromMemory(im, labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	ds.Close()
	ds.Close()
	_, err = ds.Info()
	wantError(t, err, deit.ErrInvalidArg, "closed")
}

// deit_last_error is per OS thread: every goroutine must read its own
// message even when many fail at once.
func TestErrorsConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				path := filepath.Join(dir, fmt.Sprintf("missing-%d-%d", g, i))
				_, err := deit.OpenDir(path, deit.SplitTest)
				var e *deit.Error
				if !errors.As(err, &e) || !strings.Contains(e.Message, path) {
					errs <- fmt.Errorf("goroutine %d: want a message naming %s, got %v", g, path, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDatasetRoundTrip(t *testing.T) {
	// 6 RGB images of 5x4 given as NHWC; libdeit stores NCHW.
	const n, c, h, w = 6, 3, 5, 4
	nhwc := make([]uint8, n*h*w*c)
	for i := range nhwc {
		nhwc[i] = uint8(i * 7)
	}
	labels := []int32{2, 0, 1, 2, 2, 0}
	ds, err := deit.FromMemory(&deit.Images{U8: nhwc, Layout: deit.LayoutNHWC, Count: n, Channels: c, Height: h, Width: w},
		labels, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	info, err := ds.Info()
	if err != nil {
		t.Fatal(err)
	}
	want := deit.DatasetInfo{Count: n, Channels: c, Height: h, Width: w, NumClasses: 3, DType: deit.DTypeU8,
		Format: deit.FormatMemory}
	if info != want {
		t.Fatalf("Info() = %+v, want %+v", info, want)
	}
	got, err := ds.Images(0, n)
	if err != nil {
		t.Fatal(err)
	}
	if got.F32 != nil || len(got.U8) != n*c*h*w {
		t.Fatalf("Images: %d uint8, %d float32 values", len(got.U8), len(got.F32))
	}
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					a := got.U8[((i*c+ch)*h+y)*w+x]
					b := nhwc[((i*h+y)*w+x)*c+ch]
					if a != b {
						t.Fatalf("image %d channel %d (%d,%d): %d, want %d", i, ch, y, x, a, b)
					}
				}
			}
		}
	}
	gotLabels, err := ds.Labels(1, 4)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotLabels) != fmt.Sprint(labels[1:5]) {
		t.Fatalf("Labels(1, 4) = %v, want %v", gotLabels, labels[1:5])
	}
	hist, err := ds.LabelHistogram()
	if err != nil || fmt.Sprint(hist) != "[2 1 3]" {
		t.Fatalf("LabelHistogram() = %v, %v", hist, err)
	}
	_, err = ds.Labels(4, 3)
	wantError(t, err, deit.ErrInvalidArg, "")

	first, err := ds.SubsetFirst(2)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	fi, _ := first.Info()
	fl, _ := first.Labels(0, 2)
	if fi.Count != 2 || fmt.Sprint(fl) != "[2 0]" {
		t.Fatalf("SubsetFirst(2): %+v %v", fi, fl)
	}
	half, err := ds.SubsetFraction(0.5, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	if hi, _ := half.Info(); hi.Count != 3 {
		t.Fatalf("SubsetFraction(0.5) has %d images, want 3", hi.Count)
	}
	_, err = ds.SubsetFraction(1.5, 3)
	wantError(t, err, deit.ErrInvalidArg, "fraction")

	// float32 images come back bit for bit.
	f := make([]float32, 2*1*3*3)
	for i := range f {
		f[i] = float32(i)*0.25 - 1
	}
	fds, err := deit.FromMemory(&deit.Images{F32: f, Count: 2, Channels: 1, Height: 3, Width: 3}, []int32{1, 0}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer fds.Close()
	fim, err := fds.Images(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(fim.F32) != fmt.Sprint(f) {
		t.Fatalf("float32 round trip: %v, want %v", fim.F32, f)
	}
}

func TestLogFunc(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	if err := deit.SetLogFunc(func(level deit.LogLevel, msg string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf("%d %s", level, msg))
	}); err != nil {
		t.Fatal(err)
	}
	defer deit.SetLogFunc(nil)
	if err := deit.SetLogLevel(deit.LogDebug); err != nil {
		t.Fatal(err)
	}
	defer deit.SetLogLevel(deit.LogWarn)
	makeDataset(t, 4, 1)
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, l := range lines {
		found = found || strings.HasPrefix(l, fmt.Sprintf("%d ", deit.LogDebug)) && strings.Contains(l, "from_memory")
	}
	if !found {
		t.Fatalf("no debug line about from_memory among %q", lines)
	}
	wantError(t, deit.SetLogLevel(deit.LogLevel(42)), deit.ErrInvalidArg, "")
}

func argmax(row []float32) int32 {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return int32(best)
}

// Accuracy bars on the 128 test images (chance is 0.25).  Over up to 5 teacher
// and 20 student seeds at 1 and 2 threads (in Go, Rust and Python, each with
// its own images) the teacher reached 0.91-1.0, the student 0.99-1.0 (both
// heads' average), 0.98-1.0 (class head) and 0.59-1.0 (distillation head);
// an untrained teacher (lr 1e-12) gives 0.31-0.41, shuffled labels 0.20-0.29.
const (
	teacherBar     = 0.7
	studentBar     = 0.7 // averaged heads and class head
	studentDistBar = 0.45
)

// Train a small teacher and distil a student from it on the synthetic task:
// the progress reports add up, both learn, predictions agree with
// evaluation and checkpoints round-trip.  Smoke-sized: the teacher trains
// its head only (the notebook's fine-tuning; backpropagating through the
// whole ResNet costs 5x as much), on 64 images.
func TestTrainPredict(t *testing.T) {
	start := time.Now()
	train, test := makeDataset(t, nTrain, 1), makeDataset(t, nTest, 2)
	teacher, err := deit.NewTeacher("resnet18", classes)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	if err := teacher.SetDevice("cpu"); err != nil {
		t.Fatal(err)
	}
	to := deit.DefaultTeacherTrainOptions()
	if to.Epochs != 3 || to.BatchSize != 64 || to.LR != 1e-3 || to.Trainable != deit.TrainAuto {
		t.Fatalf("teacher defaults: %+v", to)
	}
	teacherSet, err := train.SubsetFirst(64)
	if err != nil {
		t.Fatal(err)
	}
	defer teacherSet.Close()
	// 64 steps: BatchNorm's running statistics (eval mode) need that many.
	to.Epochs, to.BatchSize, to.Trainable = 8, 8, deit.TrainHead
	var steps []int64
	ends := 0
	var bad error
	to.Progress = func(p deit.Progress) error {
		if bad == nil && (p.Phase != deit.PhaseTeacherTrain || p.Epoch != ends+1 || p.Epochs != 8 || p.Steps != 8) {
			bad = fmt.Errorf("bad progress %+v after %d epoch ends", p, ends)
		}
		steps = append(steps, p.Step)
		if p.EndOfEpoch {
			ends++
		}
		return nil
	}
	if err := teacher.Train(teacherSet, &to); err != nil {
		t.Fatal(err)
	}
	if bad != nil {
		t.Fatal(bad)
	}
	if ends != 8 || len(steps) == 0 || steps[len(steps)-1] != 8 {
		t.Fatalf("progress saw steps %v and %d epoch ends, want steps up to 8 and 8 ends", steps, ends)
	}
	t.Logf("teacher trained in %v", time.Since(start))
	tr, conf, err := teacher.EvaluateConfusion(test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("teacher accuracy %.3f loss %.3f (bar %.2f)", tr.Accuracy, tr.Loss, teacherBar)
	if tr.Count != nTest || !(tr.Accuracy > teacherBar) || !(tr.Loss > 0) {
		t.Fatalf("teacher: %+v", tr)
	}
	var diag, total int64
	for i := range conf {
		for j, v := range conf[i] {
			total += v
			if i == j {
				diag += v
			}
		}
	}
	if total != nTest || float64(diag)/nTest != tr.Accuracy {
		t.Fatalf("confusion %v disagrees with accuracy %v", conf, tr.Accuracy)
	}

	student, cfg := smallStudent(t, 7)
	if cfg.ImgSize != 28 || cfg.PatchSize != 7 || cfg.EmbedDim != 32 || cfg.Depth != 4 || cfg.PreNorm {
		t.Fatalf("seed preset: %+v", cfg)
	}
	if got, _ := student.Config(); got != cfg {
		t.Fatalf("Config() = %+v, want %+v", got, cfg)
	}
	do := deit.DefaultDistillOptions()
	if do.Epochs != 5 || do.Alpha != 0.5 || do.Temperature != 2 || do.Distillation != deit.DistillSoft {
		t.Fatalf("distill defaults: %+v", do)
	}
	// Five epochs: with fewer, some seeds leave a head at chance.
	do.BatchSize = 16
	var epochLoss []float64
	do.Progress = func(p deit.Progress) error {
		if p.EndOfEpoch && p.Phase == deit.PhaseDistill {
			epochLoss = append(epochLoss, p.Loss)
		}
		return nil
	}
	if err := student.Distill(teacher, train, &do); err != nil {
		t.Fatal(err)
	}
	t.Logf("student distilled at %v", time.Since(start))
	if len(epochLoss) != 5 || epochLoss[4] >= epochLoss[0] {
		t.Fatalf("epoch losses %v: want 5, decreasing", epochLoss)
	}
	sr, err := student.Evaluate(test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("student accuracy avg %.3f cls %.3f dist %.3f (bars %.2f, %.2f, %.2f)", sr.Accuracy, sr.AccuracyCls,
		sr.AccuracyDist, studentBar, studentBar, studentDistBar)
	if sr.Count != nTest || !(sr.Accuracy > studentBar) || !(sr.AccuracyCls > studentBar) ||
		!(sr.AccuracyDist > studentDistBar) {
		t.Fatalf("student: %+v", sr)
	}

	// Classify is the argmax of Predict, and both agree with Evaluate.
	im, err := test.Images(0, nTest)
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := test.Labels(0, nTest)
	logits, err := student.Predict(im, deit.HeadAvg)
	if err != nil {
		t.Fatal(err)
	}
	cls, err := student.Classify(im, deit.HeadAvg)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i := 0; i < nTest; i++ {
		if a := argmax(logits[i*classes : (i+1)*classes]); a != cls[i] {
			t.Fatalf("image %d: classify %d, argmax of predict %d", i, cls[i], a)
		}
		if cls[i] == labels[i] {
			correct++
		}
	}
	if float64(correct)/nTest != sr.Accuracy {
		t.Fatalf("classify accuracy %d/%d, evaluate %v", correct, nTest, sr.Accuracy)
	}

	// Checkpoints: a reloaded model gives the same logits.
	dir := t.TempDir()
	sp, tp := filepath.Join(dir, "student.safetensors"), filepath.Join(dir, "teacher.safetensors")
	if err := student.Save(sp); err != nil {
		t.Fatal(err)
	}
	if err := teacher.Save(tp); err != nil {
		t.Fatal(err)
	}
	s2, err := deit.LoadStudent(sp)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	l2, err := s2.Predict(im, deit.HeadAvg)
	if err != nil || fmt.Sprint(l2) != fmt.Sprint(logits) {
		t.Fatalf("reloaded student predicts differently (%v)", err)
	}
	t2, err := deit.LoadTeacher(tp)
	if err != nil {
		t.Fatal(err)
	}
	defer t2.Close()
	la, err1 := teacher.Predict(im)
	lb, err2 := t2.Predict(im)
	if err1 != nil || err2 != nil || fmt.Sprint(la) != fmt.Sprint(lb) {
		t.Fatalf("reloaded teacher predicts differently (%v, %v)", err1, err2)
	}
	if arch, err := t2.Arch(); err != nil || arch != "resnet18" {
		t.Fatalf("Arch() = %q, %v", arch, err)
	}
	desc, err := deit.CheckpointDescribe(sp)
	if err != nil || !strings.Contains(desc, "student") {
		t.Fatalf("CheckpointDescribe: %q, %v", desc, err)
	}
	if kind, err := deit.ReadCheckpointKind(sp); err != nil || kind != deit.CheckpointStudent {
		t.Fatalf("ReadCheckpointKind(student) = %v, %v", kind, err)
	}
	if kind, err := deit.ReadCheckpointKind(tp); err != nil || kind != deit.CheckpointTeacher {
		t.Fatalf("ReadCheckpointKind(teacher) = %v, %v", kind, err)
	}
	if _, err := deit.ReadCheckpointKind(sp + ".missing"); !errors.Is(err, deit.ErrIO) {
		t.Fatalf("ReadCheckpointKind(missing) = %v, want ErrIO", err)
	}
}

var errStop = errors.New("stop requested by the test")

// A progress callback that returns an error cancels training; the error comes
// back wrapped, and the student stays usable.
func TestCallbackCancel(t *testing.T) {
	train, test := makeDataset(t, nTrain, 1), makeDataset(t, nTest, 2)
	student, _ := smallStudent(t, 9)
	o := deit.DefaultDistillOptions()
	o.Distillation, o.Epochs, o.BatchSize = deit.DistillNone, 3, 8
	calls := 0
	o.Progress = func(p deit.Progress) error {
		calls++
		if calls >= 2 {
			return errStop
		}
		return nil
	}
	err := student.Distill(nil, train, &o)
	wantError(t, err, deit.ErrCancelled, "cancel")
	if !errors.Is(err, errStop) || !strings.Contains(err.Error(), errStop.Error()) {
		t.Fatalf("cancel error %v does not carry the callback's error", err)
	}
	if calls != 2 {
		t.Fatalf("callback called %d times after cancelling, want 2", calls)
	}
	r, err := student.Evaluate(test)
	if err != nil || r.Count != nTest {
		t.Fatalf("student after cancel: %+v, %v", r, err)
	}

	// A panic in the callback cancels the call and resurfaces in Go, after
	// libdeit has returned.
	o.Progress = func(p deit.Progress) error { panic("boom") }
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		_ = student.Distill(nil, train, &o)
		t.Fatal("Distill returned instead of re-panicking")
	}()
	if _, err := student.Evaluate(test); err != nil {
		t.Fatalf("student after a panic in the callback: %v", err)
	}

	// Without a teacher only DistillNone works; libdeit says so.
	o.Progress, o.Distillation = nil, deit.DistillSoft
	wantError(t, student.Distill(nil, train, &o), deit.ErrInvalidArg, "teacher is NULL")
}

func TestDistillationLoss(t *testing.T) {
	// Identical student and teacher logits: soft distillation's KL part is 0,
	// so the loss is (1 - alpha) * the class head's cross-entropy.
	cls := []float32{2, 0, -1, 0.5, 1, 3}
	labels := []int64{0, 2}
	loss, lc, ld, err := deit.DistillationLoss(cls, cls, cls, labels, 3, deit.DistillSoft, 0.25, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ld > 1e-6 || ld < -1e-6 || lc <= 0 || loss-0.75*lc > 1e-6 || loss-0.75*lc < -1e-6 {
		t.Fatalf("loss %v cls %v dist %v", loss, lc, ld)
	}
	_, _, _, err = deit.DistillationLoss(cls, cls[:5], cls, labels, 3, deit.DistillSoft, 0.5, 2, 0)
	wantError(t, err, deit.ErrInvalidArg, "n*numClasses")
}

// Crash safety, the teacher-logit file and a group of one, as the C API has
// them: a state is written, a resume with other settings is refused naming
// the setting, the same settings resume; the logit file is written; a group
// of one trains and evaluates as the process alone.
func TestStateLogitCacheAndGroup(t *testing.T) {
	dir := t.TempDir()
	train := makeDataset(t, 64, 3)
	teacher, err := deit.NewTeacher("resnet18", classes)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	if err := teacher.SetDevice("cpu"); err != nil {
		t.Fatal(err)
	}
	state, logits := filepath.Join(dir, "state.safetensors"), filepath.Join(dir, "logits.safetensors")
	o := deit.DefaultDistillOptions()
	o.Epochs, o.BatchSize = 1, 32
	o.TeacherLogitsPath = logits
	o.State = deit.StateOptions{Path: state, Resume: true}
	s, _ := smallStudent(t, 1)
	if err := s.Distill(teacher, train, &o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{state, logits} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("not written: %v", err)
		}
	}
	o.Alpha = 0.25
	other, _ := smallStudent(t, 1)
	wantError(t, other.Distill(teacher, train, &o), deit.ErrInvalidArg, "alpha was 0.5, now 0.25")
	o.Alpha = 0.5
	if err := other.Distill(teacher, train, &o); err != nil { // the finished state: nothing left to train
		t.Fatal(err)
	}

	group, err := deit.NewGroup(deit.DefaultGroupOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer group.Close()
	if rank, world, err := group.Rank(); err != nil || rank != 0 || world != 1 {
		t.Fatalf("Rank() = %d, %d, %v", rank, world, err)
	}
	if err := group.Barrier(); err != nil {
		t.Fatal(err)
	}
	alone := deit.DefaultDistillOptions()
	alone.Epochs, alone.BatchSize = 1, 32
	inGroup := alone
	inGroup.Group = group
	a, _ := smallStudent(t, 2)
	b, _ := smallStudent(t, 2)
	if err := a.Distill(teacher, train, &alone); err != nil {
		t.Fatal(err)
	}
	if err := b.Distill(teacher, train, &inGroup); err != nil {
		t.Fatal(err)
	}
	ra, errA := a.Evaluate(train)
	rb, errB := b.EvaluateGroup(train, group)
	if errA != nil || errB != nil || ra.Accuracy != rb.Accuracy || ra.Loss != rb.Loss {
		t.Fatalf("alone %+v (%v), in a group of one %+v (%v)", ra, errA, rb, errB)
	}
	env, err := deit.GroupOptionsFromEnv()
	if err != nil || env.Rank != 0 || env.WorldSize != 1 {
		t.Fatalf("GroupOptionsFromEnv() = %+v, %v", env, err)
	}
	if !deit.GroupBackendAvailable("gloo") && deit.GroupBackendAvailable("nccl") {
		t.Fatal("NCCL without Gloo")
	}
	group.Close()
	if _, err := b.EvaluateGroup(train, group); err == nil {
		t.Fatal("a closed group was used")
	}
}

// The process-wide settings: visible, the defaults in effect after the other
// tests' calls, and not changed again once applied.
func TestRuntimeSettings(t *testing.T) {
	if _, err := deit.NewTeacher("resnet18", classes); err != nil { // some libdeit work first
		t.Fatal(err)
	}
	deit.NumThreads()
	got, applied, err := deit.RuntimeSettings()
	if err != nil || !applied || got != deit.DefaultRuntimeOptions() {
		t.Fatalf("RuntimeSettings() = %+v, %v, %v; want the defaults %+v, applied", got, applied, err, deit.DefaultRuntimeOptions())
	}
	if d := deit.DefaultRuntimeOptions(); d.NumThreads != 0 || !d.SingleThreadedBLAS || !d.TuneMalloc {
		t.Fatalf("DefaultRuntimeOptions() = %+v", d)
	}
	wantError(t, deit.RuntimeInit(deit.RuntimeOptions{NumThreads: 1}), deit.ErrState, "applied already")
}

// DeiT's recipe options reach libdeit: the augmentation defaults read back,
// and each of Augment, ClipGrad and DropPath (distillation) and Schedule,
// WarmupEpochs, LabelSmoothing, ClipGrad and Augment (the teacher) changes
// what a tiny training gives, while the same settings give the same weights.
func TestRecipeOptions(t *testing.T) {
	if a := deit.DefaultAugmentOptions(); a != (deit.AugmentOptions{CropPadding: 4, EraseProb: 0.25}) {
		t.Fatalf("DefaultAugmentOptions() = %+v", a)
	}
	if d := deit.DefaultDistillOptions(); d.Augment != nil || d.ClipGrad != 0 || d.DropPath != 0 {
		t.Fatalf("distill recipe defaults: %+v", d)
	}
	if d := deit.DefaultTeacherTrainOptions(); d.Schedule != deit.ScheduleConstant || d.WarmupEpochs != 0 ||
		d.LabelSmoothing != 0 || d.Augment != nil || d.ClipGrad != 0 {
		t.Fatalf("teacher recipe defaults: %+v", d)
	}
	train := makeDataset(t, 64, 5)
	few, err := train.SubsetFirst(16)
	if err != nil {
		t.Fatal(err)
	}
	defer few.Close()
	probe, _ := makeTask(t, 16, 6)
	augment := deit.DefaultAugmentOptions()
	mixup := deit.AugmentOptions{MixupAlpha: 0.8}

	// A fresh student (always the same initial weights), one epoch without a teacher.
	distilled := func(change func(*deit.DistillOptions)) string {
		t.Helper()
		s, _ := smallStudent(t, 5)
		o := deit.DefaultDistillOptions()
		o.Distillation, o.Epochs, o.BatchSize, o.Seed = deit.DistillNone, 1, 16, 3
		change(&o)
		if err := s.Distill(nil, train, &o); err != nil {
			t.Fatal(err)
		}
		logits, err := s.Predict(probe, deit.HeadAvg)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(logits)
	}
	base := distilled(func(*deit.DistillOptions) {})
	if again := distilled(func(*deit.DistillOptions) {}); again != base {
		t.Fatal("the same distillation twice gave different students")
	}
	for name, change := range map[string]func(*deit.DistillOptions){
		"Augment":       func(o *deit.DistillOptions) { o.Augment = &augment },
		"Augment mixup": func(o *deit.DistillOptions) { o.Augment = &mixup },
		"DropPath":      func(o *deit.DistillOptions) { o.DropPath = 0.3 },
		"ClipGrad":      func(o *deit.DistillOptions) { o.ClipGrad = 1e-3 },
		"EMADecay":      func(o *deit.DistillOptions) { o.EMADecay = 0.9 },
	} {
		got := distilled(change)
		if got == base {
			t.Errorf("%s: the student is the same as without it", name)
		}
		if again := distilled(change); again != got {
			t.Errorf("%s: the same settings twice gave different students", name)
		}
	}
	s, _ := smallStudent(t, 5)
	bad := deit.DefaultDistillOptions()
	bad.Distillation, bad.Epochs = deit.DistillNone, 1
	bad.Augment = &deit.AugmentOptions{CropPadding: 4, ResizedCropScale: 0.5}
	wantError(t, s.Distill(nil, train, &bad), deit.ErrInvalidArg, "choose one crop")
	bad.Augment, bad.DropPath = nil, 1.5
	wantError(t, s.Distill(nil, train, &bad), deit.ErrInvalidArg, "drop_path")
	bad.DropPath, bad.EMADecay = 0, 1
	wantError(t, s.Distill(nil, train, &bad), deit.ErrInvalidArg, "ema_decay")

	// A fresh resnet18 (seed 0), 4 head-only steps on 16 images; lrs gets the reported learning rates.
	trained := func(change func(*deit.TeacherTrainOptions), lrs *[]float64) string {
		t.Helper()
		teacher, err := deit.NewTeacher("resnet18", classes)
		if err != nil {
			t.Fatal(err)
		}
		defer teacher.Close()
		if err := teacher.SetDevice("cpu"); err != nil {
			t.Fatal(err)
		}
		o := deit.DefaultTeacherTrainOptions()
		o.Epochs, o.BatchSize, o.Trainable = 2, 8, deit.TrainHead
		o.Progress = func(p deit.Progress) error {
			*lrs = append(*lrs, p.LR)
			return nil
		}
		change(&o)
		if err := teacher.Train(few, &o); err != nil {
			t.Fatal(err)
		}
		logits, err := teacher.Predict(probe)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(logits)
	}
	var baseLRs, lrs []float64
	tbase := trained(func(*deit.TeacherTrainOptions) {}, &baseLRs)
	for _, lr := range baseLRs {
		if lr != baseLRs[0] {
			t.Fatalf("constant schedule reported learning rates %v", baseLRs)
		}
	}
	if again := trained(func(*deit.TeacherTrainOptions) {}, &lrs); again != tbase {
		t.Fatal("the same teacher training twice gave different teachers")
	}
	for name, change := range map[string]func(*deit.TeacherTrainOptions){
		"Augment":        func(o *deit.TeacherTrainOptions) { o.Augment = &augment },
		"LabelSmoothing": func(o *deit.TeacherTrainOptions) { o.LabelSmoothing = 0.2 },
		"ClipGrad":       func(o *deit.TeacherTrainOptions) { o.ClipGrad = 1e-4 },
	} {
		if trained(change, &lrs) == tbase {
			t.Errorf("teacher %s: the teacher is the same as without it", name)
		}
	}
	withAugment := func(o *deit.TeacherTrainOptions) { o.Augment = &augment }
	if trained(withAugment, &lrs) != trained(withAugment, &lrs) {
		t.Error("teacher Augment: the same settings twice gave different teachers")
	}
	var cosine []float64
	trained(func(o *deit.TeacherTrainOptions) { o.Schedule, o.WarmupEpochs = deit.ScheduleCosine, 1 }, &cosine)
	varied := false
	for _, lr := range cosine {
		varied = varied || lr != cosine[0]
		if lr > baseLRs[0]*(1+1e-12) {
			t.Fatalf("cosine learning rates %v exceed the base %v", cosine, baseLRs[0])
		}
	}
	if !varied {
		t.Fatalf("cosine with warmup reported learning rates %v", cosine)
	}
	teacher, err := deit.NewTeacher("resnet18", classes)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	tbad := deit.DefaultTeacherTrainOptions()
	tbad.Epochs, tbad.BatchSize, tbad.Augment = 1, 8, &deit.AugmentOptions{EraseProb: 2}
	wantError(t, teacher.Train(few, &tbad), deit.ErrInvalidArg, "erase_prob")
	tbad.Augment, tbad.Schedule, tbad.WarmupEpochs = nil, deit.ScheduleCosine, 3
	wantError(t, teacher.Train(few, &tbad), deit.ErrInvalidArg, "warmup_epochs")
}

// TestValidation: Split holds a share out (the counts add up); with Val every
// epoch's end reports a ValAccuracy in [0, 1] (no other report has one), the
// last is the trained student's accuracy on Val, and BestPath holds a
// loadable checkpoint of the best epoch. The teacher passes Val through too.
func TestValidation(t *testing.T) {
	all := makeDataset(t, 40, 11)
	first, rest, err := all.Split(0.25, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	defer rest.Close()
	fi, err1 := first.Info()
	ri, err2 := rest.Info()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if fi.Count != 10 || ri.Count != 30 || fi.Count+ri.Count != 40 {
		t.Fatalf("Split(0.25) of 40: %d + %d images", fi.Count, ri.Count)
	}
	sub, err := all.SubsetFraction(0.25, 9)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	a, err1 := first.Images(0, 10)
	b, err2 := sub.Images(0, 10)
	if err1 != nil || err2 != nil || fmt.Sprint(a.U8) != fmt.Sprint(b.U8) {
		t.Fatalf("Split's first part is not SubsetFraction's (%v, %v)", err1, err2)
	}
	f, r, err := all.Split(1.0, 9)
	wantError(t, err, deit.ErrInvalidArg, "leaves none")
	if f != nil || r != nil {
		t.Fatal("a failed Split returned data sets")
	}
	_, _, err = all.Split(0, 9)
	wantError(t, err, deit.ErrInvalidArg, "outside (0, 1]")

	val, train, err := makeDataset(t, nTrain, 12).Split(0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer val.Close()
	defer train.Close()
	best := filepath.Join(t.TempDir(), "best.safetensors")
	student, _ := smallStudent(t, 4)
	o := deit.DefaultDistillOptions()
	o.Distillation, o.Epochs, o.BatchSize = deit.DistillNone, 2, 32
	o.Val, o.BestPath = val, best
	var accs []float64
	stray := 0
	o.Progress = func(p deit.Progress) error {
		if p.EndOfEpoch && p.Phase == deit.PhaseDistill {
			accs = append(accs, p.ValAccuracy)
		} else if p.ValAccuracy != -1 {
			stray++
		}
		return nil
	}
	if err := student.Distill(nil, train, &o); err != nil {
		t.Fatal(err)
	}
	if len(accs) != 2 || stray != 0 {
		t.Fatalf("epoch-end validation accuracies %v, %d other reports with one", accs, stray)
	}
	top := -1.0
	for _, a := range accs {
		if a < 0 || a > 1 {
			t.Fatalf("validation accuracy %v outside [0, 1]", accs)
		}
		if a > top {
			top = a
		}
	}
	if got, err := student.Evaluate(val); err != nil || got.Accuracy != accs[1] {
		t.Fatalf("the trained student on val: %+v, %v; the last epoch reported %v", got, err, accs[1])
	}
	loaded, err := deit.LoadStudent(best)
	if err != nil {
		t.Fatalf("best_path: %v", err)
	}
	defer loaded.Close()
	if got, err := loaded.Evaluate(val); err != nil || got.Accuracy != top {
		t.Fatalf("the best checkpoint on val: %+v, %v; the best epoch reported %v", got, err, top)
	}

	// BestPath needs Val; without either nothing is reported.
	o.Val, o.Progress = nil, nil
	wantError(t, student.Distill(nil, train, &o), deit.ErrInvalidArg, "best_path is set but val is NULL")
	o.BestPath, o.Epochs = "", 1
	o.Progress = func(p deit.Progress) error {
		if p.ValAccuracy != -1 {
			stray++
		}
		return nil
	}
	if err := student.Distill(nil, train, &o); err != nil || stray != 0 {
		t.Fatalf("without Val: %v, %d reports with a validation accuracy", err, stray)
	}

	// The teacher: one head-only epoch on 16 images.
	teacher, err := deit.NewTeacher("resnet18", classes)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	if err := teacher.SetDevice("cpu"); err != nil {
		t.Fatal(err)
	}
	few, err := train.SubsetFirst(16)
	if err != nil {
		t.Fatal(err)
	}
	defer few.Close()
	to := deit.DefaultTeacherTrainOptions()
	to.Epochs, to.BatchSize, to.Trainable, to.Val = 1, 8, deit.TrainHead, val
	var tacc []float64
	to.Progress = func(p deit.Progress) error {
		if p.EndOfEpoch {
			tacc = append(tacc, p.ValAccuracy)
		}
		return nil
	}
	if err := teacher.Train(few, &to); err != nil {
		t.Fatal(err)
	}
	if got, err := teacher.Evaluate(val); err != nil || len(tacc) != 1 || tacc[0] != got.Accuracy {
		t.Fatalf("teacher: epoch-end validation %v, evaluate %+v, %v", tacc, got, err)
	}
}

// Pretrained weights: PretrainedConfig reads the architecture (num_heads from the preset of that shape),
// LoadWeights makes another student of it predict exactly what the saved one did, and a file that is no
// ViT is refused naming the tensor it lacks.
func TestPretrainedWeights(t *testing.T) {
	cfg, err := deit.PresetConfig("small-image", 10)
	if err != nil {
		t.Fatal(err)
	}
	original, err := deit.NewStudent(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer original.Close()
	path := filepath.Join(t.TempDir(), "student.safetensors")
	if err := original.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := deit.PretrainedConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.NumHeads != 4 || got.EmbedDim != 64 || got.NumClasses != 10 || got.Depth != 6 {
		t.Fatalf("PretrainedConfig: %+v", got)
	}
	other, err := deit.NewStudent(got, 99)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	im, _ := makeTask(t, 3, 5)
	want, err1 := original.Predict(im, deit.HeadAvg)
	before, err2 := other.Predict(im, deit.HeadAvg)
	if err1 != nil || err2 != nil || fmt.Sprint(want) == fmt.Sprint(before) {
		t.Fatalf("two seeds predict the same (%v, %v)", err1, err2)
	}
	if err := other.LoadWeights(path); err != nil {
		t.Fatal(err)
	}
	after, err := other.Predict(im, deit.HeadAvg)
	if err != nil || fmt.Sprint(after) != fmt.Sprint(want) {
		t.Fatalf("LoadWeights: predictions differ from the saved student's (%v)", err)
	}
	bad := filepath.Join(t.TempDir(), "no-vit.safetensors")
	if err := os.WriteFile(bad, []byte("\x08\x00\x00\x00\x00\x00\x00\x00{}      "), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = deit.PretrainedConfig(bad)
	wantError(t, err, deit.ErrFormat, "patch_embed.proj.weight")
}

// ExportONNX writes the model (onnxruntime runs such files in tests/pretrained/test_onnx_export.py); a
// one-head model leaves the other head out; a bad head or path is an error and writes nothing.
func TestExportONNX(t *testing.T) {
	cfg, err := deit.PresetConfig("small-image", 10)
	if err != nil {
		t.Fatal(err)
	}
	s, err := deit.NewStudent(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	avg, cls := filepath.Join(dir, "avg.onnx"), filepath.Join(dir, "cls.onnx")
	if err := s.ExportONNX(avg, deit.HeadAvg); err != nil {
		t.Fatal(err)
	}
	if err := s.ExportONNX(cls, deit.HeadCls); err != nil {
		t.Fatal(err)
	}
	a, err1 := os.Stat(avg)
	c, err2 := os.Stat(cls)
	params, err3 := s.NumParams()
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if a.Size() < 4*params || c.Size() >= a.Size() {
		t.Fatalf("sizes: avg %d, cls %d bytes for %d parameters", a.Size(), c.Size(), params)
	}
	wantError(t, s.ExportONNX(filepath.Join(dir, "bad.onnx"), deit.Head(9)), deit.ErrInvalidArg, "head")
	wantError(t, s.ExportONNX(filepath.Join(dir, "missing", "x.onnx"), deit.HeadAvg), deit.ErrIO, "missing")
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("a failed export left files: %v", entries)
	}
}
