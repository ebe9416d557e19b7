//! Safe Rust interface to libdeit: fine-tune a ResNet teacher, distill it into
//! a DeiT student and run the student (`include/deit/deit.h`; docs/API.md is
//! the contract).
//!
//! Handles ([`Dataset`], [`Teacher`], [`Student`]) free their C object when
//! dropped. They are `Send` but not `Sync`: libdeit allows a handle to move
//! between threads but not to be used by two at once. Every fallible call
//! returns [`Result`], whose [`Error`] carries libdeit's [`Status`] and message.
//!
//! ```no_run
//! let train = deit::Dataset::open_dir("/usr/share/datasets/fashion-mnist", deit::Split::Train)?;
//! let mut teacher = deit::Teacher::new("resnet18", 10)?;
//! teacher.train(&train, &deit::TeacherTrainOptions::default())?;
//! # Ok::<(), deit::Error>(())
//! ```
use std::any::Any;
use std::ffi::{CStr, CString};
use std::fmt;
use std::ops::ControlFlow;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

pub use deit_sys as sys;

/// A libdeit status other than OK. `Other` holds a code this crate does not
/// know yet (statuses are only ever appended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    InvalidArg,
    Io,
    Format,
    OutOfMemory,
    Unsupported,
    Cancelled,
    BufferTooSmall,
    State,
    Internal,
    Device,
    Numeric,
    Distributed,
    Other(i32),
}

impl Status {
    fn from_raw(code: sys::deit_status) -> Status {
        match code {
            sys::DEIT_E_INVALID_ARG => Status::InvalidArg,
            sys::DEIT_E_IO => Status::Io,
            sys::DEIT_E_FORMAT => Status::Format,
            sys::DEIT_E_OOM => Status::OutOfMemory,
            sys::DEIT_E_UNSUPPORTED => Status::Unsupported,
            sys::DEIT_E_CANCELLED => Status::Cancelled,
            sys::DEIT_E_BUFFER_TOO_SMALL => Status::BufferTooSmall,
            sys::DEIT_E_STATE => Status::State,
            sys::DEIT_E_INTERNAL => Status::Internal,
            sys::DEIT_E_DEVICE => Status::Device,
            sys::DEIT_E_NUMERIC => Status::Numeric,
            sys::DEIT_E_DISTRIBUTED => Status::Distributed,
            other => Status::Other(other),
        }
    }

    /// The C value (`DEIT_E_*`).
    pub fn code(self) -> i32 {
        match self {
            Status::InvalidArg => sys::DEIT_E_INVALID_ARG,
            Status::Io => sys::DEIT_E_IO,
            Status::Format => sys::DEIT_E_FORMAT,
            Status::OutOfMemory => sys::DEIT_E_OOM,
            Status::Unsupported => sys::DEIT_E_UNSUPPORTED,
            Status::Cancelled => sys::DEIT_E_CANCELLED,
            Status::BufferTooSmall => sys::DEIT_E_BUFFER_TOO_SMALL,
            Status::State => sys::DEIT_E_STATE,
            Status::Internal => sys::DEIT_E_INTERNAL,
            Status::Device => sys::DEIT_E_DEVICE,
            Status::Numeric => sys::DEIT_E_NUMERIC,
            Status::Distributed => sys::DEIT_E_DISTRIBUTED,
            Status::Other(c) => c,
        }
    }

    /// libdeit's text for the status ("I/O error", ...).
    pub fn as_str(self) -> &'static str {
        // Static strings inside libdeit, alive as long as the library is loaded.
        unsafe { CStr::from_ptr(sys::deit_status_str(self.code())) }.to_str().unwrap_or("unknown status")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed libdeit call: which C function, its status and libdeit's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    status: Status,
    message: String,
}

impl Error {
    pub fn status(&self) -> Status {
        self.status
    }
    /// libdeit's message (`deit_last_error`), or the binding's own for
    /// arguments it rejects before calling libdeit.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The C function that failed, e.g. `"deit_dataset_open_dir"`.
    pub fn op(&self) -> &'static str {
        self.op
    }
    fn arg(op: &'static str, message: impl Into<String>) -> Error {
        Error { op, status: Status::InvalidArg, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.op, self.message, self.status)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Turns a status into a Result, reading the thread-local message right away
/// (the next libdeit call on this thread would overwrite it).
fn check(op: &'static str, status: sys::deit_status) -> Result<()> {
    if status == sys::DEIT_OK {
        return Ok(());
    }
    let message = unsafe { CStr::from_ptr(sys::deit_last_error()) }.to_string_lossy().into_owned();
    Err(Error { op, status: Status::from_raw(status), message })
}

fn cstring(op: &'static str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::arg(op, format!("{s:?} contains a NUL byte")))
}

fn cpath(op: &'static str, path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::arg(op, format!("path {} contains a NUL byte", path.display())))
}

/// Calls a C function that writes a NUL-terminated string into a buffer,
/// growing the buffer while it is too small.
fn get_string(op: &'static str, mut f: impl FnMut(*mut c_char, usize) -> sys::deit_status) -> Result<String> {
    let mut capacity = 64;
    loop {
        let mut buf = vec![0u8; capacity];
        match check(op, f(buf.as_mut_ptr() as *mut c_char, capacity)) {
            Ok(()) => return Ok(until_nul(&buf)),
            Err(e) if e.status == Status::BufferTooSmall && capacity < 1 << 20 => capacity *= 4,
            Err(e) => return Err(e),
        }
    }
}

/// The text before the first NUL (`CStr::from_bytes_until_nul` is newer than
/// the Rust of Debian 12).
fn until_nul(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// "MAJOR.MINOR.PATCH" of the loaded libdeit.
pub fn version() -> String {
    unsafe { CStr::from_ptr(sys::deit_version_string()) }.to_string_lossy().into_owned()
}

/// MAJOR*10000 + MINOR*100 + PATCH of the loaded libdeit.
pub fn version_number() -> u32 {
    unsafe { sys::deit_version_number() }
}

/// Intra-op CPU threads for all work (0 = all cores).
pub fn set_num_threads(n: i32) -> Result<()> {
    check("deit_set_num_threads", unsafe { sys::deit_set_num_threads(n) })
}

pub fn num_threads() -> i32 {
    unsafe { sys::deit_get_num_threads() }
}

/// libdeit's process-wide settings (deit.h, `deit_runtime_options`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuntimeOptions {
    /// 0: OMP_NUM_THREADS when set, else every core.
    pub num_threads: i32,
    /// OpenBLAS gets one thread (LibTorch's threads split the work).
    pub single_threaded_blas: bool,
    /// glibc's malloc keeps freed blocks during a call.
    pub tune_malloc: bool,
}

impl RuntimeOptions {
    fn from_raw(o: &sys::deit_runtime_options) -> Self {
        RuntimeOptions {
            num_threads: o.num_threads,
            single_threaded_blas: o.single_threaded_blas != 0,
            tune_malloc: o.tune_malloc != 0,
        }
    }
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        let mut o = sys::deit_runtime_options::default();
        unsafe {
            sys::deit_runtime_options_init_sized(&mut o, std::mem::size_of::<sys::deit_runtime_options>())
        };
        Self::from_raw(&o)
    }
}

/// Applies the process-wide settings; call it before any other libdeit work
/// ([`Status::State`] once they have been applied).
pub fn runtime_init(options: &RuntimeOptions) -> Result<()> {
    let mut o = sys::deit_runtime_options::default();
    unsafe { sys::deit_runtime_options_init_sized(&mut o, std::mem::size_of::<sys::deit_runtime_options>()) };
    o.num_threads = options.num_threads;
    o.single_threaded_blas = options.single_threaded_blas as i32;
    o.tune_malloc = options.tune_malloc as i32;
    check("deit_runtime_init", unsafe { sys::deit_runtime_init(&o) })
}

/// The settings in effect and whether they have been applied yet.
pub fn runtime_settings() -> Result<(RuntimeOptions, bool)> {
    let mut o = sys::deit_runtime_options {
        struct_size: std::mem::size_of::<sys::deit_runtime_options>() as u32,
        ..Default::default()
    };
    let mut applied: c_int = 0;
    check("deit_runtime_get", unsafe { sys::deit_runtime_get(&mut o, &mut applied) })?;
    Ok((RuntimeOptions::from_raw(&o), applied != 0))
}

// A library name table: static strings, NULL past the last.
fn names(name_at: unsafe extern "C" fn(usize) -> *const c_char) -> Vec<String> {
    (0..)
        .map(|i| unsafe { name_at(i) })
        .take_while(|p| !p.is_null())
        .map(|p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        .collect()
}

/// The teacher architectures libdeit builds ("resnet18", ...).
pub fn teacher_archs() -> Vec<String> {
    names(sys::deit_teacher_arch_name)
}

/// The student presets ("seed", "deit-tiny", ..., "small-image").
pub fn student_presets() -> Vec<String> {
    names(sys::deit_student_preset_name)
}

/// Version of the LibTorch libdeit was compiled against, e.g. "2.11.0".
pub fn libtorch_version() -> String {
    unsafe { CStr::from_ptr(sys::deit_libtorch_version()) }.to_string_lossy().into_owned()
}

/// Whether libdeit was compiled against a CUDA-enabled LibTorch.
pub fn cuda_compiled() -> bool {
    unsafe { sys::deit_cuda_compiled() != 0 }
}

pub fn cuda_available() -> bool {
    unsafe { sys::deit_cuda_available() != 0 }
}

pub fn cuda_device_count() -> i32 {
    unsafe { sys::deit_cuda_device_count() }
}

/// Checks a device spec ("auto", "cpu", "cuda", "cuda:N") and returns the
/// device it resolves to ("cpu" or "cuda:N").
pub fn resolve_device(spec: &str) -> Result<String> {
    const OP: &str = "deit_resolve_device";
    let spec = cstring(OP, spec)?;
    get_string(OP, |buf, cap| unsafe { sys::deit_resolve_device(spec.as_ptr(), buf, cap) })
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    Off,
}

impl LogLevel {
    fn raw(self) -> sys::deit_log_level {
        match self {
            LogLevel::Debug => sys::DEIT_LOG_DEBUG,
            LogLevel::Info => sys::DEIT_LOG_INFO,
            LogLevel::Warn => sys::DEIT_LOG_WARN,
            LogLevel::Error => sys::DEIT_LOG_ERROR,
            LogLevel::Off => sys::DEIT_LOG_OFF,
        }
    }
    fn from_raw(level: sys::deit_log_level) -> LogLevel {
        match level {
            sys::DEIT_LOG_DEBUG => LogLevel::Debug,
            sys::DEIT_LOG_INFO => LogLevel::Info,
            sys::DEIT_LOG_WARN => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }
}

/// Drops log lines below `level` (default Warn).
pub fn set_log_level(level: LogLevel) -> Result<()> {
    check("deit_set_log_level", unsafe { sys::deit_set_log_level(level.raw()) })
}

type LogCallback = Box<dyn Fn(LogLevel, &str) + Send + Sync>;

unsafe extern "C" fn log_trampoline(level: sys::deit_log_level, message: *const c_char, user: *mut c_void) {
    let f = &*(user as *const LogCallback);
    let message = CStr::from_ptr(message).to_string_lossy();
    // A panic must not unwind into libdeit; a log line cannot cancel anything.
    if catch_unwind(AssertUnwindSafe(|| f(LogLevel::from_raw(level), &message))).is_err() {
        eprintln!("deit: the log callback panicked");
    }
}

/// Routes libdeit's log lines to `f`, which may be called from any thread
/// that is inside a libdeit call. The closure is kept for the life of the
/// process (a line in flight on another thread may still use it).
pub fn set_log_callback<F: Fn(LogLevel, &str) + Send + Sync + 'static>(f: F) -> Result<()> {
    let inner: LogCallback = Box::new(f);
    let boxed: &'static LogCallback = Box::leak(Box::new(inner));
    check("deit_set_log_callback", unsafe {
        sys::deit_set_log_callback(Some(log_trampoline), boxed as *const LogCallback as *mut c_void)
    })
}

/// Restores the default stderr writer.
pub fn reset_log_callback() -> Result<()> {
    check("deit_set_log_callback", unsafe { sys::deit_set_log_callback(None, ptr::null_mut()) })
}

/// Which loader opens a libdeit checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointKind {
    /// [`Teacher::load`]
    Teacher,
    /// [`Student::load`]
    Student,
}

/// A libdeit checkpoint's kind, from its header alone (no tensor data is
/// read); `Status::Format` for plain weights or a training state.
pub fn checkpoint_kind(path: impl AsRef<Path>) -> Result<CheckpointKind> {
    const OP: &str = "deit_checkpoint_read_kind";
    let p = cpath(OP, path.as_ref())?;
    let mut kind: sys::deit_checkpoint_kind = sys::DEIT_CHECKPOINT_TEACHER;
    check(OP, unsafe { sys::deit_checkpoint_read_kind(p.as_ptr(), &mut kind) })?;
    Ok(if kind == sys::DEIT_CHECKPOINT_TEACHER { CheckpointKind::Teacher } else { CheckpointKind::Student })
}

/// A JSON description of a libdeit checkpoint (kind, configuration,
/// parameter count, tensors).
pub fn checkpoint_describe(path: impl AsRef<Path>) -> Result<String> {
    const OP: &str = "deit_checkpoint_describe";
    let p = cpath(OP, path.as_ref())?;
    let mut needed = 0usize;
    match check(OP, unsafe { sys::deit_checkpoint_describe(p.as_ptr(), ptr::null_mut(), 0, &mut needed) }) {
        Ok(()) => {}
        Err(e) if e.status == Status::BufferTooSmall => {}
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; needed.max(1)];
    check(OP, unsafe {
        sys::deit_checkpoint_describe(p.as_ptr(), buf.as_mut_ptr() as *mut c_char, buf.len(), ptr::null_mut())
    })?;
    Ok(until_nul(&buf))
}

// ---------------------------------------------------------------------------
// Data sets

/// The train or test part of a data set directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Order of an image block's dimensions; NHWC only with u8 images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Nchw,
    Nhwc,
}

/// Borrowed pixel values.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    /// 0..255, scaled to [0, 1] as ToTensor does.
    U8(&'a [u8]),
    /// Used as given.
    F32(&'a [f32]),
}

/// A borrowed block of `count` images of `channels x height x width`, checked
/// against the slice length when made.
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    pixels: Pixels<'a>,
    layout: Layout,
    count: usize,
    channels: usize,
    height: usize,
    width: usize,
}

impl<'a> Images<'a> {
    /// Images from `pixels` in `layout`; the slice must hold exactly
    /// count*channels*height*width values.
    pub fn new(
        pixels: Pixels<'a>,
        layout: Layout,
        count: usize,
        channels: usize,
        height: usize,
        width: usize,
    ) -> Result<Self> {
        const OP: &str = "Images::new";
        if count == 0 || channels == 0 || height == 0 || width == 0 {
            return Err(Error::arg(OP, "count, channels, height and width must be positive"));
        }
        let want = count * channels * height * width;
        let len = match pixels {
            Pixels::U8(s) => s.len(),
            Pixels::F32(s) => s.len(),
        };
        if len != want {
            return Err(Error::arg(OP, format!("{len} values given, count*channels*height*width is {want}")));
        }
        Ok(Images { pixels, layout, count, channels, height, width })
    }

    /// NCHW u8 images.
    pub fn u8(data: &'a [u8], count: usize, channels: usize, height: usize, width: usize) -> Result<Self> {
        Self::new(Pixels::U8(data), Layout::Nchw, count, channels, height, width)
    }

    /// NCHW f32 images.
    pub fn f32(data: &'a [f32], count: usize, channels: usize, height: usize, width: usize) -> Result<Self> {
        Self::new(Pixels::F32(data), Layout::Nchw, count, channels, height, width)
    }

    pub fn count(&self) -> usize {
        self.count
    }

    fn raw(&self) -> sys::deit_images {
        let (data, dtype) = match self.pixels {
            Pixels::U8(s) => (s.as_ptr() as *const c_void, sys::DEIT_DTYPE_U8),
            Pixels::F32(s) => (s.as_ptr() as *const c_void, sys::DEIT_DTYPE_F32),
        };
        sys::deit_images {
            data,
            dtype,
            layout: match self.layout {
                Layout::Nchw => sys::DEIT_LAYOUT_NCHW,
                Layout::Nhwc => sys::DEIT_LAYOUT_NHWC,
            },
            count: self.count as i64,
            channels: self.channels as i32,
            height: self.height as i32,
            width: self.width as i32,
        }
    }
}

/// Owned pixel values copied out of a data set.
#[derive(Debug, Clone, PartialEq)]
pub enum PixelBuf {
    U8(Vec<u8>),
    F32(Vec<f32>),
}

/// Owned NCHW images copied out of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBuf {
    pub pixels: PixelBuf,
    pub count: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ImageBuf {
    /// A borrowed view to pass to predict/classify.
    pub fn images(&self) -> Images<'_> {
        let pixels = match &self.pixels {
            PixelBuf::U8(v) => Pixels::U8(v),
            PixelBuf::F32(v) => Pixels::F32(v),
        };
        Images {
            pixels,
            layout: Layout::Nchw,
            count: self.count,
            channels: self.channels,
            height: self.height,
            width: self.width,
        }
    }
}

/// Where a data set came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Idx,
    Cifar10,
    Cifar100,
    Memory,
    /// Image files: class folders or a list file.
    Folder,
    Other(i32),
}

/// Size and shape of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetInfo {
    pub count: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub num_classes: usize,
    /// Whether images are stored as f32 (else u8).
    pub float_images: bool,
    pub format: Format,
    /// Image files left out as unreadable ([`ImageOptions::skip_bad`]) when opened.
    pub skipped: usize,
}

/// Interpolation of image files' resize (antialiased when downsampling, as PIL's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeFilter {
    Bilinear,
    /// timm's DeiT evaluation.
    Bicubic,
}

impl ResizeFilter {
    fn raw(self) -> sys::deit_resize_filter {
        match self {
            ResizeFilter::Bilinear => sys::DEIT_RESIZE_BILINEAR,
            ResizeFilter::Bicubic => sys::DEIT_RESIZE_BICUBIC,
        }
    }
    fn from_raw(f: sys::deit_resize_filter) -> ResizeFilter {
        match f {
            sys::DEIT_RESIZE_BILINEAR => ResizeFilter::Bilinear,
            _ => ResizeFilter::Bicubic,
        }
    }
}

/// The input normalisation of the models trained on the images: kept in their
/// checkpoints and applied by them to every input (pixels / 255).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    None,
    /// ImageNet's mean and std: the input of torchvision's and timm's deit/resnet weights.
    ImageNet,
    /// Mean 0.5 and std 0.5: timm's vit weights.
    Inception,
}

impl Normalize {
    fn raw(self) -> sys::deit_normalize {
        match self {
            Normalize::None => sys::DEIT_NORMALIZE_NONE,
            Normalize::ImageNet => sys::DEIT_NORMALIZE_IMAGENET,
            Normalize::Inception => sys::DEIT_NORMALIZE_INCEPTION,
        }
    }
    fn from_raw(n: sys::deit_normalize) -> Normalize {
        match n {
            sys::DEIT_NORMALIZE_IMAGENET => Normalize::ImageNet,
            sys::DEIT_NORMALIZE_INCEPTION => Normalize::Inception,
            _ => Normalize::None,
        }
    }
}

/// How image files become stored images, the way torchvision's
/// Resize(floor(image_size / crop_pct)) + CenterCrop(image_size) + ToTensor
/// make them from PIL images (`deit_image_options` in deit.h); `Default` gives
/// libdeit's defaults (224 px, 0.875, bicubic, RGB, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageOptions {
    /// Side of the stored square images.
    pub image_size: i32,
    /// The shorter side is resized to floor(image_size / crop_pct); 1: to image_size itself.
    pub crop_pct: f64,
    pub filter: ResizeFilter,
    /// 3: RGB (gray files repeated); 1: gray, as PIL's convert("L").
    pub channels: i32,
    /// Decoding threads; 0: the runtime's thread count.
    pub threads: i32,
    /// false: an unreadable image fails the open, naming the file; true: it is
    /// skipped with a warning ([`DatasetInfo::skipped`]).
    pub skip_bad: bool,
    /// Larger images are refused before their pixels are allocated.
    pub max_pixels: i64,
    /// How the models trained on these images normalise their input.
    pub normalize: Normalize,
}

impl ImageOptions {
    fn raw_defaults() -> sys::deit_image_options {
        let mut o = sys::deit_image_options::default();
        // Cannot fail on a valid pointer; the defaults live in libdeit only.
        unsafe { sys::deit_image_options_init_sized(&mut o, std::mem::size_of::<sys::deit_image_options>()) };
        o
    }

    fn raw(&self) -> sys::deit_image_options {
        sys::deit_image_options {
            image_size: self.image_size,
            crop_pct: self.crop_pct,
            filter: self.filter.raw(),
            channels: self.channels,
            threads: self.threads,
            skip_bad: self.skip_bad as i32,
            max_pixels: self.max_pixels,
            normalize: self.normalize.raw(),
            ..Self::raw_defaults()
        }
    }

    fn from_raw(o: &sys::deit_image_options) -> ImageOptions {
        ImageOptions {
            image_size: o.image_size,
            crop_pct: o.crop_pct,
            filter: ResizeFilter::from_raw(o.filter),
            channels: o.channels,
            threads: o.threads,
            skip_bad: o.skip_bad != 0,
            max_pixels: o.max_pixels,
            normalize: Normalize::from_raw(o.normalize),
        }
    }
}

impl Default for ImageOptions {
    fn default() -> Self {
        Self::from_raw(&Self::raw_defaults())
    }
}

fn raw_split(split: Split) -> sys::deit_split {
    match split {
        Split::Train => sys::DEIT_SPLIT_TRAIN,
        Split::Test => sys::DEIT_SPLIT_TEST,
    }
}

/// The names of classes [0, n); empty when every one is "" (no names).
fn class_names(n: usize, name_at: impl Fn(i32) -> Result<String>) -> Result<Vec<String>> {
    let names = (0..n as i32).map(name_at).collect::<Result<Vec<_>>>()?;
    Ok(if names.iter().all(String::is_empty) { Vec::new() } else { names })
}

/// A model's image options: None for DEIT_E_STATE (not trained on image files).
fn model_image_options(
    op: &'static str,
    get: impl FnOnce(*mut sys::deit_image_options) -> sys::deit_status,
) -> Result<Option<ImageOptions>> {
    let mut o = ImageOptions::raw_defaults();
    match check(op, get(&mut o)) {
        Ok(()) => Ok(Some(ImageOptions::from_raw(&o))),
        Err(e) if e.status == Status::State => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads one image file preprocessed as [`Dataset::open_folder`] would store
/// it with the same options: one NCHW u8 image of channels x image_size x
/// image_size, for prediction on photographs (a model's
/// [`Teacher::image_options`] prepare it as its training images were).
pub fn read_image_file(path: impl AsRef<Path>, options: &ImageOptions) -> Result<ImageBuf> {
    const OP: &str = "deit_image_read_file";
    if options.image_size <= 0 || options.channels <= 0 {
        return Err(Error::arg(OP, "image options: image_size and channels must be positive"));
    }
    let c = cpath(OP, path.as_ref())?;
    let o = options.raw();
    let side = options.image_size as usize;
    let channels = options.channels as usize;
    let mut v = vec![0u8; channels * side * side];
    check(OP, unsafe { sys::deit_image_read_file(c.as_ptr(), &o, v.as_mut_ptr(), v.len()) })?;
    Ok(ImageBuf { pixels: PixelBuf::U8(v), count: 1, channels, height: side, width: side })
}

/// Labelled images held by libdeit.
#[derive(Debug)]
pub struct Dataset {
    raw: NonNull<sys::deit_dataset>,
}

// libdeit: a handle may move between threads, not be used by two at once.
unsafe impl Send for Dataset {}

/// The same handle (not equal contents): lets the option structs that borrow
/// a validation set derive `PartialEq`.
impl PartialEq for Dataset {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Drop for Dataset {
    fn drop(&mut self) {
        unsafe { sys::deit_dataset_free(self.raw.as_ptr()) }
    }
}

fn non_null<T>(op: &'static str, p: *mut T) -> Result<NonNull<T>> {
    NonNull::new(p).ok_or_else(|| Error {
        op,
        status: Status::Internal,
        message: "returned OK but no object".into(),
    })
}

impl Dataset {
    fn wrap(op: &'static str, st: sys::deit_status, p: *mut sys::deit_dataset) -> Result<Dataset> {
        check(op, st)?;
        Ok(Dataset { raw: non_null(op, p)? })
    }

    /// Opens an IDX (MNIST family), CIFAR-10 or CIFAR-100 directory, or image
    /// class folders ([`Dataset::open_folder`] with the default options).
    pub fn open_dir(dir: impl AsRef<Path>, split: Split) -> Result<Dataset> {
        const OP: &str = "deit_dataset_open_dir";
        let d = cpath(OP, dir.as_ref())?;
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_dataset_open_dir(d.as_ptr(), raw_split(split), &mut p) };
        Self::wrap(OP, st, p)
    }

    /// Opens image files (JPEG, PNG, BMP, PGM/PPM): a folder of class folders
    /// (torchvision's ImageFolder: classes sorted by name are the labels 0, 1,
    /// ...), a folder holding such folders as train/ and val/ (or test/)
    /// (`split` picks one), or a "path,label" CSV list file. IO names a
    /// missing file or folder, Format an unreadable image (unless
    /// `skip_bad`), an empty class folder or a malformed list line.
    pub fn open_folder(path: impl AsRef<Path>, split: Split, options: &ImageOptions) -> Result<Dataset> {
        const OP: &str = "deit_dataset_open_folder";
        let c = cpath(OP, path.as_ref())?;
        let o = options.raw();
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_dataset_open_folder(c.as_ptr(), raw_split(split), &o, &mut p) };
        Self::wrap(OP, st, p)
    }

    /// Opens whatever `path` holds: a .csv list file (as
    /// [`Dataset::open_folder`]), or a directory as [`Dataset::open_dir`] reads
    /// it (IDX, CIFAR, else image class folders), image files made with
    /// `options`. What deitctl's --data accepts.
    pub fn open(path: impl AsRef<Path>, split: Split, options: &ImageOptions) -> Result<Dataset> {
        const OP: &str = "deit_dataset_open";
        let c = cpath(OP, path.as_ref())?;
        let o = options.raw();
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_dataset_open(c.as_ptr(), raw_split(split), &o, &mut p) };
        Self::wrap(OP, st, p)
    }

    /// The name of class `index`: the folder name or list-file label of image
    /// folders, "" for data sets without names (IDX, CIFAR, memory).
    pub fn class_name(&self, index: usize) -> Result<String> {
        get_string("deit_dataset_class_name", |buf, cap| unsafe {
            sys::deit_dataset_class_name(self.raw.as_ptr(), index as i32, buf, cap)
        })
    }

    /// The names of all classes by label; empty for data sets without names.
    pub fn class_names(&self) -> Result<Vec<String>> {
        class_names(self.info()?.num_classes, |i| self.class_name(i as usize))
    }

    /// Opens an IDX image file and label file (.gz or raw).
    pub fn open_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset> {
        const OP: &str = "deit_dataset_open_idx";
        let (i, l) = (cpath(OP, images.as_ref())?, cpath(OP, labels.as_ref())?);
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_dataset_open_idx(i.as_ptr(), l.as_ptr(), &mut p) };
        Self::wrap(OP, st, p)
    }

    /// Opens CIFAR binary files (concatenated in order); num_classes 10 or 100.
    pub fn open_cifar<P: AsRef<Path>>(paths: &[P], num_classes: i32) -> Result<Dataset> {
        const OP: &str = "deit_dataset_open_cifar";
        let owned = paths.iter().map(|p| cpath(OP, p.as_ref())).collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_dataset_open_cifar(ptrs.as_ptr(), ptrs.len(), num_classes, &mut p) };
        Self::wrap(OP, st, p)
    }

    /// Copies images and their labels (one per image) into a new data set;
    /// `num_classes` 0 means max label + 1.
    pub fn from_memory(images: &Images<'_>, labels: &[i32], num_classes: i32) -> Result<Dataset> {
        const OP: &str = "deit_dataset_from_memory";
        if labels.len() != images.count {
            return Err(Error::arg(OP, format!("{} labels for {} images", labels.len(), images.count)));
        }
        let raw = images.raw();
        let mut p = ptr::null_mut();
        let st = unsafe {
            sys::deit_dataset_from_memory(
                &raw,
                labels.as_ptr() as *const c_void,
                sys::DEIT_DTYPE_I32,
                num_classes,
                &mut p,
            )
        };
        Self::wrap(OP, st, p)
    }

    pub fn info(&self) -> Result<DatasetInfo> {
        let mut i = sys::deit_dataset_info {
            struct_size: std::mem::size_of::<sys::deit_dataset_info>() as u32,
            ..Default::default()
        };
        check("deit_dataset_get_info", unsafe { sys::deit_dataset_get_info(self.raw.as_ptr(), &mut i) })?;
        Ok(DatasetInfo {
            count: i.count as usize,
            channels: i.channels as usize,
            height: i.height as usize,
            width: i.width as usize,
            num_classes: i.num_classes as usize,
            float_images: i.dtype == sys::DEIT_DTYPE_F32,
            format: match i.format {
                sys::DEIT_FORMAT_IDX => Format::Idx,
                sys::DEIT_FORMAT_CIFAR10 => Format::Cifar10,
                sys::DEIT_FORMAT_CIFAR100 => Format::Cifar100,
                sys::DEIT_FORMAT_MEMORY => Format::Memory,
                sys::DEIT_FORMAT_FOLDER => Format::Folder,
                other => Format::Other(other),
            },
            skipped: i.skipped as usize,
        })
    }

    /// Number of images of each class.
    pub fn label_histogram(&self) -> Result<Vec<i64>> {
        let mut counts = vec![0i64; self.info()?.num_classes];
        check("deit_dataset_label_histogram", unsafe {
            sys::deit_dataset_label_histogram(self.raw.as_ptr(), counts.as_mut_ptr(), counts.len())
        })?;
        Ok(counts)
    }

    /// A random subset of round(fraction*count) images (at least one).
    pub fn subset_fraction(&self, fraction: f64, seed: u64) -> Result<Dataset> {
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_dataset_subset_fraction(self.raw.as_ptr(), fraction, seed, &mut p) };
        Self::wrap("deit_dataset_subset_fraction", st, p)
    }

    /// Splits into the [`Dataset::subset_fraction`] subset (round(fraction *
    /// count) images, the same permutation) and the rest: disjoint, together
    /// every image, both non-empty (e.g. a validation set held out of the
    /// training split). Returns (first, rest).
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        const OP: &str = "deit_dataset_split";
        let (mut first, mut rest) = (ptr::null_mut(), ptr::null_mut());
        let st = unsafe { sys::deit_dataset_split(self.raw.as_ptr(), fraction, seed, &mut first, &mut rest) };
        // On error neither is created; on success own both before checking
        // either, so that neither leaks.
        check(OP, st)?;
        let first = NonNull::new(first).map(|raw| Dataset { raw });
        let rest = NonNull::new(rest).map(|raw| Dataset { raw });
        match (first, rest) {
            (Some(f), Some(r)) => Ok((f, r)),
            _ => Err(Error { op: OP, status: Status::Internal, message: "returned OK but no object".into() }),
        }
    }

    /// The first n images (all of them if n is larger).
    pub fn subset_first(&self, n: usize) -> Result<Dataset> {
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_dataset_subset_first(self.raw.as_ptr(), n as i64, &mut p) };
        Self::wrap("deit_dataset_subset_first", st, p)
    }

    /// Copies images [start, start+count) as stored (NCHW).
    pub fn images(&self, start: usize, count: usize) -> Result<ImageBuf> {
        const OP: &str = "deit_dataset_copy_images";
        let info = self.info()?;
        let n = count * info.channels * info.height * info.width;
        let (pixels, st) = if info.float_images {
            let mut v = vec![0f32; n];
            let st = unsafe {
                sys::deit_dataset_copy_images(
                    self.raw.as_ptr(),
                    start as i64,
                    count as i64,
                    v.as_mut_ptr() as *mut c_void,
                    n * 4,
                )
            };
            (PixelBuf::F32(v), st)
        } else {
            let mut v = vec![0u8; n];
            let st = unsafe {
                sys::deit_dataset_copy_images(
                    self.raw.as_ptr(),
                    start as i64,
                    count as i64,
                    v.as_mut_ptr() as *mut c_void,
                    n,
                )
            };
            (PixelBuf::U8(v), st)
        };
        check(OP, st)?;
        Ok(ImageBuf { pixels, count, channels: info.channels, height: info.height, width: info.width })
    }

    /// Copies labels [start, start+count).
    pub fn labels(&self, start: usize, count: usize) -> Result<Vec<i32>> {
        let mut v = vec![0i32; count];
        check("deit_dataset_copy_labels", unsafe {
            sys::deit_dataset_copy_labels(
                self.raw.as_ptr(),
                start as i64,
                count as i64,
                v.as_mut_ptr(),
                v.len(),
            )
        })?;
        Ok(v)
    }
}

// ---------------------------------------------------------------------------
// Progress

/// What a training or evaluation call is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    TeacherTrain,
    TeacherLogits,
    Distill,
    Evaluate,
    Other(i32),
}

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    /// 1-based.
    pub epoch: i32,
    pub epochs: i32,
    /// 1-based within the epoch.
    pub step: i64,
    pub steps: i64,
    /// Running mean of the total loss this epoch.
    pub loss: f64,
    pub loss_cls: f64,
    pub loss_dist: f64,
    pub lr: f64,
    pub images_per_sec: f64,
    /// Since the epoch started.
    pub seconds: f64,
    pub end_of_epoch: bool,
    /// Accuracy on the options' `val` set (for a student, of the averaged
    /// heads): Some on an epoch's last report when a validation set is given,
    /// None otherwise.
    pub val_accuracy: Option<f64>,
}

impl Progress {
    fn from_raw(p: &sys::deit_progress) -> Progress {
        Progress {
            phase: match p.phase {
                sys::DEIT_PHASE_TEACHER_TRAIN => Phase::TeacherTrain,
                sys::DEIT_PHASE_TEACHER_LOGITS => Phase::TeacherLogits,
                sys::DEIT_PHASE_DISTILL => Phase::Distill,
                sys::DEIT_PHASE_EVALUATE => Phase::Evaluate,
                other => Phase::Other(other),
            },
            epoch: p.epoch,
            epochs: p.epochs,
            step: p.step,
            steps: p.steps,
            loss: p.loss,
            loss_cls: p.loss_cls,
            loss_dist: p.loss_dist,
            lr: p.lr,
            images_per_sec: p.images_per_sec,
            seconds: p.seconds,
            end_of_epoch: p.end_of_epoch != 0,
            val_accuracy: Self::val_accuracy_of(p),
        }
    }

    // -1 means none; a libdeit older than 0.2 passes a shorter struct without the field.
    fn val_accuracy_of(p: &sys::deit_progress) -> Option<f64> {
        let end = std::mem::offset_of!(sys::deit_progress, val_accuracy) + std::mem::size_of::<f64>();
        (p.struct_size as usize >= end && p.val_accuracy >= 0.0).then_some(p.val_accuracy)
    }
}

type ProgressFn<'a> = dyn FnMut(&Progress) -> ControlFlow<()> + 'a;

struct ProgressCtx<'a, 'b> {
    f: &'a mut ProgressFn<'b>,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn progress_trampoline(p: *const sys::deit_progress, user: *mut c_void) -> c_int {
    let ctx = &mut *(user as *mut ProgressCtx<'_, '_>);
    if ctx.panic.is_some() {
        return 1;
    }
    let progress = Progress::from_raw(&*p);
    // A panic must not unwind through libdeit's C++ frames: keep it, cancel,
    // and resume it once the call has returned.
    match catch_unwind(AssertUnwindSafe(|| (ctx.f)(&progress))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => 1,
        Err(payload) => {
            ctx.panic = Some(payload);
            1
        }
    }
}

/// Runs a training call with `f` (if any) installed as its progress callback.
fn with_progress(
    f: Option<&mut ProgressFn<'_>>,
    run: impl FnOnce(sys::deit_progress_fn, *mut c_void) -> Result<()>,
) -> Result<()> {
    match f {
        None => run(None, ptr::null_mut()),
        Some(f) => {
            let mut ctx = ProgressCtx { f, panic: None };
            let result = run(Some(progress_trampoline), &mut ctx as *mut ProgressCtx<'_, '_> as *mut c_void);
            if let Some(payload) = ctx.panic {
                resume_unwind(payload);
            }
            result
        }
    }
}

// ---------------------------------------------------------------------------
// Options and results

/// Optimizer of a training call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    Adam,
    AdamW,
    /// With momentum.
    Sgd,
}

impl Optimizer {
    fn raw(self) -> sys::deit_optimizer {
        match self {
            Optimizer::Adam => sys::DEIT_OPTIM_ADAM,
            Optimizer::AdamW => sys::DEIT_OPTIM_ADAMW,
            Optimizer::Sgd => sys::DEIT_OPTIM_SGD,
        }
    }
    fn from_raw(o: sys::deit_optimizer) -> Optimizer {
        match o {
            sys::DEIT_OPTIM_ADAMW => Optimizer::AdamW,
            sys::DEIT_OPTIM_SGD => Optimizer::Sgd,
            _ => Optimizer::Adam,
        }
    }
}

/// Which teacher weights fine-tuning updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trainable {
    /// Head only after `load_weights`, else all.
    Auto,
    Head,
    All,
}

/// Learning-rate schedule of a training call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Constant,
    /// Linear warmup, then cosine decay to 0.
    Cosine,
}

impl Schedule {
    fn raw(self) -> sys::deit_schedule {
        match self {
            Schedule::Constant => sys::DEIT_SCHEDULE_CONSTANT,
            Schedule::Cosine => sys::DEIT_SCHEDULE_COSINE,
        }
    }
    fn from_raw(s: sys::deit_schedule) -> Schedule {
        if s == sys::DEIT_SCHEDULE_COSINE {
            Schedule::Cosine
        } else {
            Schedule::Constant
        }
    }
}

/// Augmentation of training batches, as in DeiT's recipe (`deit_augment_options`
/// in deit.h); `Default` gives libdeit's defaults. Use it as
/// [`TeacherTrainOptions::augment`] or [`DistillOptions::augment`] (`None`
/// there: the images as stored). The ops run in the order crop, flip,
/// erasing, then mixup / cutmix; their random draws come from the run's seed
/// and step, so runs stay deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AugmentOptions {
    /// Random crop of the image size after zero padding by this many pixels; 0: off.
    pub crop_padding: i32,
    /// 0: off; s in (0, 1]: RandomResizedCrop with area [s, 1] (`crop_padding` must be 0).
    pub resized_crop_scale: f64,
    /// Mirror each image with probability 1/2.
    pub hflip: bool,
    /// Probability of RandomErasing (a box of 2-33% of the image) per image.
    pub erase_prob: f64,
    /// 0: off; > 0: mixup, lambda ~ Beta(a, a).
    pub mixup_alpha: f64,
    /// 0: off; > 0: cutmix (with mixup too, one or the other per batch).
    pub cutmix_alpha: f64,
}

impl AugmentOptions {
    fn raw_defaults() -> sys::deit_augment_options {
        let mut a = sys::deit_augment_options::default();
        // Cannot fail on a valid pointer; the defaults live in libdeit only.
        unsafe {
            sys::deit_augment_options_init_sized(&mut a, std::mem::size_of::<sys::deit_augment_options>())
        };
        a
    }

    fn raw(&self) -> sys::deit_augment_options {
        sys::deit_augment_options {
            crop_padding: self.crop_padding,
            resized_crop_scale: self.resized_crop_scale,
            hflip: self.hflip as i32,
            erase_prob: self.erase_prob,
            mixup_alpha: self.mixup_alpha,
            cutmix_alpha: self.cutmix_alpha,
            ..Self::raw_defaults()
        }
    }
}

impl Default for AugmentOptions {
    fn default() -> Self {
        let a = Self::raw_defaults();
        AugmentOptions {
            crop_padding: a.crop_padding,
            resized_crop_scale: a.resized_crop_scale,
            hflip: a.hflip != 0,
            erase_prob: a.erase_prob,
            mixup_alpha: a.mixup_alpha,
            cutmix_alpha: a.cutmix_alpha,
        }
    }
}

/// The C struct an options struct's `augment` points to during the call (kept
/// alive by the caller), or None.
fn raw_augment(a: &Option<AugmentOptions>) -> Option<sys::deit_augment_options> {
    a.as_ref().map(AugmentOptions::raw)
}

fn augment_ptr(a: &Option<sys::deit_augment_options>) -> *const sys::deit_augment_options {
    a.as_ref().map_or(ptr::null(), |a| a as *const sys::deit_augment_options)
}

/// Loss on the student's distillation head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distillation {
    /// KL(teacher || student) at a temperature, times T^2.
    Soft,
    /// Cross-entropy against the teacher's argmax.
    Hard,
    /// The distillation head learns the labels too (no teacher needed).
    None,
}

impl Distillation {
    fn raw(self) -> sys::deit_distillation {
        match self {
            Distillation::Soft => sys::DEIT_DISTILL_SOFT,
            Distillation::Hard => sys::DEIT_DISTILL_HARD,
            Distillation::None => sys::DEIT_DISTILL_NONE,
        }
    }
}

/// Which of the student's heads gives the logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Mean of both heads (DeiT inference).
    Avg,
    Cls,
    Dist,
}

impl Head {
    fn raw(self) -> sys::deit_head {
        match self {
            Head::Avg => sys::DEIT_HEAD_AVG,
            Head::Cls => sys::DEIT_HEAD_CLS,
            Head::Dist => sys::DEIT_HEAD_DIST,
        }
    }
}

/// Outcome of an evaluation. For a teacher only `accuracy` and `loss` are
/// meaningful; for a student `accuracy` is that of the averaged head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalResult {
    pub count: usize,
    /// In [0, 1].
    pub accuracy: f64,
    pub loss: f64,
    pub accuracy_cls: f64,
    pub accuracy_dist: f64,
}

impl EvalResult {
    fn from_raw(r: &sys::deit_eval_result) -> EvalResult {
        EvalResult {
            count: r.count as usize,
            accuracy: r.accuracy,
            loss: r.loss,
            accuracy_cls: r.accuracy_cls,
            accuracy_dist: r.accuracy_dist,
        }
    }
}

fn new_eval_result() -> sys::deit_eval_result {
    sys::deit_eval_result {
        struct_size: std::mem::size_of::<sys::deit_eval_result>() as u32,
        ..Default::default()
    }
}

/// Options of [`Teacher::train`]; `Default` gives libdeit's defaults. The
/// lifetime is that of the borrowed validation set (`val`).
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherTrainOptions<'a> {
    pub epochs: i32,
    pub batch_size: i32,
    pub lr: f64,
    pub optimizer: Optimizer,
    /// -1: the optimizer's default (0; AdamW 0.05).
    pub weight_decay: f64,
    /// SGD only.
    pub momentum: f64,
    pub trainable: Trainable,
    pub seed: u64,
    /// None: keep the teacher's device.
    pub device: Option<String>,
    /// Crash safety: a resumable state written here at every epoch's end.
    pub state: StateOptions,
    /// Data parallelism: this process is one rank of `group` (batch_size per rank).
    pub group: Option<Arc<Group>>,
    pub schedule: Schedule,
    /// Cosine only.
    pub warmup_epochs: i32,
    pub label_smoothing: f64,
    /// None: the images as stored.
    pub augment: Option<AugmentOptions>,
    /// 0: off; > 0: largest global gradient norm.
    pub clip_grad: f64,
    /// Evaluated at every epoch's end ([`Progress::val_accuracy`]); None: none.
    pub val: Option<&'a Dataset>,
    /// With `val`: the checkpoint of the epoch with the best validation
    /// accuracy so far is written here (atomically; a resumed run starts the
    /// comparison afresh).
    pub best_path: Option<String>,
}

impl Default for TeacherTrainOptions<'_> {
    fn default() -> Self {
        let mut o = std::mem::MaybeUninit::<sys::deit_teacher_train_options>::zeroed();
        // Cannot fail on a valid pointer; the defaults live in libdeit only.
        let o = unsafe {
            sys::deit_teacher_train_options_init_sized(
                o.as_mut_ptr(),
                std::mem::size_of::<sys::deit_teacher_train_options>(),
            );
            o.assume_init()
        };
        TeacherTrainOptions {
            epochs: o.epochs,
            batch_size: o.batch_size,
            lr: o.lr,
            optimizer: Optimizer::from_raw(o.optimizer),
            weight_decay: o.weight_decay,
            momentum: o.momentum,
            trainable: match o.trainable {
                sys::DEIT_TRAIN_HEAD => Trainable::Head,
                sys::DEIT_TRAIN_ALL => Trainable::All,
                _ => Trainable::Auto,
            },
            seed: o.seed,
            device: None,
            state: StateOptions::default(),
            group: None,
            schedule: Schedule::from_raw(o.schedule),
            warmup_epochs: o.warmup_epochs,
            label_smoothing: o.label_smoothing,
            augment: None, // the C default is NULL
            clip_grad: o.clip_grad,
            val: None, // NULL
            best_path: None,
        }
    }
}

/// Crash safety of a training (docs/API.md): with `path`, a resumable state is
/// written there atomically at the end of every epoch (and every
/// `every_steps` steps); `resume` continues from it when it exists.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateOptions {
    pub path: Option<String>,
    pub every_steps: i32,
    pub resume: bool,
}

/// Options of [`Student::distill`]; `Default` gives libdeit's defaults. The
/// lifetime is that of the borrowed validation set (`val`).
#[derive(Debug, Clone, PartialEq)]
pub struct DistillOptions<'a> {
    pub epochs: i32,
    pub batch_size: i32,
    pub lr: f64,
    pub optimizer: Optimizer,
    /// -1: the optimizer's default (0; AdamW 0.05).
    pub weight_decay: f64,
    /// SGD only.
    pub momentum: f64,
    pub schedule: Schedule,
    /// Cosine only.
    pub warmup_epochs: i32,
    /// Weight of the distillation loss.
    pub alpha: f64,
    pub temperature: f64,
    pub distillation: Distillation,
    pub label_smoothing: f64,
    pub seed: u64,
    /// None: keep the student's device.
    pub device: Option<String>,
    /// Compute the frozen teacher's logits once.
    pub cache_teacher_logits: bool,
    /// With `cache_teacher_logits`: keep them in this file between runs.
    pub teacher_logits_path: Option<String>,
    /// Crash safety: a resumable state written here at every epoch's end.
    pub state: StateOptions,
    /// Data parallelism: this process is one rank of `group` (batch_size per rank).
    pub group: Option<Arc<Group>>,
    /// None: the images as stored. With augmentation the teacher runs on each
    /// augmented batch (its logits are not cached).
    pub augment: Option<AugmentOptions>,
    /// 0: off; > 0: largest global gradient norm.
    pub clip_grad: f64,
    /// Stochastic depth rate of the last block (block i of d: rate * i / (d - 1)); training only.
    pub drop_path: f64,
    /// Evaluated at every epoch's end ([`Progress::val_accuracy`], the
    /// averaged heads' accuracy); None: none.
    pub val: Option<&'a Dataset>,
    /// With `val`: the checkpoint of the epoch with the best validation
    /// accuracy so far is written here (atomically).
    pub best_path: Option<String>,
    /// 0: off; in (0, 1): an exponential moving average of the weights
    /// (DeiT's model EMA), which validation sees and the student ends holding.
    pub ema_decay: f64,
}

impl Default for DistillOptions<'_> {
    fn default() -> Self {
        let mut o = std::mem::MaybeUninit::<sys::deit_distill_options>::zeroed();
        let o = unsafe {
            sys::deit_distill_options_init_sized(
                o.as_mut_ptr(),
                std::mem::size_of::<sys::deit_distill_options>(),
            );
            o.assume_init()
        };
        DistillOptions {
            epochs: o.epochs,
            batch_size: o.batch_size,
            lr: o.lr,
            optimizer: Optimizer::from_raw(o.optimizer),
            weight_decay: o.weight_decay,
            momentum: o.momentum,
            schedule: Schedule::from_raw(o.schedule),
            warmup_epochs: o.warmup_epochs,
            alpha: o.alpha,
            temperature: o.temperature,
            distillation: match o.distillation {
                sys::DEIT_DISTILL_HARD => Distillation::Hard,
                sys::DEIT_DISTILL_NONE => Distillation::None,
                _ => Distillation::Soft,
            },
            label_smoothing: o.label_smoothing,
            seed: o.seed,
            device: None,
            cache_teacher_logits: o.cache_teacher_logits != 0,
            teacher_logits_path: None,
            state: StateOptions::default(),
            group: None,
            augment: None, // the C default is NULL
            clip_grad: o.clip_grad,
            drop_path: o.drop_path,
            val: None, // NULL
            best_path: None,
            ema_decay: o.ema_decay,
        }
    }
}

fn optional_cstring(op: &'static str, s: &Option<String>) -> Result<Option<CString>> {
    s.as_deref().map(|s| cstring(op, s)).transpose()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

fn dataset_ptr(d: Option<&Dataset>) -> *const sys::deit_dataset {
    d.map_or(ptr::null(), |d| d.raw.as_ptr() as *const sys::deit_dataset)
}

fn group_ptr(g: &Option<Arc<Group>>) -> *mut sys::deit_group {
    g.as_ref().map_or(ptr::null_mut(), |g| g.raw.as_ptr())
}

// ---------------------------------------------------------------------------
// Data-parallel groups

/// Options of [`Group::new`]; `Default` describes one process.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupOptions {
    pub rank: i32,
    pub world_size: i32,
    /// Rank on this machine (for choosing `cuda:N`).
    pub local_rank: i32,
    pub master_addr: String,
    pub master_port: i32,
    /// None or "auto" (NCCL with CUDA, else Gloo), "gloo", "nccl".
    pub backend: Option<String>,
    pub timeout_seconds: f64,
}

impl GroupOptions {
    fn from_raw(o: &sys::deit_group_options) -> GroupOptions {
        let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        GroupOptions {
            rank: o.rank,
            world_size: o.world_size,
            local_rank: o.local_rank,
            master_addr: text(o.master_addr),
            master_port: o.master_port,
            backend: (!o.backend.is_null()).then(|| text(o.backend)),
            timeout_seconds: o.timeout_seconds,
        }
    }

    fn raw_defaults() -> sys::deit_group_options {
        let mut o = std::mem::MaybeUninit::<sys::deit_group_options>::zeroed();
        unsafe {
            sys::deit_group_options_init_sized(
                o.as_mut_ptr(),
                std::mem::size_of::<sys::deit_group_options>(),
            );
            o.assume_init()
        }
    }

    /// torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
    /// MASTER_PORT, DEIT_DIST_TIMEOUT); one process without WORLD_SIZE.
    pub fn from_env() -> Result<GroupOptions> {
        let mut o = Self::raw_defaults();
        check("deit_group_options_from_env", unsafe { sys::deit_group_options_from_env(&mut o) })?;
        Ok(Self::from_raw(&o))
    }
}

impl Default for GroupOptions {
    fn default() -> Self {
        Self::from_raw(&Self::raw_defaults())
    }
}

/// One rank of a data-parallel training (docs/DISTRIBUTED.md): every rank
/// makes the same calls with the group in their options.
#[derive(Debug)]
pub struct Group {
    raw: NonNull<sys::deit_group>,
}

unsafe impl Send for Group {}
unsafe impl Sync for Group {}

impl PartialEq for Group {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Group {
    /// Joins the group: returns when all `world_size` ranks have joined.
    pub fn new(o: &GroupOptions) -> Result<Group> {
        const OP: &str = "deit_group_create";
        let addr = cstring(OP, &o.master_addr)?;
        let backend = optional_cstring(OP, &o.backend)?;
        let mut raw = GroupOptions::raw_defaults();
        raw.rank = o.rank;
        raw.world_size = o.world_size;
        raw.local_rank = o.local_rank;
        raw.master_addr = addr.as_ptr();
        raw.master_port = o.master_port;
        raw.backend = opt_ptr(&backend);
        raw.timeout_seconds = o.timeout_seconds;
        let mut g = ptr::null_mut();
        check(OP, unsafe { sys::deit_group_create(&raw, &mut g) })?;
        Ok(Group { raw: NonNull::new(g).expect("deit_group_create returned NULL with DEIT_OK") })
    }

    /// (rank, world_size).
    pub fn rank(&self) -> (i32, i32) {
        let (mut rank, mut world) = (0, 0);
        unsafe { sys::deit_group_rank(self.raw.as_ptr(), &mut rank, &mut world) };
        (rank, world)
    }

    /// Waits until every rank has called it.
    pub fn barrier(&self) -> Result<()> {
        check("deit_group_barrier", unsafe { sys::deit_group_barrier(self.raw.as_ptr()) })
    }

    /// Whether this build forms multi-process groups with `backend` ("gloo", "nccl").
    pub fn backend_available(backend: &str) -> bool {
        CString::new(backend).map_or(false, |b| unsafe { sys::deit_group_backend_available(b.as_ptr()) != 0 })
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        unsafe { sys::deit_group_free(self.raw.as_ptr()) }
    }
}

// ---------------------------------------------------------------------------
// Teacher

/// A CNN teacher: a torchvision ResNet or a TorchScript module.
#[derive(Debug)]
pub struct Teacher {
    raw: NonNull<sys::deit_teacher>,
}

unsafe impl Send for Teacher {}

impl Drop for Teacher {
    fn drop(&mut self) {
        unsafe { sys::deit_teacher_free(self.raw.as_ptr()) }
    }
}

impl Teacher {
    fn wrap(op: &'static str, st: sys::deit_status, p: *mut sys::deit_teacher) -> Result<Teacher> {
        check(op, st)?;
        Ok(Teacher { raw: non_null(op, p)? })
    }

    /// A ResNet ("resnet18" ... "resnet152") with `num_classes` outputs,
    /// initialised from seed 0 as torchvision does, on device "auto".
    pub fn new(arch: &str, num_classes: i32) -> Result<Teacher> {
        const OP: &str = "deit_teacher_create";
        let a = cstring(OP, arch)?;
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_teacher_create(a.as_ptr(), num_classes, &mut p) };
        Self::wrap(OP, st, p)
    }

    /// Loads a checkpoint written by [`Teacher::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Teacher> {
        const OP: &str = "deit_teacher_load";
        let c = cpath(OP, path.as_ref())?;
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_teacher_load(c.as_ptr(), &mut p) };
        Self::wrap(OP, st, p)
    }

    /// A TorchScript module (float NCHW images to [N, num_classes] logits).
    pub fn load_torchscript(path: impl AsRef<Path>, num_classes: i32) -> Result<Teacher> {
        const OP: &str = "deit_teacher_load_torchscript";
        let c = cpath(OP, path.as_ref())?;
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_teacher_load_torchscript(c.as_ptr(), num_classes, &mut p) };
        Self::wrap(OP, st, p)
    }

    /// Loads torchvision/timm ResNet weights (.safetensors).
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        const OP: &str = "deit_teacher_load_weights";
        let c = cpath(OP, path.as_ref())?;
        check(OP, unsafe { sys::deit_teacher_load_weights(self.raw.as_ptr(), c.as_ptr()) })
    }

    /// Writes a .safetensors checkpoint atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        const OP: &str = "deit_teacher_save";
        let c = cpath(OP, path.as_ref())?;
        check(OP, unsafe { sys::deit_teacher_save(self.raw.as_ptr(), c.as_ptr()) })
    }

    /// Moves the teacher to "auto", "cpu", "cuda" or "cuda:N".
    pub fn set_device(&mut self, device: &str) -> Result<()> {
        const OP: &str = "deit_teacher_set_device";
        let c = cstring(OP, device)?;
        check(OP, unsafe { sys::deit_teacher_set_device(self.raw.as_ptr(), c.as_ptr()) })
    }

    /// "resnet18", ..., "torchscript".
    pub fn arch(&self) -> Result<String> {
        get_string("deit_teacher_get_arch", |buf, cap| unsafe {
            sys::deit_teacher_get_arch(self.raw.as_ptr(), buf, cap)
        })
    }

    pub fn num_classes(&self) -> Result<usize> {
        let mut n = 0i32;
        check("deit_teacher_num_classes", unsafe {
            sys::deit_teacher_num_classes(self.raw.as_ptr(), &mut n)
        })?;
        Ok(n as usize)
    }

    /// The name of class `index` of the data set the teacher was trained on
    /// (kept in its checkpoint); "" when that data set had none.
    pub fn class_name(&self, index: usize) -> Result<String> {
        get_string("deit_teacher_class_name", |buf, cap| unsafe {
            sys::deit_teacher_class_name(self.raw.as_ptr(), index as i32, buf, cap)
        })
    }

    /// The class names by output; empty when it has none.
    pub fn class_names(&self) -> Result<Vec<String>> {
        class_names(self.num_classes()?, |i| self.class_name(i as usize))
    }

    /// The image options its training images were made with (image_size,
    /// crop_pct, filter, channels; the rest the defaults), for
    /// [`read_image_file`]; None when it was not trained on image files.
    pub fn image_options(&self) -> Result<Option<ImageOptions>> {
        model_image_options("deit_teacher_image_options", |o| unsafe {
            sys::deit_teacher_image_options(self.raw.as_ptr(), o)
        })
    }

    /// Fine-tunes the teacher on `train`.
    pub fn train(&mut self, train: &Dataset, options: &TeacherTrainOptions) -> Result<()> {
        self.train_impl(train, options, None)
    }

    /// As [`Teacher::train`], calling `progress` a few times per second and at
    /// the end of every epoch; `ControlFlow::Break` cancels (the call then
    /// fails with [`Status::Cancelled`], the model usable).
    pub fn train_with_progress<F: FnMut(&Progress) -> ControlFlow<()>>(
        &mut self,
        train: &Dataset,
        options: &TeacherTrainOptions,
        mut progress: F,
    ) -> Result<()> {
        self.train_impl(train, options, Some(&mut progress))
    }

    fn train_impl(
        &mut self,
        train: &Dataset,
        o: &TeacherTrainOptions,
        f: Option<&mut ProgressFn<'_>>,
    ) -> Result<()> {
        const OP: &str = "deit_teacher_train";
        let device = optional_cstring(OP, &o.device)?;
        let mut raw = std::mem::MaybeUninit::<sys::deit_teacher_train_options>::zeroed();
        let mut raw = unsafe {
            sys::deit_teacher_train_options_init_sized(
                raw.as_mut_ptr(),
                std::mem::size_of::<sys::deit_teacher_train_options>(),
            );
            raw.assume_init()
        };
        raw.epochs = o.epochs;
        raw.batch_size = o.batch_size;
        raw.lr = o.lr;
        raw.optimizer = o.optimizer.raw();
        raw.weight_decay = o.weight_decay;
        raw.momentum = o.momentum;
        raw.trainable = match o.trainable {
            Trainable::Auto => sys::DEIT_TRAIN_AUTO,
            Trainable::Head => sys::DEIT_TRAIN_HEAD,
            Trainable::All => sys::DEIT_TRAIN_ALL,
        };
        raw.seed = o.seed;
        raw.device = opt_ptr(&device);
        let state_path = optional_cstring(OP, &o.state.path)?;
        raw.state_path = opt_ptr(&state_path);
        raw.state_every_steps = o.state.every_steps;
        raw.resume = o.state.resume as i32;
        raw.group = group_ptr(&o.group);
        raw.schedule = o.schedule.raw();
        raw.warmup_epochs = o.warmup_epochs;
        raw.label_smoothing = o.label_smoothing;
        let augment = raw_augment(&o.augment); // borrowed by raw until the call returns
        raw.augment = augment_ptr(&augment);
        raw.clip_grad = o.clip_grad;
        raw.val = dataset_ptr(o.val); // borrowed by o for the call
        let best_path = optional_cstring(OP, &o.best_path)?;
        raw.best_path = opt_ptr(&best_path);
        with_progress(f, |cb, user| {
            raw.progress = cb;
            raw.user_data = user;
            check(OP, unsafe { sys::deit_teacher_train(self.raw.as_ptr(), train.raw.as_ptr(), &raw) })
        })
    }

    /// [`Teacher::evaluate`] with each rank of `group` evaluating its share
    /// of `data` (every rank passes the same data); every rank gets the whole result.
    pub fn evaluate_group(&mut self, data: &Dataset, group: &Group) -> Result<EvalResult> {
        let mut r = new_eval_result();
        check("deit_teacher_evaluate_group", unsafe {
            sys::deit_teacher_evaluate_group(
                self.raw.as_ptr(),
                data.raw.as_ptr(),
                group.raw.as_ptr(),
                &mut r,
                ptr::null_mut(),
                0,
            )
        })?;
        Ok(EvalResult::from_raw(&r))
    }

    /// Accuracy and loss on `data` (eval mode).
    pub fn evaluate(&mut self, data: &Dataset) -> Result<EvalResult> {
        let mut r = new_eval_result();
        check("deit_teacher_evaluate", unsafe {
            sys::deit_teacher_evaluate(self.raw.as_ptr(), data.raw.as_ptr(), &mut r, ptr::null_mut(), 0)
        })?;
        Ok(EvalResult::from_raw(&r))
    }

    /// Also the confusion matrix, num_classes x num_classes row-major (row =
    /// true label).
    pub fn evaluate_confusion(&mut self, data: &Dataset) -> Result<(EvalResult, Vec<i64>)> {
        let k = self.num_classes()?;
        let mut conf = vec![0i64; k * k];
        let mut r = new_eval_result();
        check("deit_teacher_evaluate", unsafe {
            sys::deit_teacher_evaluate(
                self.raw.as_ptr(),
                data.raw.as_ptr(),
                &mut r,
                conf.as_mut_ptr(),
                conf.len(),
            )
        })?;
        Ok((EvalResult::from_raw(&r), conf))
    }

    /// Logits, count x num_classes row-major.
    pub fn predict(&mut self, images: &Images<'_>) -> Result<Vec<f32>> {
        let mut logits = vec![0f32; images.count * self.num_classes()?];
        let raw = images.raw();
        check("deit_teacher_predict", unsafe {
            sys::deit_teacher_predict(self.raw.as_ptr(), &raw, logits.as_mut_ptr(), logits.len())
        })?;
        Ok(logits)
    }
}

// ---------------------------------------------------------------------------
// Student

/// Shape of a DeiT student; start from [`StudentConfig::preset`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentConfig {
    pub img_size: i32,
    pub patch_size: i32,
    pub in_channels: i32,
    pub num_classes: i32,
    pub embed_dim: i32,
    pub depth: i32,
    pub num_heads: i32,
    pub mlp_dim: i32,
    /// false: post-norm (seed), true: pre-norm (timm).
    pub pre_norm: bool,
    /// false: ReLU (seed), true: GELU (timm).
    pub gelu: bool,
    pub dropout: f64,
    pub attn_dropout: f64,
    pub ln_eps: f64,
    pub qkv_bias: bool,
    /// true: timm init; false: PyTorch defaults, zero tokens.
    pub trunc_normal_init: bool,
}

impl StudentConfig {
    /// "seed" (the reference notebook's model), "deit-tiny", "deit-small",
    /// "deit-base" (224 pixels), "small-image" (28-32 pixel images: patch 4,
    /// width 64, depth 6, timm layout).
    pub fn preset(preset: &str, num_classes: i32) -> Result<StudentConfig> {
        const OP: &str = "deit_student_config_init";
        let p = cstring(OP, preset)?;
        let mut c = sys::deit_student_config::default();
        let size = std::mem::size_of::<sys::deit_student_config>();
        check(OP, unsafe { sys::deit_student_config_init_sized(&mut c, size, p.as_ptr(), num_classes) })?;
        Ok(Self::from_raw(&c))
    }

    /// The architecture of a weights file: a safetensors state dict under
    /// timm's names (deit_*_distilled_patch16_224, deit_*/vit_* patch16
    /// layouts) or a libdeit student checkpoint.  Change `num_classes`,
    /// `img_size` or `in_channels` for a new task, then [`Student::new`] and
    /// [`Student::load_weights`].
    pub fn from_weights(path: impl AsRef<Path>) -> Result<StudentConfig> {
        const OP: &str = "deit_student_config_from_weights";
        let p = cpath(OP, path.as_ref())?;
        let mut c = sys::deit_student_config::default();
        let size = std::mem::size_of::<sys::deit_student_config>();
        check(OP, unsafe { sys::deit_student_config_from_weights_sized(&mut c, size, p.as_ptr()) })?;
        Ok(Self::from_raw(&c))
    }

    fn from_raw(c: &sys::deit_student_config) -> StudentConfig {
        StudentConfig {
            img_size: c.img_size,
            patch_size: c.patch_size,
            in_channels: c.in_channels,
            num_classes: c.num_classes,
            embed_dim: c.embed_dim,
            depth: c.depth,
            num_heads: c.num_heads,
            mlp_dim: c.mlp_dim,
            pre_norm: c.pre_norm != 0,
            gelu: c.gelu != 0,
            dropout: c.dropout,
            attn_dropout: c.attn_dropout,
            ln_eps: c.ln_eps,
            qkv_bias: c.qkv_bias != 0,
            trunc_normal_init: c.trunc_normal_init != 0,
        }
    }

    fn raw(&self) -> sys::deit_student_config {
        sys::deit_student_config {
            struct_size: std::mem::size_of::<sys::deit_student_config>() as u32,
            img_size: self.img_size,
            patch_size: self.patch_size,
            in_channels: self.in_channels,
            num_classes: self.num_classes,
            embed_dim: self.embed_dim,
            depth: self.depth,
            num_heads: self.num_heads,
            mlp_dim: self.mlp_dim,
            pre_norm: self.pre_norm as i32,
            gelu: self.gelu as i32,
            dropout: self.dropout,
            attn_dropout: self.attn_dropout,
            ln_eps: self.ln_eps,
            qkv_bias: self.qkv_bias as i32,
            trunc_normal_init: self.trunc_normal_init as i32,
        }
    }
}

/// A DeiT vision transformer with [CLS] and [DIST] tokens.
#[derive(Debug)]
pub struct Student {
    raw: NonNull<sys::deit_student>,
}

unsafe impl Send for Student {}

impl Drop for Student {
    fn drop(&mut self) {
        unsafe { sys::deit_student_free(self.raw.as_ptr()) }
    }
}

impl Student {
    fn wrap(op: &'static str, st: sys::deit_status, p: *mut sys::deit_student) -> Result<Student> {
        check(op, st)?;
        Ok(Student { raw: non_null(op, p)? })
    }

    /// A student with weights initialised from `seed`.
    pub fn new(config: &StudentConfig, seed: u64) -> Result<Student> {
        let c = config.raw();
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_student_create(&c, seed, &mut p) };
        Self::wrap("deit_student_create", st, p)
    }

    /// Loads a student checkpoint (.safetensors).
    pub fn load(path: impl AsRef<Path>) -> Result<Student> {
        const OP: &str = "deit_student_load";
        let c = cpath(OP, path.as_ref())?;
        let mut p = ptr::null_mut();
        let st = unsafe { sys::deit_student_load(c.as_ptr(), &mut p) };
        Self::wrap(OP, st, p)
    }

    /// Writes the chosen head's inference as an ONNX model (opset 17): input
    /// "images" f32 [batch, C, H, W] with pixels / 255, output "logits" f32
    /// [batch, classes]; written atomically.
    pub fn export_onnx(&self, path: impl AsRef<Path>, head: Head) -> Result<()> {
        const OP: &str = "deit_student_export_onnx";
        let c = cpath(OP, path.as_ref())?;
        let mut o = sys::deit_onnx_options::default();
        check(OP, unsafe { sys::deit_onnx_options_init_sized(&mut o, std::mem::size_of::<sys::deit_onnx_options>()) })?;
        o.head = head.raw();
        check(OP, unsafe { sys::deit_student_export_onnx(self.raw.as_ptr(), c.as_ptr(), &o) })
    }

    /// Copies pretrained weights into the student, fitted to it: heads of
    /// another class count stay fresh, `pos_embed` is resampled to its image
    /// size, a non-distilled file starts [DIST] from [CLS].
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        const OP: &str = "deit_student_load_weights";
        let c = cpath(OP, path.as_ref())?;
        check(OP, unsafe { sys::deit_student_load_weights(self.raw.as_ptr(), c.as_ptr()) })
    }

    /// Writes a .safetensors checkpoint atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        const OP: &str = "deit_student_save";
        let c = cpath(OP, path.as_ref())?;
        check(OP, unsafe { sys::deit_student_save(self.raw.as_ptr(), c.as_ptr()) })
    }

    /// Moves the student to "auto", "cpu", "cuda" or "cuda:N".
    pub fn set_device(&mut self, device: &str) -> Result<()> {
        const OP: &str = "deit_student_set_device";
        let c = cstring(OP, device)?;
        check(OP, unsafe { sys::deit_student_set_device(self.raw.as_ptr(), c.as_ptr()) })
    }

    pub fn config(&self) -> Result<StudentConfig> {
        let mut c = sys::deit_student_config {
            struct_size: std::mem::size_of::<sys::deit_student_config>() as u32,
            ..Default::default()
        };
        check("deit_student_get_config", unsafe { sys::deit_student_get_config(self.raw.as_ptr(), &mut c) })?;
        Ok(StudentConfig::from_raw(&c))
    }

    pub fn num_params(&self) -> Result<i64> {
        let mut n = 0i64;
        check("deit_student_num_params", unsafe { sys::deit_student_num_params(self.raw.as_ptr(), &mut n) })?;
        Ok(n)
    }

    /// The name of class `index` of the data set the student was distilled on
    /// (kept in its checkpoint); "" when that data set had none.
    pub fn class_name(&self, index: usize) -> Result<String> {
        get_string("deit_student_class_name", |buf, cap| unsafe {
            sys::deit_student_class_name(self.raw.as_ptr(), index as i32, buf, cap)
        })
    }

    /// The class names by output; empty when it has none.
    pub fn class_names(&self) -> Result<Vec<String>> {
        class_names(self.config()?.num_classes as usize, |i| self.class_name(i as usize))
    }

    /// The image options its training images were made with, as for the
    /// teacher; None when it was not trained on image files.
    pub fn image_options(&self) -> Result<Option<ImageOptions>> {
        model_image_options("deit_student_image_options", |o| unsafe {
            sys::deit_student_image_options(self.raw.as_ptr(), o)
        })
    }

    /// Trains the student on `train` against the frozen teacher (None only
    /// with [`Distillation::None`]).
    pub fn distill(
        &mut self,
        teacher: Option<&mut Teacher>,
        train: &Dataset,
        options: &DistillOptions,
    ) -> Result<()> {
        self.distill_impl(teacher, train, options, None)
    }

    /// As [`Student::distill`] with a progress closure; `ControlFlow::Break`
    /// cancels (the call then fails with [`Status::Cancelled`], the student
    /// usable with the weights of the last full step).
    pub fn distill_with_progress<F: FnMut(&Progress) -> ControlFlow<()>>(
        &mut self,
        teacher: Option<&mut Teacher>,
        train: &Dataset,
        options: &DistillOptions,
        mut progress: F,
    ) -> Result<()> {
        self.distill_impl(teacher, train, options, Some(&mut progress))
    }

    fn distill_impl(
        &mut self,
        teacher: Option<&mut Teacher>,
        train: &Dataset,
        o: &DistillOptions,
        f: Option<&mut ProgressFn<'_>>,
    ) -> Result<()> {
        const OP: &str = "deit_distill";
        let device = optional_cstring(OP, &o.device)?;
        let mut raw = std::mem::MaybeUninit::<sys::deit_distill_options>::zeroed();
        let mut raw = unsafe {
            sys::deit_distill_options_init_sized(
                raw.as_mut_ptr(),
                std::mem::size_of::<sys::deit_distill_options>(),
            );
            raw.assume_init()
        };
        raw.epochs = o.epochs;
        raw.batch_size = o.batch_size;
        raw.lr = o.lr;
        raw.optimizer = o.optimizer.raw();
        raw.weight_decay = o.weight_decay;
        raw.momentum = o.momentum;
        raw.schedule = o.schedule.raw();
        raw.warmup_epochs = o.warmup_epochs;
        raw.alpha = o.alpha;
        raw.temperature = o.temperature;
        raw.distillation = o.distillation.raw();
        raw.label_smoothing = o.label_smoothing;
        raw.seed = o.seed;
        raw.device = opt_ptr(&device);
        raw.cache_teacher_logits = o.cache_teacher_logits as i32;
        let logits_path = optional_cstring(OP, &o.teacher_logits_path)?;
        raw.teacher_logits_path = opt_ptr(&logits_path);
        let state_path = optional_cstring(OP, &o.state.path)?;
        raw.state_path = opt_ptr(&state_path);
        raw.state_every_steps = o.state.every_steps;
        raw.resume = o.state.resume as i32;
        raw.group = group_ptr(&o.group);
        let augment = raw_augment(&o.augment); // borrowed by raw until the call returns
        raw.augment = augment_ptr(&augment);
        raw.clip_grad = o.clip_grad;
        raw.drop_path = o.drop_path;
        raw.val = dataset_ptr(o.val); // borrowed by o for the call
        let best_path = optional_cstring(OP, &o.best_path)?;
        raw.best_path = opt_ptr(&best_path);
        raw.ema_decay = o.ema_decay;
        let tp = teacher.map_or(ptr::null_mut(), |t| t.raw.as_ptr());
        with_progress(f, |cb, user| {
            raw.progress = cb;
            raw.user_data = user;
            check(OP, unsafe { sys::deit_distill(self.raw.as_ptr(), tp, train.raw.as_ptr(), &raw) })
        })
    }

    /// [`Student::evaluate`] split over the ranks of `group`, as for the teacher.
    pub fn evaluate_group(&mut self, data: &Dataset, group: &Group) -> Result<EvalResult> {
        let mut r = new_eval_result();
        check("deit_student_evaluate_group", unsafe {
            sys::deit_student_evaluate_group(
                self.raw.as_ptr(),
                data.raw.as_ptr(),
                group.raw.as_ptr(),
                &mut r,
                ptr::null_mut(),
                0,
            )
        })?;
        Ok(EvalResult::from_raw(&r))
    }

    /// Accuracy of all three heads on `data` (eval mode).
    pub fn evaluate(&mut self, data: &Dataset) -> Result<EvalResult> {
        let mut r = new_eval_result();
        check("deit_student_evaluate", unsafe {
            sys::deit_student_evaluate(self.raw.as_ptr(), data.raw.as_ptr(), &mut r, ptr::null_mut(), 0)
        })?;
        Ok(EvalResult::from_raw(&r))
    }

    /// Also the averaged head's confusion matrix, row-major (row = true label).
    pub fn evaluate_confusion(&mut self, data: &Dataset) -> Result<(EvalResult, Vec<i64>)> {
        let k = self.config()?.num_classes as usize;
        let mut conf = vec![0i64; k * k];
        let mut r = new_eval_result();
        check("deit_student_evaluate", unsafe {
            sys::deit_student_evaluate(
                self.raw.as_ptr(),
                data.raw.as_ptr(),
                &mut r,
                conf.as_mut_ptr(),
                conf.len(),
            )
        })?;
        Ok((EvalResult::from_raw(&r), conf))
    }

    /// The chosen head's logits, count x num_classes row-major.
    pub fn predict(&mut self, images: &Images<'_>, head: Head) -> Result<Vec<f32>> {
        let mut logits = vec![0f32; images.count * self.config()?.num_classes as usize];
        let raw = images.raw();
        check("deit_student_predict", unsafe {
            sys::deit_student_predict(self.raw.as_ptr(), &raw, head.raw(), logits.as_mut_ptr(), logits.len())
        })?;
        Ok(logits)
    }

    /// The chosen head's predicted class of each image.
    pub fn classify(&mut self, images: &Images<'_>, head: Head) -> Result<Vec<i32>> {
        let mut classes = vec![0i32; images.count];
        let raw = images.raw();
        check("deit_student_classify", unsafe {
            sys::deit_student_classify(
                self.raw.as_ptr(),
                &raw,
                head.raw(),
                classes.as_mut_ptr(),
                classes.len(),
            )
        })?;
        Ok(classes)
    }
}

/// The losses of [`distillation_loss`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistillationLoss {
    /// alpha * dist + (1 - alpha) * cls.
    pub loss: f64,
    pub cls: f64,
    pub dist: f64,
}

/// The distillation loss on caller logits (n x num_classes each, row-major,
/// n = labels.len()); `teacher_logits` may be None only with
/// [`Distillation::None`].
#[allow(clippy::too_many_arguments)]
pub fn distillation_loss(
    cls_logits: &[f32],
    dist_logits: &[f32],
    teacher_logits: Option<&[f32]>,
    labels: &[i64],
    num_classes: usize,
    kind: Distillation,
    alpha: f64,
    temperature: f64,
    label_smoothing: f64,
) -> Result<DistillationLoss> {
    const OP: &str = "deit_distillation_loss";
    let want = labels.len() * num_classes;
    for (name, l) in [
        ("cls_logits", Some(cls_logits)),
        ("dist_logits", Some(dist_logits)),
        ("teacher_logits", teacher_logits),
    ] {
        if let Some(l) = l {
            if l.len() != want {
                return Err(Error::arg(
                    OP,
                    format!("{name} holds {} values, n*num_classes is {want}", l.len()),
                ));
            }
        }
    }
    let mut out = DistillationLoss { loss: 0.0, cls: 0.0, dist: 0.0 };
    check(OP, unsafe {
        sys::deit_distillation_loss(
            cls_logits.as_ptr(),
            dist_logits.as_ptr(),
            teacher_logits.map_or(ptr::null(), |t| t.as_ptr()),
            labels.as_ptr(),
            labels.len() as i64,
            num_classes as i32,
            kind.raw(),
            alpha,
            temperature,
            label_smoothing,
            &mut out.loss,
            &mut out.cls,
            &mut out.dist,
        )
    })?;
    Ok(out)
}
