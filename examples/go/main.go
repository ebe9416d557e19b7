// Trains a tiny ResNet-18 teacher and a DeiT "seed" student through the Go
// binding (or loads a student checkpoint), then prints accuracy and a few
// predictions. Data: the first images of Fashion-MNIST when it is installed
// (apt-get install dataset-fashion-mnist), a folder of image class folders
// (-data DIR: train/ + val/, or the classes themselves, made 28 x 28 for the
// seed student and named after their folders), else (or with -synthetic) a
// synthetic 4-class task that trains in seconds.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"

	"libdeit/deit"
)

var fashionNames = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
	"Sneaker", "Bag", "Ankle boot"}

func main() {
	dataDir := flag.String("data", "/usr/share/datasets/fashion-mnist", "IDX or CIFAR directory, or image class folders")
	synth := flag.Bool("synthetic", false, "use the synthetic task even if -data exists")
	load := flag.String("student", "", "load this student checkpoint instead of training")
	save := flag.String("save", "", "save the trained student here")
	flag.Parse()
	if *synth {
		*dataDir = ""
	}
	if err := run(*dataDir, *load, *save); err != nil {
		fmt.Fprintln(os.Stderr, "deit-example-go:", err)
		os.Exit(1)
	}
}

// plan is how much to train: a demo, so the runs are short.
type plan struct {
	nTrain, nTest                int
	teacherEpochs, studentEpochs int
	teacherBatch, studentBatch   int
}

func run(dataDir, load, save string) error {
	fmt.Printf("libdeit %s, %d threads\n", deit.Version(), deit.NumThreads())
	train, test, names, p, err := openData(dataDir)
	if err != nil {
		return err
	}
	defer train.Close()
	defer test.Close()
	info, err := test.Info()
	if err != nil {
		return err
	}

	var student *deit.Student
	if load != "" {
		if student, err = deit.LoadStudent(load); err != nil {
			return err
		}
		fmt.Println("loaded student", load)
	} else if student, err = trainModels(train, test, info.NumClasses, p); err != nil {
		return err
	}
	defer student.Close()
	if save != "" {
		if err := student.Save(save); err != nil {
			return err
		}
		fmt.Println("saved student to", save)
	}

	r, err := student.Evaluate(test)
	if err != nil {
		return err
	}
	chance := 1 / float64(info.NumClasses)
	fmt.Printf("student accuracy %.2f%% (class head %.2f%%, distillation head %.2f%%, chance %.0f%%)\n",
		100*r.Accuracy, 100*r.AccuracyCls, 100*r.AccuracyDist, 100*chance)

	// A few predictions of the averaged head.
	const show = 8
	images, err := test.Images(0, show)
	if err != nil {
		return err
	}
	labels, err := test.Labels(0, show)
	if err != nil {
		return err
	}
	classes, err := student.Classify(images, deit.HeadAvg)
	if err != nil {
		return err
	}
	for i := range classes {
		fmt.Printf("  image %d: predicted %-12s true %s\n", i, names(int(classes[i])), names(int(labels[i])))
	}
	if r.Accuracy <= chance {
		return errors.New("the student is no better than chance")
	}
	return nil
}

// trainModels fine-tunes a ResNet-18 teacher from scratch and distills it into
// the reference notebook's student (short runs: this is a demo).
func trainModels(train, test *deit.Dataset, numClasses int, p plan) (*deit.Student, error) {
	teacher, err := deit.NewTeacher("resnet18", numClasses)
	if err != nil {
		return nil, err
	}
	defer teacher.Close()
	to := deit.DefaultTeacherTrainOptions()
	// From scratch, a gentler lr keeps BatchNorm's statistics usable in eval mode.
	to.Epochs, to.BatchSize, to.LR = p.teacherEpochs, p.teacherBatch, 3e-4
	to.Progress = printEpochs("teacher")
	if err := teacher.Train(train, &to); err != nil {
		return nil, err
	}
	tr, err := teacher.Evaluate(test)
	if err != nil {
		return nil, err
	}
	fmt.Printf("teacher accuracy %.2f%%\n", 100*tr.Accuracy)

	cfg, err := deit.PresetConfig("seed", numClasses)
	if err != nil {
		return nil, err
	}
	cfg.MLPDim = 128 // the notebook's 2048 learns too slowly for a demo of a few hundred steps
	student, err := deit.NewStudent(cfg, 0)
	if err != nil {
		return nil, err
	}
	do := deit.DefaultDistillOptions() // soft distillation, T = 2, alpha = 0.5
	do.Epochs, do.BatchSize = p.studentEpochs, p.studentBatch
	do.Progress = printEpochs("student")
	if err := student.Distill(teacher, train, &do); err != nil {
		student.Close()
		return nil, err
	}
	return student, nil
}

func printEpochs(what string) deit.ProgressFunc {
	return func(p deit.Progress) error {
		if p.EndOfEpoch && p.Phase != deit.PhaseTeacherLogits {
			fmt.Printf("%s epoch %d/%d: loss %.4f, %.0f images/s\n", what, p.Epoch, p.Epochs, p.Loss, p.ImagesPerSec)
		}
		return nil
	}
}

// openData returns the first images of the directory's splits, or a
// synthetic task when dir is "" or absent, with a plan that suits them.
func openData(dir string) (train, test *deit.Dataset, names func(int) string, p plan, err error) {
	if _, statErr := os.Stat(dir); dir == "" || statErr != nil {
		if dir != "" {
			fmt.Printf("%s not found: ", dir)
		}
		fmt.Println("using a synthetic 4-class task")
		p = plan{nTrain: 256, nTest: 128, teacherEpochs: 2, studentEpochs: 5, teacherBatch: 16, studentBatch: 8}
		names = func(k int) string { return []string{"horizontal", "vertical", "diagonal", "checker"}[k] }
		if train, err = synthetic(p.nTrain, 1); err != nil {
			return nil, nil, nil, p, err
		}
		if test, err = synthetic(p.nTest, 2); err != nil {
			train.Close()
			return nil, nil, nil, p, err
		}
		return train, test, names, p, nil
	}
	p = plan{nTrain: 1000, nTest: 500, teacherEpochs: 2, studentEpochs: 5, teacherBatch: 32, studentBatch: 32}
	// Image class folders are decoded and made 28 x 28 RGB for the seed student; IDX and CIFAR as stored.
	folder, err := isImageFolder(dir)
	if err != nil {
		return nil, nil, nil, p, err
	}
	imageOptions := deit.DefaultImageOptions()
	imageOptions.ImageSize, imageOptions.CropPct = 28, 1
	open := func(split deit.Split, n int) (*deit.Dataset, error) {
		var full *deit.Dataset
		var err error
		if folder {
			full, err = deit.OpenFolder(dir, split, &imageOptions)
		} else {
			full, err = deit.OpenDir(dir, split)
		}
		if err != nil {
			return nil, err
		}
		defer full.Close()
		info, err := full.Info()
		if err != nil {
			return nil, err
		}
		if info.Count < n {
			n = info.Count
		}
		return full.SubsetFirst(n)
	}
	if train, err = open(deit.SplitTrain, p.nTrain); err != nil {
		return nil, nil, nil, p, err
	}
	if test, err = open(deit.SplitTest, p.nTest); err != nil {
		train.Close()
		return nil, nil, nil, p, err
	}
	// Class names: the folders' (libdeit keeps them in the data set and the models), else Fashion-MNIST's.
	classNames, err := train.ClassNames()
	if err != nil {
		return nil, nil, nil, p, err
	}
	if len(classNames) == 0 {
		classNames = fashionNames
	}
	names = func(k int) string {
		if k < len(classNames) {
			return classNames[k]
		}
		return fmt.Sprint(k)
	}
	trainInfo, err := train.Info()
	if err != nil {
		return nil, nil, nil, p, err
	}
	testInfo, err := test.Info()
	if err != nil {
		return nil, nil, nil, p, err
	}
	fmt.Printf("data: %s, %d train / %d test images\n", dir, trainInfo.Count, testInfo.Count)
	return train, test, names, p, nil
}

// isImageFolder: dir holds class folders (or train/ and val/ of them) rather than IDX or CIFAR files.
func isImageFolder(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			return false, nil // IDX and CIFAR directories hold files
		}
	}
	return len(entries) > 0, nil
}

// synthetic makes n 28x28 images of four noisy textures (stripes three ways
// and a checkerboard) with random phases.
func synthetic(n int, seed int64) (*deit.Dataset, error) {
	const side = 28
	rng := rand.New(rand.NewSource(seed))
	pix := make([]uint8, n*side*side)
	labels := make([]int32, n)
	for i := range labels {
		k := i % 4
		labels[i] = int32(k)
		phase := rng.Intn(4)
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				on := [4]int{(y + phase) / 2 % 2, (x + phase) / 2 % 2, (x + y + phase) / 2 % 2, (x/4 + y/4 + phase) % 2}[k]
				pix[i*side*side+y*side+x] = uint8(20 + rng.Intn(80) + 140*on)
			}
		}
	}
	return deit.FromMemory(&deit.Images{U8: pix, Count: n, Channels: 1, Height: side, Width: side}, labels, 4)
}
