package deit_test

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"libdeit/deit"
)

// writePNG writes a w x h image of one colour, as an 8-bit gray PNG when gray is set.
func writePNG(t *testing.T, path string, w, h int, c color.Color, gray bool) {
	t.Helper()
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = color.GrayModel.Convert(c).(color.Gray).Y
		}
		img = g
	} else {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.Set(x, y, c)
			}
		}
		img = m
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// An image folder the test writes: classes sorted by name (byte order: "Zebra" before "apple") give the
// labels, files sorted within a class; one-colour images keep their colour through resize and crop, so
// the stored pixels are known exactly (a gray file repeated over RGB).
func TestImageFolder(t *testing.T) {
	root := t.TempDir()
	type file struct {
		path string
		rgb  [3]uint8
		gray bool
	}
	files := []file{ // in the order libdeit must store them
		{"Zebra/a.png", [3]uint8{250, 10, 20}, false},
		{"Zebra/b.ppm", [3]uint8{1, 2, 3}, false},
		{"apple/x.png", [3]uint8{90, 90, 90}, true},
		{"mango/1.pgm", [3]uint8{77, 77, 77}, true},
		{"mango/2.png", [3]uint8{0, 128, 255}, false},
		{"mango/3.png", [3]uint8{200, 100, 50}, false},
	}
	for _, d := range []string{"Zebra", "apple", "mango"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range files {
		p := filepath.Join(root, f.path)
		w, h := 40+7*i, 31+3*i // odd sizes, landscape
		switch filepath.Ext(p) {
		case ".png":
			writePNG(t, p, w, h, color.NRGBA{f.rgb[0], f.rgb[1], f.rgb[2], 255}, f.gray)
		case ".ppm", ".pgm": // netpbm by hand: P6 (RGB) or P5 (gray)
			magic, ch := "P6", 3
			if f.gray {
				magic, ch = "P5", 1
			}
			data := []byte(fmt.Sprintf("%s\n%d %d\n255\n", magic, w, h))
			for j := 0; j < w*h; j++ {
				data = append(data, f.rgb[:ch]...)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	def := deit.DefaultImageOptions()
	if def.ImageSize != 224 || def.CropPct != 0.875 || def.Filter != deit.ResizeBicubic || def.Channels != 3 ||
		def.SkipBad || def.MaxPixels <= 0 {
		t.Fatalf("DefaultImageOptions() = %+v", def)
	}
	opts := def
	opts.ImageSize, opts.CropPct, opts.Filter = 20, 0.9, deit.ResizeBilinear
	ds, err := deit.OpenFolder(root, deit.SplitTrain, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	info, err := ds.Info()
	if err != nil {
		t.Fatal(err)
	}
	want := deit.DatasetInfo{Count: 6, Channels: 3, Height: 20, Width: 20, NumClasses: 3, DType: deit.DTypeU8,
		Format: deit.FormatFolder}
	if info != want {
		t.Fatalf("Info() = %+v, want %+v", info, want)
	}
	names, err := ds.ClassNames()
	if err != nil || !reflect.DeepEqual(names, []string{"Zebra", "apple", "mango"}) {
		t.Fatalf("ClassNames() = %q, %v", names, err)
	}
	if n, err := ds.ClassName(2); n != "mango" || err != nil {
		t.Fatalf("ClassName(2) = %q, %v", n, err)
	}
	_, err = ds.ClassName(3)
	wantError(t, err, deit.ErrInvalidArg, "")
	labels, err := ds.Labels(0, 6)
	if err != nil || !reflect.DeepEqual(labels, []int32{0, 0, 1, 2, 2, 2}) {
		t.Fatalf("Labels = %v, %v", labels, err)
	}
	im, err := ds.Images(0, 6)
	if err != nil {
		t.Fatal(err)
	}
	const px = 20 * 20
	for i, f := range files {
		for c := 0; c < 3; c++ {
			plane := im.U8[(i*3+c)*px : (i*3+c+1)*px]
			for _, v := range plane {
				if v != f.rgb[c] {
					t.Fatalf("%s channel %d: stored %d, the file holds %d", f.path, c, v, f.rgb[c])
				}
			}
		}
		one, err := deit.ReadImageFile(filepath.Join(root, f.path), &opts)
		if err != nil {
			t.Fatal(err)
		}
		if one.Count != 1 || one.Channels != 3 || one.Height != 20 ||
			!reflect.DeepEqual(one.U8, im.U8[i*3*px:(i+1)*3*px]) {
			t.Fatalf("ReadImageFile(%s) differs from the stored image", f.path)
		}
	}

	// Open dispatches to the folder reader; nil options are the defaults (224 px).
	all, err := deit.Open(root, deit.SplitTrain, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	if i, _ := all.Info(); i.Height != 224 || i.Count != 6 || i.Format != deit.FormatFolder {
		t.Fatalf("Open(nil options): %+v", i)
	}

	// A zero-byte file fails the open, naming it; SkipBad leaves it out and counts it.
	if err := os.WriteFile(filepath.Join(root, "apple", "broken.png"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = deit.OpenFolder(root, deit.SplitTrain, &opts)
	wantError(t, err, deit.ErrFormat, "broken.png")
	skip := opts
	skip.SkipBad = true
	kept, err := deit.OpenFolder(root, deit.SplitTrain, &skip)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if i, _ := kept.Info(); i.Count != 6 || i.Skipped != 1 {
		t.Fatalf("SkipBad: %+v", i)
	}
	_, err = deit.OpenFolder(filepath.Join(root, "no-such-folder"), deit.SplitTrain, nil)
	wantError(t, err, deit.ErrIO, "no-such-folder")

	// Data sets without names, and models trained on them, have none.
	mem := makeDataset(t, 8, 1)
	if n, err := mem.ClassNames(); n != nil || err != nil {
		t.Fatalf("memory ClassNames() = %q, %v", n, err)
	}

	teacher, err := deit.NewTeacher("resnet18", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer teacher.Close()
	if n, err := teacher.ClassNames(); n != nil || err != nil {
		t.Fatalf("new teacher ClassNames() = %q, %v", n, err)
	}
	if n, err := teacher.ClassName(1); n != "" || err != nil {
		t.Fatalf("new teacher ClassName(1) = %q, %v", n, err)
	}
	if o, err := teacher.ImageOptions(); o != nil || err != nil {
		t.Fatalf("new teacher ImageOptions() = %+v, %v", o, err)
	}

	// A student distilled on the folder keeps its names and image options through Save/Load.
	cfg, err := deit.PresetConfig("seed", 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MLPDim, cfg.ImgSize = 64, 28
	s, err := deit.NewStudent(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.ClassNames(); n != nil || err != nil {
		t.Fatalf("untrained student ClassNames() = %q, %v", n, err)
	}
	if o, err := s.ImageOptions(); o != nil || err != nil {
		t.Fatalf("untrained student ImageOptions() = %+v, %v", o, err)
	}
	o28 := skip
	o28.ImageSize = 28
	train, err := deit.OpenFolder(root, deit.SplitTrain, &o28)
	if err != nil {
		t.Fatal(err)
	}
	defer train.Close()
	if err := s.SetDevice("cpu"); err != nil {
		t.Fatal(err)
	}
	d := deit.DefaultDistillOptions()
	d.Epochs, d.BatchSize, d.Distillation = 1, 4, deit.DistillNone
	if err := s.Distill(nil, train, &d); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "student.safetensors")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := deit.LoadStudent(path)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	if n, err := loaded.ClassNames(); !reflect.DeepEqual(n, []string{"Zebra", "apple", "mango"}) || err != nil {
		t.Fatalf("loaded student ClassNames() = %q, %v", n, err)
	}
	got, err := loaded.ImageOptions()
	if err != nil || got == nil || got.ImageSize != 28 || got.CropPct != 0.9 || got.Filter != deit.ResizeBilinear ||
		got.Channels != 3 {
		t.Fatalf("loaded student ImageOptions() = %+v, %v", got, err)
	}
	photo, err := deit.ReadImageFile(filepath.Join(root, "mango", "2.png"), got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Predict(photo, deit.HeadAvg); err != nil {
		t.Fatal(err)
	}
}
