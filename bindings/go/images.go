package deit

// #include <stdlib.h>
// #include <deit/deit.h>
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

// ResizeFilter is the interpolation of image files' resize.
type ResizeFilter int32

// Resize filters (both antialiased when downsampling, as PIL's).
const (
	ResizeBilinear ResizeFilter = C.DEIT_RESIZE_BILINEAR
	ResizeBicubic  ResizeFilter = C.DEIT_RESIZE_BICUBIC // timm's DeiT evaluation
)

// Normalize is the input normalisation of the models trained on the images:
// kept in their checkpoints and applied by them to every input (pixels / 255).
type Normalize int32

// Input normalisations.
const (
	NormalizeNone      Normalize = C.DEIT_NORMALIZE_NONE
	NormalizeImageNet  Normalize = C.DEIT_NORMALIZE_IMAGENET  // ImageNet's mean and std: torchvision's, timm's deit/resnet weights
	NormalizeInception Normalize = C.DEIT_NORMALIZE_INCEPTION // 0.5 and 0.5: timm's vit weights
)

// ImageOptions says how image files become stored images, the way
// torchvision's Resize(floor(ImageSize/CropPct)) + CenterCrop(ImageSize) +
// ToTensor make them from PIL images (deit_image_options in deit.h); start
// from DefaultImageOptions.
type ImageOptions struct {
	ImageSize int          // side of the stored square images
	CropPct   float64      // the shorter side is resized to floor(ImageSize/CropPct); 1: to ImageSize
	Filter    ResizeFilter // ResizeBicubic by default
	Channels  int          // 3: RGB (gray files repeated); 1: gray, as PIL's convert("L")
	Threads   int          // decoding threads; 0: the runtime's thread count
	SkipBad   bool         // false: an unreadable image fails the open; true: it is skipped (DatasetInfo.Skipped)
	MaxPixels int64        // larger images are refused before their pixels are allocated
	Normalize Normalize    // NormalizeNone by default
}

func imageOptionsFromC(o *C.deit_image_options) ImageOptions {
	return ImageOptions{ImageSize: int(o.image_size), CropPct: float64(o.crop_pct), Filter: ResizeFilter(o.filter),
		Channels: int(o.channels), Threads: int(o.threads), SkipBad: o.skip_bad != 0, MaxPixels: int64(o.max_pixels),
		Normalize: Normalize(o.normalize)}
}

// DefaultImageOptions returns libdeit's defaults (224 px, crop_pct 0.875,
// bicubic, RGB, PIL's decompression-bomb limit, ...).
func DefaultImageOptions() ImageOptions {
	var o C.deit_image_options
	C.deit_image_options_init_sized(&o, C.size_t(unsafe.Sizeof(o))) // cannot fail on a valid pointer
	return imageOptionsFromC(&o)
}

// toC returns the C struct for options; nil options: libdeit's defaults.
func (options *ImageOptions) toC() C.deit_image_options {
	var o C.deit_image_options
	C.deit_image_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	if options != nil {
		o.image_size, o.crop_pct, o.filter = C.int32_t(options.ImageSize), C.double(options.CropPct),
			C.deit_resize_filter(options.Filter)
		o.channels, o.threads, o.skip_bad = C.int32_t(options.Channels), C.int32_t(options.Threads), b2i(options.SkipBad)
		o.max_pixels, o.normalize = C.int64_t(options.MaxPixels), C.deit_normalize(options.Normalize)
	}
	return o
}

func openImages(op string, path string, split Split, options *ImageOptions,
	open func(*C.char, C.deit_split, *C.deit_image_options, **C.deit_dataset) C.deit_status) (*Dataset, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	o := options.toC()
	var p *C.deit_dataset
	if err := call(op, func() C.deit_status { return open(cpath, C.deit_split(split), &o, &p) }); err != nil {
		return nil, err
	}
	return newDataset(p), nil
}

// OpenFolder opens image files (JPEG, PNG, BMP, PGM/PPM): a folder of class
// folders (torchvision's ImageFolder: classes sorted by name are the labels
// 0, 1, ...), a folder holding such folders as train/ and val/ (or test/)
// (split picks one), or a "path,label" CSV list file. nil options: the
// defaults. ErrIO names a missing file or folder, ErrFormat an unreadable
// image (unless SkipBad), an empty class folder or a malformed list line.
func OpenFolder(path string, split Split, options *ImageOptions) (*Dataset, error) {
	return openImages("deit_dataset_open_folder", path, split, options,
		func(p *C.char, s C.deit_split, o *C.deit_image_options, out **C.deit_dataset) C.deit_status {
			return C.deit_dataset_open_folder(p, s, o, out)
		})
}

// Open opens whatever path holds: a .csv list file (as OpenFolder), or a
// directory as OpenDir reads it (IDX, CIFAR, else image class folders), image
// files made with options (nil: the defaults). What deitctl's --data accepts.
func Open(path string, split Split, options *ImageOptions) (*Dataset, error) {
	return openImages("deit_dataset_open", path, split, options,
		func(p *C.char, s C.deit_split, o *C.deit_image_options, out **C.deit_dataset) C.deit_status {
			return C.deit_dataset_open(p, s, o, out)
		})
}

// ReadImageFile reads one image file preprocessed as OpenFolder would store it
// with the same options: one NCHW uint8 image of Channels x ImageSize x
// ImageSize, for Predict on photographs (a model's ImageOptions prepare it as
// its training images were). nil options: the defaults.
func ReadImageFile(path string, options *ImageOptions) (*Images, error) {
	const op = "deit_image_read_file"
	o := options.toC()
	if o.image_size <= 0 || o.channels <= 0 {
		return nil, argError(op, "image options: image_size and channels must be positive (got %d, %d)",
			int(o.image_size), int(o.channels))
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	im := &Images{Count: 1, Channels: int(o.channels), Height: int(o.image_size), Width: int(o.image_size)}
	im.U8 = make([]uint8, im.Channels*im.Height*im.Width)
	err := call(op, func() C.deit_status {
		return C.deit_image_read_file(cpath, &o, (*C.uint8_t)(unsafe.Pointer(&im.U8[0])), C.size_t(len(im.U8)))
	})
	runtime.KeepAlive(im)
	if err != nil {
		return nil, err
	}
	return im, nil
}

// classNames collects the names of classes [0, n); nil when every name is
// empty (a data set without names: IDX, CIFAR, memory).
func classNames(n int, nameAt func(int) (string, error)) ([]string, error) {
	names := make([]string, n)
	named := false
	for i := range names {
		s, err := nameAt(i)
		if err != nil {
			return nil, err
		}
		names[i], named = s, named || s != ""
	}
	if !named {
		return nil, nil
	}
	return names, nil
}

// ClassName is the name of class i: the folder name or list-file label of
// image folders, "" for data sets without names (IDX, CIFAR, memory).
func (d *Dataset) ClassName(i int) (string, error) {
	const op = "deit_dataset_class_name"
	p, err := d.ptr(op)
	if err != nil {
		return "", err
	}
	s, err := getString(op, func(buf *C.char, capacity C.size_t) C.deit_status {
		return C.deit_dataset_class_name(p, C.int32_t(i), buf, capacity)
	})
	runtime.KeepAlive(d)
	return s, err
}

// ClassNames are the names of all classes by label; nil for data sets without names.
func (d *Dataset) ClassNames() ([]string, error) {
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	return classNames(info.NumClasses, d.ClassName)
}

// ClassName is the name of class i of the data set the teacher was trained on
// (kept in its checkpoint); "" when that data set had none.
func (t *Teacher) ClassName(i int) (string, error) {
	const op = "deit_teacher_class_name"
	p, err := t.ptr(op)
	if err != nil {
		return "", err
	}
	s, err := getString(op, func(buf *C.char, capacity C.size_t) C.deit_status {
		return C.deit_teacher_class_name(p, C.int32_t(i), buf, capacity)
	})
	runtime.KeepAlive(t)
	return s, err
}

// ClassNames are the teacher's class names by output; nil when it has none.
func (t *Teacher) ClassNames() ([]string, error) {
	n, err := t.NumClasses()
	if err != nil {
		return nil, err
	}
	return classNames(n, t.ClassName)
}

// modelImageOptions: nil (and no error) for ErrState, a model not trained on image files.
func modelImageOptions(op string, get func(*C.deit_image_options) C.deit_status) (*ImageOptions, error) {
	var o C.deit_image_options
	C.deit_image_options_init_sized(&o, C.size_t(unsafe.Sizeof(o)))
	err := call(op, func() C.deit_status { return get(&o) })
	if errors.Is(err, ErrState) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := imageOptionsFromC(&o)
	return &r, nil
}

// ImageOptions are the options the teacher's training images were made with
// (ImageSize, CropPct, Filter, Channels; the rest the defaults), for
// ReadImageFile; nil (and no error) when it was not trained on image files.
func (t *Teacher) ImageOptions() (*ImageOptions, error) {
	const op = "deit_teacher_image_options"
	p, err := t.ptr(op)
	if err != nil {
		return nil, err
	}
	r, err := modelImageOptions(op, func(o *C.deit_image_options) C.deit_status {
		return C.deit_teacher_image_options(p, o)
	})
	runtime.KeepAlive(t)
	return r, err
}

// ClassName is the name of class i of the data set the student was distilled
// on (kept in its checkpoint); "" when that data set had none.
func (s *Student) ClassName(i int) (string, error) {
	const op = "deit_student_class_name"
	p, err := s.ptr(op)
	if err != nil {
		return "", err
	}
	name, err := getString(op, func(buf *C.char, capacity C.size_t) C.deit_status {
		return C.deit_student_class_name(p, C.int32_t(i), buf, capacity)
	})
	runtime.KeepAlive(s)
	return name, err
}

// ClassNames are the student's class names by output; nil when it has none.
func (s *Student) ClassNames() ([]string, error) {
	c, err := s.Config()
	if err != nil {
		return nil, err
	}
	return classNames(c.NumClasses, s.ClassName)
}

// ImageOptions are the options the student's training images were made with,
// as for the teacher; nil (and no error) when it was not trained on image files.
func (s *Student) ImageOptions() (*ImageOptions, error) {
	const op = "deit_student_image_options"
	p, err := s.ptr(op)
	if err != nil {
		return nil, err
	}
	r, err := modelImageOptions(op, func(o *C.deit_image_options) C.deit_status {
		return C.deit_student_image_options(p, o)
	})
	runtime.KeepAlive(s)
	return r, err
}
