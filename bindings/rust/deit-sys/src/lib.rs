//! Raw declarations of libdeit's C API, written by hand from
//! `include/deit/deit.h` (docs/API.md is the contract). Use the `deit` crate
//! for a safe interface.
//!
//! C enums are plain `c_int` aliases with constants: a value libdeit adds later
//! must not be undefined behaviour in Rust.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_double, c_float, c_int, c_void};

pub const DEIT_VERSION_MAJOR: u32 = 0;
pub const DEIT_VERSION_MINOR: u32 = 1;
pub const DEIT_VERSION_PATCH: u32 = 0;
pub const DEIT_VERSION_NUMBER: u32 =
    DEIT_VERSION_MAJOR * 10000 + DEIT_VERSION_MINOR * 100 + DEIT_VERSION_PATCH;

pub type deit_status = c_int;
pub const DEIT_OK: deit_status = 0;
pub const DEIT_E_INVALID_ARG: deit_status = -1;
pub const DEIT_E_IO: deit_status = -2;
pub const DEIT_E_FORMAT: deit_status = -3;
pub const DEIT_E_OOM: deit_status = -4;
pub const DEIT_E_UNSUPPORTED: deit_status = -5;
pub const DEIT_E_CANCELLED: deit_status = -6;
pub const DEIT_E_BUFFER_TOO_SMALL: deit_status = -7;
pub const DEIT_E_STATE: deit_status = -8;
pub const DEIT_E_INTERNAL: deit_status = -9;
pub const DEIT_E_DEVICE: deit_status = -10;
pub const DEIT_E_NUMERIC: deit_status = -11;
pub const DEIT_E_DISTRIBUTED: deit_status = -12;

pub type deit_log_level = c_int;
pub const DEIT_LOG_DEBUG: deit_log_level = 0;
pub const DEIT_LOG_INFO: deit_log_level = 1;
pub const DEIT_LOG_WARN: deit_log_level = 2;
pub const DEIT_LOG_ERROR: deit_log_level = 3;
pub const DEIT_LOG_OFF: deit_log_level = 4;

pub type deit_log_fn =
    Option<unsafe extern "C" fn(level: deit_log_level, message: *const c_char, user_data: *mut c_void)>;

pub type deit_split = c_int;
pub const DEIT_SPLIT_TRAIN: deit_split = 0;
pub const DEIT_SPLIT_TEST: deit_split = 1;

pub type deit_dtype = c_int;
pub const DEIT_DTYPE_U8: deit_dtype = 0;
pub const DEIT_DTYPE_F32: deit_dtype = 1;
pub const DEIT_DTYPE_I32: deit_dtype = 2;
pub const DEIT_DTYPE_I64: deit_dtype = 3;

pub type deit_layout = c_int;
pub const DEIT_LAYOUT_NCHW: deit_layout = 0;
pub const DEIT_LAYOUT_NHWC: deit_layout = 1;

pub type deit_dataset_format = c_int;
pub const DEIT_FORMAT_IDX: deit_dataset_format = 0;
pub const DEIT_FORMAT_CIFAR10: deit_dataset_format = 1;
pub const DEIT_FORMAT_CIFAR100: deit_dataset_format = 2;
pub const DEIT_FORMAT_MEMORY: deit_dataset_format = 3;
pub const DEIT_FORMAT_FOLDER: deit_dataset_format = 4;

pub type deit_normalize = c_int;
pub const DEIT_NORMALIZE_NONE: deit_normalize = 0;
pub const DEIT_NORMALIZE_IMAGENET: deit_normalize = 1;
pub const DEIT_NORMALIZE_INCEPTION: deit_normalize = 2;
pub type deit_resize_filter = c_int;
pub const DEIT_RESIZE_BILINEAR: deit_resize_filter = 0;
pub const DEIT_RESIZE_BICUBIC: deit_resize_filter = 1;

pub type deit_phase = c_int;
pub const DEIT_PHASE_TEACHER_TRAIN: deit_phase = 0;
pub const DEIT_PHASE_TEACHER_LOGITS: deit_phase = 1;
pub const DEIT_PHASE_DISTILL: deit_phase = 2;
pub const DEIT_PHASE_EVALUATE: deit_phase = 3;

pub type deit_optimizer = c_int;
pub const DEIT_OPTIM_ADAM: deit_optimizer = 0;
pub const DEIT_OPTIM_ADAMW: deit_optimizer = 1;
pub const DEIT_OPTIM_SGD: deit_optimizer = 2;

pub type deit_schedule = c_int;
pub const DEIT_SCHEDULE_CONSTANT: deit_schedule = 0;
pub const DEIT_SCHEDULE_COSINE: deit_schedule = 1;

pub type deit_trainable = c_int;
pub const DEIT_TRAIN_AUTO: deit_trainable = 0;
pub const DEIT_TRAIN_HEAD: deit_trainable = 1;
pub const DEIT_TRAIN_ALL: deit_trainable = 2;

pub type deit_distillation = c_int;
pub const DEIT_DISTILL_SOFT: deit_distillation = 0;
pub const DEIT_DISTILL_HARD: deit_distillation = 1;
pub const DEIT_DISTILL_NONE: deit_distillation = 2;

pub type deit_checkpoint_kind = c_int;
pub const DEIT_CHECKPOINT_TEACHER: deit_checkpoint_kind = 0;
pub const DEIT_CHECKPOINT_STUDENT: deit_checkpoint_kind = 1;

pub type deit_head = c_int;
pub const DEIT_HEAD_AVG: deit_head = 0;
pub const DEIT_HEAD_CLS: deit_head = 1;
pub const DEIT_HEAD_DIST: deit_head = 2;

/// Opaque handles.
#[repr(C)]
pub struct deit_dataset {
    _private: [u8; 0],
}
#[repr(C)]
pub struct deit_teacher {
    _private: [u8; 0],
}
#[repr(C)]
pub struct deit_student {
    _private: [u8; 0],
}
#[repr(C)]
pub struct deit_group {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct deit_images {
    pub data: *const c_void,
    pub dtype: deit_dtype,
    pub layout: deit_layout,
    pub count: i64,
    pub channels: i32,
    pub height: i32,
    pub width: i32,
}

#[repr(C)]
#[derive(Debug, Copy, Clone, Default)]
pub struct deit_dataset_info {
    pub struct_size: u32,
    pub count: i64,
    pub channels: i32,
    pub height: i32,
    pub width: i32,
    pub num_classes: i32,
    pub dtype: deit_dtype,
    pub format: deit_dataset_format,
    pub skipped: i64,
}

#[repr(C)]
#[derive(Debug, Copy, Clone, Default, PartialEq)]
pub struct deit_image_options {
    pub struct_size: u32,
    pub image_size: i32,
    pub crop_pct: c_double,
    pub filter: deit_resize_filter,
    pub channels: i32,
    pub threads: i32,
    pub skip_bad: i32,
    pub max_pixels: i64,
    pub normalize: deit_normalize,
}

#[repr(C)]
#[derive(Debug, Copy, Clone, Default)]
pub struct deit_progress {
    pub struct_size: u32,
    pub phase: deit_phase,
    pub epoch: i32,
    pub epochs: i32,
    pub step: i64,
    pub steps: i64,
    pub loss: c_double,
    pub loss_cls: c_double,
    pub loss_dist: c_double,
    pub lr: c_double,
    pub images_per_sec: c_double,
    pub seconds: c_double,
    pub end_of_epoch: i32,
    /// Added in 0.2 (read it only when `struct_size` covers it): -1, except on
    /// an epoch's last report when a validation set is given.
    pub val_accuracy: c_double,
}

pub type deit_progress_fn =
    Option<unsafe extern "C" fn(progress: *const deit_progress, user_data: *mut c_void) -> c_int>;

#[repr(C)]
#[derive(Debug, Copy, Clone, Default)]
pub struct deit_eval_result {
    pub struct_size: u32,
    pub count: i64,
    pub accuracy: c_double,
    pub loss: c_double,
    pub accuracy_cls: c_double,
    pub accuracy_dist: c_double,
}

#[repr(C)]
#[derive(Debug, Copy, Clone, Default, PartialEq)]
pub struct deit_augment_options {
    pub struct_size: u32,
    pub crop_padding: i32,
    pub resized_crop_scale: c_double,
    pub hflip: i32,
    pub erase_prob: c_double,
    pub mixup_alpha: c_double,
    pub cutmix_alpha: c_double,
}

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct deit_teacher_train_options {
    pub struct_size: u32,
    pub epochs: i32,
    pub batch_size: i32,
    pub lr: c_double,
    pub optimizer: deit_optimizer,
    pub weight_decay: c_double,
    pub momentum: c_double,
    pub trainable: deit_trainable,
    pub seed: u64,
    pub device: *const c_char,
    pub progress: deit_progress_fn,
    pub user_data: *mut c_void,
    pub state_path: *const c_char,
    pub state_every_steps: i32,
    pub resume: i32,
    pub group: *mut deit_group,
    pub schedule: deit_schedule,
    pub warmup_epochs: i32,
    pub label_smoothing: c_double,
    pub augment: *const deit_augment_options,
    pub clip_grad: c_double,
    pub val: *const deit_dataset,
    pub best_path: *const c_char,
}

#[repr(C)]
#[derive(Debug, Copy, Clone, Default, PartialEq)]
pub struct deit_onnx_options {
    pub struct_size: u32,
    pub head: deit_head,
}

#[repr(C)]
#[derive(Debug, Copy, Clone, Default, PartialEq)]
pub struct deit_runtime_options {
    pub struct_size: u32,
    pub num_threads: i32,
    pub single_threaded_blas: i32,
    pub tune_malloc: i32,
}

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct deit_group_options {
    pub struct_size: u32,
    pub rank: i32,
    pub world_size: i32,
    pub local_rank: i32,
    pub master_addr: *const c_char,
    pub master_port: i32,
    pub backend: *const c_char,
    pub timeout_seconds: c_double,
}

#[repr(C)]
#[derive(Debug, Copy, Clone, Default, PartialEq)]
pub struct deit_student_config {
    pub struct_size: u32,
    pub img_size: i32,
    pub patch_size: i32,
    pub in_channels: i32,
    pub num_classes: i32,
    pub embed_dim: i32,
    pub depth: i32,
    pub num_heads: i32,
    pub mlp_dim: i32,
    pub pre_norm: i32,
    pub gelu: i32,
    pub dropout: c_double,
    pub attn_dropout: c_double,
    pub ln_eps: c_double,
    pub qkv_bias: i32,
    pub trunc_normal_init: i32,
}

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct deit_distill_options {
    pub struct_size: u32,
    pub epochs: i32,
    pub batch_size: i32,
    pub lr: c_double,
    pub optimizer: deit_optimizer,
    pub weight_decay: c_double,
    pub momentum: c_double,
    pub schedule: deit_schedule,
    pub warmup_epochs: i32,
    pub alpha: c_double,
    pub temperature: c_double,
    pub distillation: deit_distillation,
    pub label_smoothing: c_double,
    pub seed: u64,
    pub device: *const c_char,
    pub cache_teacher_logits: i32,
    pub progress: deit_progress_fn,
    pub user_data: *mut c_void,
    pub state_path: *const c_char,
    pub state_every_steps: i32,
    pub resume: i32,
    pub group: *mut deit_group,
    pub teacher_logits_path: *const c_char,
    pub augment: *const deit_augment_options,
    pub clip_grad: c_double,
    pub drop_path: c_double,
    pub val: *const deit_dataset,
    pub best_path: *const c_char,
    pub ema_decay: c_double,
}

extern "C" {
    pub fn deit_version_string() -> *const c_char;
    pub fn deit_version_number() -> u32;
    pub fn deit_status_str(status: deit_status) -> *const c_char;
    pub fn deit_last_error() -> *const c_char;

    pub fn deit_set_log_callback(f: deit_log_fn, user_data: *mut c_void) -> deit_status;
    pub fn deit_set_log_level(level: deit_log_level) -> deit_status;

    pub fn deit_set_num_threads(n: i32) -> deit_status;
    pub fn deit_get_num_threads() -> i32;
    /// deit.h's `deit_runtime_options_init(o)` is a macro passing `sizeof *o`.
    pub fn deit_runtime_options_init_sized(
        options: *mut deit_runtime_options,
        struct_size: usize,
    ) -> deit_status;
    pub fn deit_runtime_init(options: *const deit_runtime_options) -> deit_status;
    pub fn deit_runtime_get(options: *mut deit_runtime_options, applied: *mut c_int) -> deit_status;
    pub fn deit_libtorch_version() -> *const c_char;
    pub fn deit_teacher_arch_name(index: usize) -> *const c_char;
    pub fn deit_student_preset_name(index: usize) -> *const c_char;
    pub fn deit_cuda_compiled() -> c_int;
    pub fn deit_cuda_available() -> c_int;
    pub fn deit_cuda_device_count() -> i32;
    pub fn deit_resolve_device(spec: *const c_char, buf: *mut c_char, capacity: usize) -> deit_status;

    /// deit.h's `deit_group_options_init(o)` is a macro passing `sizeof *o`.
    pub fn deit_group_options_init_sized(options: *mut deit_group_options, struct_size: usize)
        -> deit_status;
    pub fn deit_group_options_from_env(options: *mut deit_group_options) -> deit_status;
    pub fn deit_group_create(options: *const deit_group_options, out: *mut *mut deit_group) -> deit_status;
    pub fn deit_group_free(group: *mut deit_group);
    pub fn deit_group_rank(group: *const deit_group, rank: *mut i32, world_size: *mut i32) -> deit_status;
    pub fn deit_group_barrier(group: *mut deit_group) -> deit_status;
    pub fn deit_group_backend_available(backend: *const c_char) -> c_int;
    pub fn deit_teacher_evaluate_group(
        teacher: *mut deit_teacher,
        data: *const deit_dataset,
        group: *mut deit_group,
        result: *mut deit_eval_result,
        confusion: *mut i64,
        confusion_capacity: usize,
    ) -> deit_status;
    pub fn deit_student_evaluate_group(
        student: *mut deit_student,
        data: *const deit_dataset,
        group: *mut deit_group,
        result: *mut deit_eval_result,
        confusion: *mut i64,
        confusion_capacity: usize,
    ) -> deit_status;

    pub fn deit_dataset_open_dir(
        dir: *const c_char,
        split: deit_split,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_open_idx(
        images_path: *const c_char,
        labels_path: *const c_char,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_open_cifar(
        paths: *const *const c_char,
        n_paths: usize,
        num_classes: i32,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_from_memory(
        images: *const deit_images,
        labels: *const c_void,
        label_dtype: deit_dtype,
        num_classes: i32,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_free(dataset: *mut deit_dataset);
    /// deit.h's `deit_image_options_init(o)` is a macro passing `sizeof *o`.
    pub fn deit_image_options_init_sized(options: *mut deit_image_options, struct_size: usize)
        -> deit_status;
    pub fn deit_dataset_open_folder(
        path: *const c_char,
        split: deit_split,
        options: *const deit_image_options,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_open(
        path: *const c_char,
        split: deit_split,
        options: *const deit_image_options,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_image_read_file(
        path: *const c_char,
        options: *const deit_image_options,
        buf: *mut u8,
        capacity_bytes: usize,
    ) -> deit_status;
    pub fn deit_dataset_class_name(
        dataset: *const deit_dataset,
        index: i32,
        buf: *mut c_char,
        capacity: usize,
    ) -> deit_status;
    pub fn deit_dataset_get_info(dataset: *const deit_dataset, info: *mut deit_dataset_info) -> deit_status;
    pub fn deit_dataset_label_histogram(
        dataset: *const deit_dataset,
        counts: *mut i64,
        capacity: usize,
    ) -> deit_status;
    pub fn deit_dataset_subset_fraction(
        dataset: *const deit_dataset,
        fraction: c_double,
        seed: u64,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_split(
        dataset: *const deit_dataset,
        fraction: c_double,
        seed: u64,
        first: *mut *mut deit_dataset,
        rest: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_subset_first(
        dataset: *const deit_dataset,
        n: i64,
        out: *mut *mut deit_dataset,
    ) -> deit_status;
    pub fn deit_dataset_copy_images(
        dataset: *const deit_dataset,
        start: i64,
        count: i64,
        buf: *mut c_void,
        capacity_bytes: usize,
    ) -> deit_status;
    pub fn deit_dataset_copy_labels(
        dataset: *const deit_dataset,
        start: i64,
        count: i64,
        buf: *mut i32,
        capacity: usize,
    ) -> deit_status;

    pub fn deit_teacher_create(
        arch: *const c_char,
        num_classes: i32,
        out: *mut *mut deit_teacher,
    ) -> deit_status;
    pub fn deit_teacher_load_weights(
        teacher: *mut deit_teacher,
        safetensors_path: *const c_char,
    ) -> deit_status;
    pub fn deit_teacher_load_torchscript(
        path: *const c_char,
        num_classes: i32,
        out: *mut *mut deit_teacher,
    ) -> deit_status;
    pub fn deit_teacher_load(path: *const c_char, out: *mut *mut deit_teacher) -> deit_status;
    pub fn deit_teacher_save(teacher: *const deit_teacher, path: *const c_char) -> deit_status;
    pub fn deit_teacher_free(teacher: *mut deit_teacher);
    pub fn deit_teacher_set_device(teacher: *mut deit_teacher, device: *const c_char) -> deit_status;
    pub fn deit_teacher_get_arch(
        teacher: *const deit_teacher,
        buf: *mut c_char,
        capacity: usize,
    ) -> deit_status;
    pub fn deit_teacher_num_classes(teacher: *const deit_teacher, out: *mut i32) -> deit_status;
    /// deit.h's `deit_augment_options_init(o)` is a macro passing `sizeof *o`.
    pub fn deit_augment_options_init_sized(
        options: *mut deit_augment_options,
        struct_size: usize,
    ) -> deit_status;
    /// deit.h's `deit_teacher_train_options_init(o)` is a macro passing `sizeof *o`.
    pub fn deit_teacher_train_options_init_sized(
        options: *mut deit_teacher_train_options,
        struct_size: usize,
    ) -> deit_status;
    pub fn deit_teacher_train(
        teacher: *mut deit_teacher,
        train: *const deit_dataset,
        options: *const deit_teacher_train_options,
    ) -> deit_status;
    pub fn deit_teacher_evaluate(
        teacher: *mut deit_teacher,
        data: *const deit_dataset,
        result: *mut deit_eval_result,
        confusion: *mut i64,
        confusion_capacity: usize,
    ) -> deit_status;
    pub fn deit_teacher_predict(
        teacher: *mut deit_teacher,
        images: *const deit_images,
        logits: *mut c_float,
        capacity: usize,
    ) -> deit_status;

    /// deit.h's `deit_student_config_init(c, preset, n)` is a macro passing `sizeof *c`.
    pub fn deit_student_config_init_sized(
        config: *mut deit_student_config,
        struct_size: usize,
        preset: *const c_char,
        num_classes: i32,
    ) -> deit_status;
    pub fn deit_student_create(
        config: *const deit_student_config,
        seed: u64,
        out: *mut *mut deit_student,
    ) -> deit_status;
    pub fn deit_student_load(path: *const c_char, out: *mut *mut deit_student) -> deit_status;
    pub fn deit_student_save(student: *const deit_student, path: *const c_char) -> deit_status;
    pub fn deit_student_free(student: *mut deit_student);
    pub fn deit_student_set_device(student: *mut deit_student, device: *const c_char) -> deit_status;
    pub fn deit_student_get_config(
        student: *const deit_student,
        config: *mut deit_student_config,
    ) -> deit_status;
    pub fn deit_student_num_params(student: *const deit_student, out: *mut i64) -> deit_status;
    pub fn deit_student_config_from_weights_sized(
        config: *mut deit_student_config,
        struct_size: usize,
        path: *const c_char,
    ) -> deit_status;
    pub fn deit_student_load_weights(student: *mut deit_student, path: *const c_char) -> deit_status;
    /// deit.h's `deit_onnx_options_init(o)` is a macro passing `sizeof *o`.
    pub fn deit_onnx_options_init_sized(options: *mut deit_onnx_options, struct_size: usize) -> deit_status;
    pub fn deit_student_export_onnx(
        student: *const deit_student,
        path: *const c_char,
        options: *const deit_onnx_options,
    ) -> deit_status;
    /// deit.h's `deit_distill_options_init(o)` is a macro passing `sizeof *o`.
    pub fn deit_distill_options_init_sized(
        options: *mut deit_distill_options,
        struct_size: usize,
    ) -> deit_status;
    pub fn deit_distill(
        student: *mut deit_student,
        teacher: *mut deit_teacher,
        train: *const deit_dataset,
        options: *const deit_distill_options,
    ) -> deit_status;
    pub fn deit_distillation_loss(
        cls_logits: *const c_float,
        dist_logits: *const c_float,
        teacher_logits: *const c_float,
        labels: *const i64,
        n: i64,
        num_classes: i32,
        kind: deit_distillation,
        alpha: c_double,
        temperature: c_double,
        label_smoothing: c_double,
        loss: *mut c_double,
        loss_cls: *mut c_double,
        loss_dist: *mut c_double,
    ) -> deit_status;
    pub fn deit_student_evaluate(
        student: *mut deit_student,
        data: *const deit_dataset,
        result: *mut deit_eval_result,
        confusion: *mut i64,
        confusion_capacity: usize,
    ) -> deit_status;
    pub fn deit_student_predict(
        student: *mut deit_student,
        images: *const deit_images,
        head: deit_head,
        logits: *mut c_float,
        capacity: usize,
    ) -> deit_status;
    pub fn deit_teacher_class_name(
        teacher: *const deit_teacher,
        index: i32,
        buf: *mut c_char,
        capacity: usize,
    ) -> deit_status;
    pub fn deit_student_class_name(
        student: *const deit_student,
        index: i32,
        buf: *mut c_char,
        capacity: usize,
    ) -> deit_status;
    pub fn deit_teacher_image_options(
        teacher: *const deit_teacher,
        options: *mut deit_image_options,
    ) -> deit_status;
    pub fn deit_student_image_options(
        student: *const deit_student,
        options: *mut deit_image_options,
    ) -> deit_status;
    pub fn deit_student_classify(
        student: *mut deit_student,
        images: *const deit_images,
        head: deit_head,
        classes: *mut i32,
        capacity: usize,
    ) -> deit_status;

    pub fn deit_checkpoint_describe(
        path: *const c_char,
        buf: *mut c_char,
        capacity: usize,
        needed: *mut usize,
    ) -> deit_status;
    pub fn deit_checkpoint_read_kind(path: *const c_char, out: *mut deit_checkpoint_kind) -> deit_status;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, size_of};

    // Every struct size, field offset, enum constant and version macro of the
    // deit.h that libdeit installed, as the C compiler sees them (build.rs
    // generates one assertion each): a mistyped, missing or misplaced field
    // or constant fails here (a missing one fails to compile).
    #[test]
    fn layouts_match_deit_h() {
        use std::mem::offset_of;
        include!(concat!(env!("OUT_DIR"), "/layout_asserts.rs"));
        assert_eq!(align_of::<deit_distill_options>(), 8);
    }

    // The init functions take Rust's size and write the defaults into it.
    #[test]
    fn sizes_agree_with_libdeit() {
        unsafe {
            let mut t = std::mem::MaybeUninit::<deit_teacher_train_options>::zeroed();
            let size = size_of::<deit_teacher_train_options>();
            assert_eq!(deit_teacher_train_options_init_sized(t.as_mut_ptr(), size), DEIT_OK);
            let t = t.assume_init();
            assert_eq!(t.struct_size as usize, size);
            let mut d = std::mem::MaybeUninit::<deit_distill_options>::zeroed();
            let size = size_of::<deit_distill_options>();
            assert_eq!(deit_distill_options_init_sized(d.as_mut_ptr(), size), DEIT_OK);
            let d = d.assume_init();
            assert_eq!(d.struct_size as usize, size);
            assert_eq!((d.epochs, d.batch_size, d.cache_teacher_logits), (5, 64, 1));
            assert!(d.augment.is_null() && t.augment.is_null());
            assert!(d.val.is_null() && d.best_path.is_null() && t.val.is_null() && t.best_path.is_null());
            let mut a = deit_augment_options::default();
            let size = size_of::<deit_augment_options>();
            assert_eq!(deit_augment_options_init_sized(&mut a, size), DEIT_OK);
            assert_eq!(a.struct_size as usize, size);
            assert_eq!((a.crop_padding, a.erase_prob, a.hflip), (4, 0.25, 0));
            let mut im = deit_image_options::default();
            let size = size_of::<deit_image_options>();
            assert_eq!(deit_image_options_init_sized(&mut im, size), DEIT_OK);
            assert_eq!(im.struct_size as usize, size);
            assert_eq!(
                (im.image_size, im.crop_pct, im.filter, im.channels),
                (224, 0.875, DEIT_RESIZE_BICUBIC, 3)
            );
            assert_eq!(deit_version_number(), DEIT_VERSION_NUMBER);
        }
    }
}
