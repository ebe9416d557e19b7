package deit

// #include <stdlib.h>
// #include <deit/deit.h>
// #include "trampoline.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// Split selects the train or test part of a data set directory.
type Split int32

// Splits of a data set directory.
const (
	SplitTrain Split = C.DEIT_SPLIT_TRAIN
	SplitTest  Split = C.DEIT_SPLIT_TEST
)

// DType is how image or label values are stored.
type DType int32

// Element types of deit.h.
const (
	DTypeU8  DType = C.DEIT_DTYPE_U8  // images 0..255, scaled to [0, 1]
	DTypeF32 DType = C.DEIT_DTYPE_F32 // images used as given
	DTypeI32 DType = C.DEIT_DTYPE_I32
	DTypeI64 DType = C.DEIT_DTYPE_I64
)

// Layout is the order of an image block's dimensions.
type Layout int32

// Image layouts; NHWC only with uint8 images.
const (
	LayoutNCHW Layout = C.DEIT_LAYOUT_NCHW
	LayoutNHWC Layout = C.DEIT_LAYOUT_NHWC
)

// Format is where a data set came from.
type Format int32

// Data set formats.
const (
	FormatIDX      Format = C.DEIT_FORMAT_IDX
	FormatCIFAR10  Format = C.DEIT_FORMAT_CIFAR10
	FormatCIFAR100 Format = C.DEIT_FORMAT_CIFAR100
	FormatMemory   Format = C.DEIT_FORMAT_MEMORY
	FormatFolder   Format = C.DEIT_FORMAT_FOLDER // image files: class folders or a list file
)

// Images is a block of Count images of Channels x Height x Width values,
// either uint8 (U8) or float32 (F32): set exactly one of the two slices.
type Images struct {
	U8       []uint8
	F32      []float32
	Layout   Layout // LayoutNCHW (the zero value) or LayoutNHWC (U8 only)
	Count    int
	Channels int
	Height   int
	Width    int
}

// toC checks the slice against the dimensions (libdeit cannot: it gets a bare
// pointer) and returns the shape (data NULL) and the data pointer, which the
// deit_go_* helpers of trampoline.h put together on the C side. The pointer
// borrows the Go memory: use it only within that call, then
// runtime.KeepAlive the Images.
func (im *Images) toC(op string) (C.deit_images, unsafe.Pointer, error) {
	var c C.deit_images
	var data unsafe.Pointer
	if im == nil {
		return c, nil, argError(op, "images is nil")
	}
	if im.Count <= 0 || im.Channels <= 0 || im.Height <= 0 || im.Width <= 0 {
		return c, nil, argError(op, "images: count, channels, height and width must be positive (got %d, %d, %d, %d)",
			im.Count, im.Channels, im.Height, im.Width)
	}
	want := im.Count * im.Channels * im.Height * im.Width
	switch {
	case im.U8 != nil && im.F32 != nil:
		return c, nil, argError(op, "images: set U8 or F32, not both")
	case im.U8 != nil:
		if len(im.U8) != want {
			return c, nil, argError(op, "images: U8 holds %d values, count*channels*height*width is %d", len(im.U8), want)
		}
		data = unsafe.Pointer(&im.U8[0])
		c.dtype = C.DEIT_DTYPE_U8
	case im.F32 != nil:
		if len(im.F32) != want {
			return c, nil, argError(op, "images: F32 holds %d values, count*channels*height*width is %d", len(im.F32), want)
		}
		data = unsafe.Pointer(&im.F32[0])
		c.dtype = C.DEIT_DTYPE_F32
	default:
		return c, nil, argError(op, "images: neither U8 nor F32 is set")
	}
	c.layout = C.deit_layout(im.Layout)
	c.count = C.int64_t(im.Count)
	c.channels = C.int32_t(im.Channels)
	c.height = C.int32_t(im.Height)
	c.width = C.int32_t(im.Width)
	return c, data, nil
}

// Dataset is a set of labelled images held by libdeit.
type Dataset struct {
	p *C.deit_dataset
}

func newDataset(p *C.deit_dataset) *Dataset {
	d := &Dataset{p: p}
	runtime.SetFinalizer(d, (*Dataset).Close)
	return d
}

// Close frees the data set; it is safe to call more than once.
func (d *Dataset) Close() error {
	if d != nil && d.p != nil {
		C.deit_dataset_free(d.p)
		d.p = nil
		runtime.SetFinalizer(d, nil)
	}
	return nil
}

func (d *Dataset) ptr(op string) (*C.deit_dataset, error) {
	if d == nil || d.p == nil {
		return nil, closedError(op, "dataset")
	}
	return d.p, nil
}

// OpenDir opens an IDX (MNIST family), CIFAR-10 or CIFAR-100 directory, or
// image class folders (OpenFolder with the default ImageOptions).
func OpenDir(dir string, split Split) (*Dataset, error) {
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	var p *C.deit_dataset
	if err := call("deit_dataset_open_dir", func() C.deit_status {
		return C.deit_dataset_open_dir(cdir, C.deit_split(split), &p)
	}); err != nil {
		return nil, err
	}
	return newDataset(p), nil
}

// OpenIDX opens an IDX image file and label file (.gz or raw).
func OpenIDX(imagesPath, labelsPath string) (*Dataset, error) {
	ci, cl := C.CString(imagesPath), C.CString(labelsPath)
	defer C.free(unsafe.Pointer(ci))
	defer C.free(unsafe.Pointer(cl))
	var p *C.deit_dataset
	if err := call("deit_dataset_open_idx", func() C.deit_status { return C.deit_dataset_open_idx(ci, cl, &p) }); err != nil {
		return nil, err
	}
	return newDataset(p), nil
}

// OpenCIFAR opens CIFAR binary files, concatenated in order; numClasses is 10
// or 100.
func OpenCIFAR(paths []string, numClasses int) (*Dataset, error) {
	if len(paths) == 0 {
		return nil, argError("deit_dataset_open_cifar", "no paths given")
	}
	cpaths := make([]*C.char, len(paths))
	for i, s := range paths {
		cpaths[i] = C.CString(s)
		defer C.free(unsafe.Pointer(cpaths[i]))
	}
	var p *C.deit_dataset
	if err := call("deit_dataset_open_cifar", func() C.deit_status {
		return C.deit_dataset_open_cifar(&cpaths[0], C.size_t(len(cpaths)), C.int32_t(numClasses), &p)
	}); err != nil {
		return nil, err
	}
	return newDataset(p), nil
}

// FromMemory copies images and their labels (one per image) into a new data
// set; numClasses 0 means max label + 1.
func FromMemory(images *Images, labels []int32, numClasses int) (*Dataset, error) {
	const op = "deit_dataset_from_memory"
	ci, data, err := images.toC(op)
	if err != nil {
		return nil, err
	}
	if len(labels) != images.Count {
		return nil, argError(op, "%d labels for %d images", len(labels), images.Count)
	}
	var p *C.deit_dataset
	err = call(op, func() C.deit_status {
		return C.deit_go_dataset_from_memory(ci, data, unsafe.Pointer(&labels[0]), C.DEIT_DTYPE_I32, C.int32_t(numClasses), &p)
	})
	runtime.KeepAlive(images)
	runtime.KeepAlive(labels)
	if err != nil {
		return nil, err
	}
	return newDataset(p), nil
}

// DatasetInfo describes a data set.
type DatasetInfo struct {
	Count      int
	Channels   int
	Height     int
	Width      int
	NumClasses int
	DType      DType // how images are stored: DTypeU8 or DTypeF32
	Format     Format
	Skipped    int // image files left out as unreadable (ImageOptions.SkipBad) when opened
}

// Info returns the size and shape of the data set.
func (d *Dataset) Info() (DatasetInfo, error) {
	const op = "deit_dataset_get_info"
	p, err := d.ptr(op)
	if err != nil {
		return DatasetInfo{}, err
	}
	var ci C.deit_dataset_info
	ci.struct_size = C.uint32_t(unsafe.Sizeof(ci))
	err = call(op, func() C.deit_status { return C.deit_dataset_get_info(p, &ci) })
	runtime.KeepAlive(d)
	if err != nil {
		return DatasetInfo{}, err
	}
	return DatasetInfo{
		Count: int(ci.count), Channels: int(ci.channels), Height: int(ci.height), Width: int(ci.width),
		NumClasses: int(ci.num_classes), DType: DType(ci.dtype), Format: Format(ci.format),
		Skipped: int(ci.skipped),
	}, nil
}

// LabelHistogram returns the number of images of each class.
func (d *Dataset) LabelHistogram() ([]int64, error) {
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	if info.NumClasses <= 0 {
		return nil, nil
	}
	counts := make([]int64, info.NumClasses)
	err = call("deit_dataset_label_histogram", func() C.deit_status {
		return C.deit_dataset_label_histogram(d.p, (*C.int64_t)(unsafe.Pointer(&counts[0])), C.size_t(len(counts)))
	})
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// SubsetFraction returns a random subset of round(fraction*count) images
// (at least one), chosen by a permutation seeded with seed.
func (d *Dataset) SubsetFraction(fraction float64, seed uint64) (*Dataset, error) {
	const op = "deit_dataset_subset_fraction"
	p, err := d.ptr(op)
	if err != nil {
		return nil, err
	}
	var out *C.deit_dataset
	err = call(op, func() C.deit_status {
		return C.deit_dataset_subset_fraction(p, C.double(fraction), C.uint64_t(seed), &out)
	})
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return newDataset(out), nil
}

// Split splits the data set into the SubsetFraction subset (first:
// round(fraction*count) images, the same permutation) and the rest: disjoint,
// together every image, both non-empty (e.g. a validation set held out of the
// training split). On error neither is created.
func (d *Dataset) Split(fraction float64, seed uint64) (first, rest *Dataset, err error) {
	const op = "deit_dataset_split"
	p, err := d.ptr(op)
	if err != nil {
		return nil, nil, err
	}
	var f, r *C.deit_dataset
	err = call(op, func() C.deit_status {
		return C.deit_dataset_split(p, C.double(fraction), C.uint64_t(seed), &f, &r)
	})
	runtime.KeepAlive(d)
	if err != nil {
		return nil, nil, err
	}
	return newDataset(f), newDataset(r), nil
}

// optional is the C pointer of an optional data set (nil: none).
func (d *Dataset) optional(op string) (*C.deit_dataset, error) {
	if d == nil {
		return nil, nil
	}
	return d.ptr(op)
}

// SubsetFirst returns the first n images (all of them if n is larger).
func (d *Dataset) SubsetFirst(n int) (*Dataset, error) {
	const op = "deit_dataset_subset_first"
	p, err := d.ptr(op)
	if err != nil {
		return nil, err
	}
	var out *C.deit_dataset
	err = call(op, func() C.deit_status { return C.deit_dataset_subset_first(p, C.int64_t(n), &out) })
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return newDataset(out), nil
}

// Images copies images [start, start+count) as stored (NCHW, in the data
// set's DType) into a new Images.
func (d *Dataset) Images(start, count int) (*Images, error) {
	const op = "deit_dataset_copy_images"
	info, err := d.Info()
	if err != nil {
		return nil, err
	}
	if count <= 0 {
		return nil, argError(op, "count must be positive (got %d)", count)
	}
	n := count * info.Channels * info.Height * info.Width
	im := &Images{Count: count, Channels: info.Channels, Height: info.Height, Width: info.Width}
	var buf unsafe.Pointer
	var size uintptr
	if info.DType == DTypeF32 {
		im.F32 = make([]float32, n)
		buf, size = unsafe.Pointer(&im.F32[0]), uintptr(n)*4
	} else {
		im.U8 = make([]uint8, n)
		buf, size = unsafe.Pointer(&im.U8[0]), uintptr(n)
	}
	err = call(op, func() C.deit_status {
		return C.deit_dataset_copy_images(d.p, C.int64_t(start), C.int64_t(count), buf, C.size_t(size))
	})
	runtime.KeepAlive(d)
	runtime.KeepAlive(im)
	if err != nil {
		return nil, err
	}
	return im, nil
}

// Labels copies labels [start, start+count).
func (d *Dataset) Labels(start, count int) ([]int32, error) {
	const op = "deit_dataset_copy_labels"
	p, err := d.ptr(op)
	if err != nil {
		return nil, err
	}
	if count <= 0 {
		return nil, argError(op, "count must be positive (got %d)", count)
	}
	labels := make([]int32, count)
	err = call(op, func() C.deit_status {
		return C.deit_dataset_copy_labels(p, C.int64_t(start), C.int64_t(count),
			(*C.int32_t)(unsafe.Pointer(&labels[0])), C.size_t(count))
	})
	runtime.KeepAlive(d)
	if err != nil {
		return nil, err
	}
	return labels, nil
}
