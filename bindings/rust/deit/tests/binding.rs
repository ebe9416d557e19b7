//! The safe binding against the real libdeit: errors, a data set round trip,
//! training and prediction on a tiny synthetic task, progress cancel.
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use deit::{
    Dataset, DistillOptions, Distillation, Group, GroupOptions, Head, Images, Layout, Phase, Pixels, Split,
    StateOptions, Status, Student, StudentConfig, Teacher, Trainable,
};

const CLASSES: usize = 4;
const SIDE: usize = 28;
const N_TRAIN: usize = 256;
const N_TEST: usize = 128;

/// A small deterministic generator (no crates: crates.io is unreachable).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as u32
    }
}

/// The synthetic task of tests/test_models.c: class k is one of four noisy
/// stripe/checker textures with a random phase, so every patch carries it.
fn make_task(n: usize, seed: u64) -> (Vec<u8>, Vec<i32>) {
    let mut rng = Lcg(seed);
    let mut pix = vec![0u8; n * SIDE * SIDE];
    let mut labels = vec![0i32; n];
    for i in 0..n {
        let k = i % CLASSES;
        labels[i] = k as i32;
        let phase = rng.below(4) as usize;
        for y in 0..SIDE {
            for x in 0..SIDE {
                let on = match k {
                    0 => ((y + phase) / 2) % 2,
                    1 => ((x + phase) / 2) % 2,
                    2 => ((x + y + phase) / 2) % 2,
                    _ => (x / 4 + y / 4 + phase) % 2,
                };
                let v = 20 + rng.below(80) + if on != 0 { 140 } else { 0 };
                pix[i * SIDE * SIDE + y * SIDE + x] = v as u8;
            }
        }
    }
    (pix, labels)
}

fn make_dataset(n: usize, seed: u64) -> Dataset {
    let (pix, labels) = make_task(n, seed);
    Dataset::from_memory(&Images::u8(&pix, n, 1, SIDE, SIDE).unwrap(), &labels, CLASSES as i32).unwrap()
}

/// The notebook's student with a narrow MLP (small and fast), on the CPU.
fn small_student(seed: u64) -> (Student, StudentConfig) {
    let mut cfg = StudentConfig::preset("seed", CLASSES as i32).unwrap();
    cfg.mlp_dim = 128;
    let mut student = Student::new(&cfg, seed).unwrap();
    student.set_device("cpu").unwrap();
    (student, cfg)
}

fn temp_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("DEIT_TEST_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("deit-rust-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn expect_err<T: std::fmt::Debug>(r: deit::Result<T>, status: Status, needle: &str) -> deit::Error {
    let e = r.expect_err("expected an error");
    assert_eq!(e.status(), status, "{e}");
    assert!(e.message().contains(needle), "message {:?} lacks {:?}", e.message(), needle);
    e
}

#[test]
fn version_matches_header() {
    assert_eq!(deit::version_number(), deit::sys::DEIT_VERSION_NUMBER);
    let n = deit::version_number();
    assert_eq!(deit::version(), format!("{}.{}.{}", n / 10000, n / 100 % 100, n % 100));
    let torch = deit::libtorch_version();
    let major: u32 = torch.split('.').next().unwrap().parse().expect("LibTorch version");
    assert!(major >= 1 && torch.split('.').count() == 3, "{torch}");
    assert!(deit::cuda_compiled() || !deit::cuda_available());
    assert_eq!(
        deit::teacher_archs(),
        [
            "resnet18",
            "resnet34",
            "resnet50",
            "resnet101",
            "resnet152",
            "resnet18-small-image",
            "resnet34-small-image",
            "resnet50-small-image",
            "resnet20-small-image",
            "resnet56-small-image"
        ]
    );
    assert_eq!(deit::student_presets(), ["seed", "deit-tiny", "deit-small", "deit-base", "small-image"]);
}

#[test]
fn errors_carry_status_and_message() {
    let missing = temp_dir("errors").join("no-such-dir");
    let e = expect_err(Dataset::open_dir(&missing, Split::Train), Status::Io, missing.to_str().unwrap());
    assert_eq!(e.op(), "deit_dataset_open_dir");
    assert_ne!(Status::Io.as_str(), Status::Format.as_str());
    assert!(e.to_string().contains(Status::Io.as_str()), "{e}");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(!boxed.to_string().is_empty());

    let bad = temp_dir("errors").join("bad-idx");
    std::fs::write(&bad, b"definitely not an IDX file").unwrap();
    expect_err(Dataset::open_idx(&bad, &bad), Status::Format, "");

    expect_err(Teacher::new("resnet9", CLASSES as i32), Status::InvalidArg, "resnet9");
    expect_err(StudentConfig::preset("no-such-preset", 4), Status::InvalidArg, "no-such-preset");
    expect_err(deit::resolve_device("gpu7"), Status::InvalidArg, "gpu7");
    assert_eq!(deit::resolve_device("cpu").unwrap(), "cpu");
    expect_err(Teacher::new("res\0net", 4), Status::InvalidArg, "NUL");

    // Checked by the binding: libdeit only sees a pointer.
    let (pix, labels) = make_task(4, 1);
    expect_err(Images::u8(&pix[1..], 4, 1, SIDE, SIDE), Status::InvalidArg, "count*channels*height*width");
    let im = Images::u8(&pix, 4, 1, SIDE, SIDE).unwrap();
    expect_err(Dataset::from_memory(&im, &labels[..3], 4), Status::InvalidArg, "3 labels for 4 images");
    let ds = Dataset::from_memory(&im, &labels, 4).unwrap();
    expect_err(ds.labels(3, 2), Status::InvalidArg, "");
}

#[test]
fn errors_are_per_thread() {
    let dir = temp_dir("threads");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let p = dir.join(format!("missing-{t}-{i}"));
                    let e = Dataset::open_dir(&p, Split::Test).unwrap_err();
                    assert!(e.message().contains(p.to_str().unwrap()), "{e}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn dataset_round_trip() {
    // 6 RGB images of 5x4 given as NHWC; libdeit stores NCHW.
    let (n, c, h, w) = (6, 3, 5, 4);
    let nhwc: Vec<u8> = (0..n * h * w * c).map(|i| (i * 7) as u8).collect();
    let labels = [2, 0, 1, 2, 2, 0];
    let im = Images::new(Pixels::U8(&nhwc), Layout::Nhwc, n, c, h, w).unwrap();
    let ds = Dataset::from_memory(&im, &labels, 0).unwrap();
    let info = ds.info().unwrap();
    assert_eq!(
        info,
        deit::DatasetInfo {
            count: n,
            channels: c,
            height: h,
            width: w,
            num_classes: 3,
            float_images: false,
            format: deit::Format::Memory,
            skipped: 0
        }
    );
    let got = ds.images(0, n).unwrap();
    let nchw = match &got.pixels {
        deit::PixelBuf::U8(v) => v,
        deit::PixelBuf::F32(_) => panic!("u8 images came back as f32"),
    };
    for i in 0..n {
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(nchw[((i * c + ch) * h + y) * w + x], nhwc[((i * h + y) * w + x) * c + ch]);
                }
            }
        }
    }
    assert_eq!(ds.labels(1, 4).unwrap(), &labels[1..5]);
    assert_eq!(ds.label_histogram().unwrap(), vec![2, 1, 3]);
    let first = ds.subset_first(2).unwrap();
    assert_eq!((first.info().unwrap().count, first.labels(0, 2).unwrap()), (2, vec![2, 0]));
    assert_eq!(ds.subset_fraction(0.5, 3).unwrap().info().unwrap().count, 3);
    expect_err(ds.subset_fraction(1.5, 3), Status::InvalidArg, "fraction");

    // f32 images come back bit for bit.
    let f: Vec<f32> = (0..18).map(|i| i as f32 * 0.25 - 1.0).collect();
    let fds = Dataset::from_memory(&Images::f32(&f, 2, 1, 3, 3).unwrap(), &[1, 0], 2).unwrap();
    assert!(fds.info().unwrap().float_images);
    assert_eq!(fds.images(0, 2).unwrap().pixels, deit::PixelBuf::F32(f));
}

#[test]
fn log_callback_receives_lines() {
    use std::sync::{Arc, Mutex};
    let lines = Arc::new(Mutex::new(Vec::<(deit::LogLevel, String)>::new()));
    let sink = lines.clone();
    deit::set_log_callback(move |level, msg| sink.lock().unwrap().push((level, msg.to_string()))).unwrap();
    deit::set_log_level(deit::LogLevel::Debug).unwrap();
    make_dataset(4, 1);
    deit::set_log_level(deit::LogLevel::Warn).unwrap();
    deit::reset_log_callback().unwrap();
    let lines = lines.lock().unwrap();
    assert!(
        lines.iter().any(|(l, m)| *l == deit::LogLevel::Debug && m.contains("from_memory")),
        "no debug line about from_memory in {lines:?}"
    );
}

fn argmax(row: &[f32]) -> i32 {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best as i32
}

/// Accuracy bars on the 128 test images (chance is 0.25).  Over up to 5 teacher
/// and 20 student seeds at 1 and 2 threads (in Go, Rust and Python, each with
/// its own images) the teacher reached 0.91-1.0, the student 0.99-1.0 (both
/// heads' average), 0.98-1.0 (class head) and 0.59-1.0 (distillation head);
/// an untrained teacher (lr 1e-12) gives 0.31-0.41, shuffled labels 0.20-0.29.
const TEACHER_BAR: f64 = 0.7;
const STUDENT_BAR: f64 = 0.7; // averaged heads and class head
const STUDENT_DIST_BAR: f64 = 0.45;

/// A small teacher and a student distilled from it on the synthetic task:
/// progress reports add up, both learn, predictions agree with evaluation,
/// checkpoints round-trip.  Smoke-sized: the teacher trains its head only
/// (the notebook's fine-tuning; backpropagating through the whole ResNet
/// costs 5x as much), on 64 images.
#[test]
fn train_and_predict() {
    let (train, test) = (make_dataset(N_TRAIN, 1), make_dataset(N_TEST, 2));
    let mut teacher = Teacher::new("resnet18", CLASSES as i32).unwrap();
    teacher.set_device("cpu").unwrap();
    let defaults = deit::TeacherTrainOptions::default();
    assert_eq!(
        (defaults.epochs, defaults.batch_size, defaults.lr, defaults.trainable),
        (3, 64, 1e-3, Trainable::Auto)
    );
    // 64 steps: BatchNorm's running statistics (eval mode) need that many.
    let opts = deit::TeacherTrainOptions { epochs: 8, batch_size: 8, trainable: Trainable::Head, ..defaults };
    let mut steps = Vec::new();
    let mut ends = 0;
    let mut bad = None;
    teacher
        .train_with_progress(&train.subset_first(64).unwrap(), &opts, |p| {
            if bad.is_none() && (p.phase, p.epoch, p.epochs, p.steps) != (Phase::TeacherTrain, ends + 1, 8, 8)
            {
                bad = Some(format!("{p:?} after {ends} epoch ends"));
            }
            steps.push(p.step);
            ends += p.end_of_epoch as i32;
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(bad, None);
    assert_eq!((ends, steps.last().copied()), (8, Some(8)), "steps {steps:?}");
    let (tr, conf) = teacher.evaluate_confusion(&test).unwrap();
    println!("teacher accuracy {:.3} loss {:.3} (bar {TEACHER_BAR})", tr.accuracy, tr.loss);
    assert_eq!(tr.count, N_TEST);
    assert!(tr.loss > 0.0 && tr.accuracy > TEACHER_BAR, "{tr:?}");
    let diag: i64 = (0..CLASSES).map(|k| conf[k * CLASSES + k]).sum();
    assert_eq!(conf.iter().sum::<i64>(), N_TEST as i64);
    assert_eq!(diag as f64 / N_TEST as f64, tr.accuracy);

    let (mut student, cfg) = small_student(7);
    assert_eq!((cfg.img_size, cfg.patch_size, cfg.embed_dim, cfg.depth, cfg.pre_norm), (28, 7, 32, 4, false));
    assert_eq!(student.config().unwrap(), cfg);
    assert!(student.num_params().unwrap() > 0);
    let d = deit::DistillOptions::default();
    assert_eq!((d.epochs, d.alpha, d.temperature, d.distillation), (5, 0.5, 2.0, Distillation::Soft));
    // The default five epochs: with fewer, some seeds leave a head at chance.
    let opts = deit::DistillOptions { batch_size: 16, ..d };
    let mut epoch_loss = Vec::new();
    student
        .distill_with_progress(Some(&mut teacher), &train, &opts, |p| {
            if p.end_of_epoch && p.phase == Phase::Distill {
                epoch_loss.push(p.loss);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(epoch_loss.len() == 5 && epoch_loss[4] < epoch_loss[0], "epoch losses {epoch_loss:?}");
    let sr = student.evaluate(&test).unwrap();
    println!(
        "student accuracy avg {:.3} cls {:.3} dist {:.3} (bars {STUDENT_BAR}, {STUDENT_BAR}, {STUDENT_DIST_BAR})",
        sr.accuracy, sr.accuracy_cls, sr.accuracy_dist
    );
    assert_eq!(sr.count, N_TEST);
    assert!(
        sr.accuracy > STUDENT_BAR && sr.accuracy_cls > STUDENT_BAR && sr.accuracy_dist > STUDENT_DIST_BAR,
        "{sr:?}"
    );

    // classify is the argmax of predict, and both agree with evaluate.
    let buf = test.images(0, N_TEST).unwrap();
    let labels = test.labels(0, N_TEST).unwrap();
    let logits = student.predict(&buf.images(), Head::Avg).unwrap();
    let classes = student.classify(&buf.images(), Head::Avg).unwrap();
    let mut correct = 0;
    for i in 0..N_TEST {
        assert_eq!(argmax(&logits[i * CLASSES..(i + 1) * CLASSES]), classes[i], "image {i}");
        correct += (classes[i] == labels[i]) as usize;
    }
    assert_eq!(correct as f64 / N_TEST as f64, sr.accuracy);

    // Checkpoints: a reloaded model gives the same logits.
    let dir = temp_dir("train");
    let (sp, tp) = (dir.join("student.safetensors"), dir.join("teacher.safetensors"));
    student.save(&sp).unwrap();
    teacher.save(&tp).unwrap();
    assert_eq!(Student::load(&sp).unwrap().predict(&buf.images(), Head::Avg).unwrap(), logits);
    let mut t2 = Teacher::load(&tp).unwrap();
    assert_eq!(t2.arch().unwrap(), "resnet18");
    assert_eq!(t2.predict(&buf.images()).unwrap(), teacher.predict(&buf.images()).unwrap());
    assert!(deit::checkpoint_describe(&sp).unwrap().contains("student"));
    assert_eq!(deit::checkpoint_kind(&sp).unwrap(), deit::CheckpointKind::Student);
    assert_eq!(deit::checkpoint_kind(&tp).unwrap(), deit::CheckpointKind::Teacher);
    expect_err(deit::checkpoint_kind(dir.join("missing.safetensors")), Status::Io, "missing.safetensors");
    expect_err(Student::load(dir.join("missing.safetensors")), Status::Io, "missing.safetensors");
}

/// Break from the progress closure cancels; the student stays usable; a
/// panic in the closure is carried across libdeit and resumed.
#[test]
fn progress_cancel() {
    let (train, test) = (make_dataset(N_TRAIN, 1), make_dataset(N_TEST, 2));
    let (mut student, _) = small_student(9);
    let opts = deit::DistillOptions {
        distillation: Distillation::None,
        epochs: 3,
        batch_size: 8,
        ..Default::default()
    };
    let mut calls = 0;
    let r = student.distill_with_progress(None, &train, &opts, |_| {
        calls += 1;
        if calls >= 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    expect_err(r, Status::Cancelled, "cancel");
    assert_eq!(calls, 2);
    assert_eq!(student.evaluate(&test).unwrap().count, N_TEST);

    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = student.distill_with_progress(None, &train, &opts, |_| panic!("boom"));
    }));
    let payload = caught.expect_err("the panic was not resumed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(student.evaluate(&test).unwrap().count, N_TEST);

    let soft = deit::DistillOptions { distillation: Distillation::Soft, ..opts };
    expect_err(student.distill(None, &train, &soft), Status::InvalidArg, "teacher is NULL");
}

#[test]
fn distillation_loss_parts() {
    // Identical student and teacher logits: the KL part is 0, so the loss is
    // (1 - alpha) * the class head's cross-entropy.
    let cls = [2.0, 0.0, -1.0, 0.5, 1.0, 3.0];
    let l = deit::distillation_loss(&cls, &cls, Some(&cls), &[0, 2], 3, Distillation::Soft, 0.25, 2.0, 0.0)
        .unwrap();
    assert!(l.dist.abs() < 1e-6 && l.cls > 0.0 && (l.loss - 0.75 * l.cls).abs() < 1e-6, "{l:?}");
    expect_err(
        deit::distillation_loss(&cls, &cls[..5], Some(&cls), &[0, 2], 3, Distillation::Soft, 0.5, 2.0, 0.0),
        Status::InvalidArg,
        "n*num_classes",
    );
}

/// Crash safety, the teacher-logit file and a group of one, as the C API has
/// them: a state is written, a resume with other settings is refused naming
/// the setting, the same settings resume; the logit file is written; a group
/// of one trains and evaluates as the process alone.
#[test]
fn state_logit_cache_and_group() {
    let dir = temp_dir("state");
    let train = make_dataset(64, 3);
    let mut teacher = Teacher::new("resnet18", CLASSES as i32).unwrap();
    teacher.set_device("cpu").unwrap();
    let state = dir.join("state.safetensors").to_string_lossy().into_owned();
    let logits = dir.join("logits.safetensors").to_string_lossy().into_owned();
    let mut o = DistillOptions {
        epochs: 1,
        batch_size: 32,
        teacher_logits_path: Some(logits.clone()),
        state: StateOptions { path: Some(state.clone()), every_steps: 0, resume: true },
        ..DistillOptions::default()
    };
    let (mut student, _) = small_student(1);
    student.distill(Some(&mut teacher), &train, &o).unwrap();
    assert!(std::path::Path::new(&state).exists(), "no state at {state}");
    assert!(std::path::Path::new(&logits).exists(), "no logit file at {logits}");

    o.alpha = 0.25;
    let (mut other, _) = small_student(1);
    expect_err(other.distill(Some(&mut teacher), &train, &o), Status::InvalidArg, "alpha was 0.5, now 0.25");
    o.alpha = 0.5;
    other.distill(Some(&mut teacher), &train, &o).unwrap(); // the finished state: nothing left to train

    let group = Arc::new(Group::new(&GroupOptions::default()).unwrap());
    assert_eq!(group.rank(), (0, 1));
    group.barrier().unwrap();
    let alone = DistillOptions { epochs: 1, batch_size: 32, ..DistillOptions::default() };
    let in_group = DistillOptions { group: Some(group.clone()), ..alone.clone() };
    let (mut a, _) = small_student(2);
    let (mut b, _) = small_student(2);
    a.distill(Some(&mut teacher), &train, &alone).unwrap();
    b.distill(Some(&mut teacher), &train, &in_group).unwrap();
    let (ra, rb) = (a.evaluate(&train).unwrap(), b.evaluate_group(&train, &group).unwrap());
    assert_eq!((ra.accuracy, ra.loss), (rb.accuracy, rb.loss));
    let env = GroupOptions::from_env().unwrap();
    assert_eq!((env.rank, env.world_size), (0, 1));
    assert!(Group::backend_available("gloo") || !Group::backend_available("nccl"));
}

/// The process-wide settings: applied once (by this call or by another
/// test's first libdeit work, with the same defaults), then refused.
#[test]
fn runtime_settings_apply_once() {
    let defaults = deit::RuntimeOptions::default();
    assert_eq!((defaults.num_threads, defaults.single_threaded_blas, defaults.tune_malloc), (0, true, true));
    let (_, applied_before) = deit::runtime_settings().unwrap();
    match deit::runtime_init(&defaults) {
        Ok(()) => assert!(!applied_before, "applied twice"),
        Err(e) => assert_eq!(e.status(), Status::State, "{e}"), // another test applied them first
    }
    let (now, applied) = deit::runtime_settings().unwrap();
    assert!(applied);
    assert_eq!(now, defaults);
    expect_err(deit::runtime_init(&defaults), Status::State, "applied already");
}

/// DeiT's recipe options reach libdeit: the augmentation defaults read back,
/// and each of augment, clip_grad, drop_path and ema_decay (distillation) and schedule,
/// warmup_epochs, label_smoothing, clip_grad and augment (the teacher)
/// changes what a tiny training gives, while the same settings give the same
/// weights.
#[test]
fn recipe_options_reach_libdeit() {
    let aug = deit::AugmentOptions::default();
    assert_eq!(
        aug,
        deit::AugmentOptions {
            crop_padding: 4,
            resized_crop_scale: 0.0,
            hflip: false,
            erase_prob: 0.25,
            mixup_alpha: 0.0,
            cutmix_alpha: 0.0
        }
    );
    let d = DistillOptions::default();
    assert_eq!((d.augment, d.clip_grad, d.drop_path, d.ema_decay), (None, 0.0, 0.0, 0.0));
    let t = deit::TeacherTrainOptions::default();
    assert_eq!(
        (t.schedule, t.warmup_epochs, t.label_smoothing, t.augment, t.clip_grad),
        (deit::Schedule::Constant, 0, 0.0, None, 0.0)
    );

    let train = make_dataset(64, 5);
    let few = train.subset_first(16).unwrap();
    let (probe_pix, _) = make_task(16, 6);
    let probe = Images::u8(&probe_pix, 16, 1, SIDE, SIDE).unwrap();

    // A fresh student (always the same initial weights), one epoch without a teacher.
    let distilled = |o: DistillOptions| {
        let (mut s, _) = small_student(5);
        let o = DistillOptions { distillation: Distillation::None, epochs: 1, batch_size: 16, seed: 3, ..o };
        s.distill(None, &train, &o).unwrap();
        s.predict(&probe, Head::Avg).unwrap()
    };
    let base = distilled(DistillOptions::default());
    assert_eq!(distilled(DistillOptions::default()), base, "the same distillation twice differs");
    let mixup = deit::AugmentOptions { crop_padding: 0, erase_prob: 0.0, mixup_alpha: 0.8, ..aug };
    for (name, o) in [
        ("augment", DistillOptions { augment: Some(aug), ..Default::default() }),
        ("augment mixup", DistillOptions { augment: Some(mixup), ..Default::default() }),
        ("drop_path", DistillOptions { drop_path: 0.3, ..Default::default() }),
        ("clip_grad", DistillOptions { clip_grad: 1e-3, ..Default::default() }),
        ("ema_decay", DistillOptions { ema_decay: 0.9, ..Default::default() }),
    ] {
        let got = distilled(o.clone());
        assert_ne!(got, base, "{name}: the student is the same as without it");
        assert_eq!(distilled(o), got, "{name}: the same settings twice differ");
    }
    let (mut s, _) = small_student(5);
    let bad = DistillOptions {
        distillation: Distillation::None,
        epochs: 1,
        augment: Some(deit::AugmentOptions { resized_crop_scale: 0.5, ..aug }),
        ..Default::default()
    };
    expect_err(s.distill(None, &train, &bad), Status::InvalidArg, "choose one crop");
    let bad = DistillOptions { augment: None, drop_path: 1.5, ..bad };
    expect_err(s.distill(None, &train, &bad), Status::InvalidArg, "drop_path");
    let bad = DistillOptions { drop_path: 0.0, ema_decay: 1.0, ..bad };
    expect_err(s.distill(None, &train, &bad), Status::InvalidArg, "ema_decay");

    // A fresh resnet18 (seed 0), 4 head-only steps on 16 images; also the reported learning rates.
    let trained = |o: deit::TeacherTrainOptions| {
        let mut teacher = Teacher::new("resnet18", CLASSES as i32).unwrap();
        teacher.set_device("cpu").unwrap();
        let o = deit::TeacherTrainOptions { epochs: 2, batch_size: 8, trainable: Trainable::Head, ..o };
        let mut lrs = Vec::new();
        teacher
            .train_with_progress(&few, &o, |p| {
                lrs.push(p.lr);
                ControlFlow::Continue(())
            })
            .unwrap();
        (teacher.predict(&probe).unwrap(), lrs)
    };
    let (tbase, base_lrs) = trained(Default::default());
    assert!(base_lrs.iter().all(|&lr| lr == base_lrs[0]), "constant schedule: {base_lrs:?}");
    assert_eq!(trained(Default::default()).0, tbase, "the same teacher training twice differs");
    use deit::TeacherTrainOptions as T;
    for (name, o) in [
        ("augment", T { augment: Some(aug), ..Default::default() }),
        ("label_smoothing", T { label_smoothing: 0.2, ..Default::default() }),
        ("clip_grad", T { clip_grad: 1e-4, ..Default::default() }),
    ] {
        assert_ne!(trained(o).0, tbase, "teacher {name}: the teacher is the same as without it");
    }
    let with_aug = T { augment: Some(aug), ..Default::default() };
    assert_eq!(trained(with_aug.clone()).0, trained(with_aug).0, "teacher augment: twice differs");
    let (_, cosine) = trained(T { schedule: deit::Schedule::Cosine, warmup_epochs: 1, ..Default::default() });
    assert!(cosine.iter().any(|&lr| lr != cosine[0]), "cosine with warmup: {cosine:?}");
    assert!(cosine.iter().all(|&lr| lr <= base_lrs[0] * (1.0 + 1e-12)), "{cosine:?} above {}", base_lrs[0]);
    let mut teacher = Teacher::new("resnet18", CLASSES as i32).unwrap();
    let bad = T {
        epochs: 1,
        batch_size: 8,
        augment: Some(deit::AugmentOptions { erase_prob: 2.0, ..aug }),
        ..Default::default()
    };
    expect_err(teacher.train(&few, &bad), Status::InvalidArg, "erase_prob");
    let bad = T { augment: None, schedule: deit::Schedule::Cosine, warmup_epochs: 3, ..bad };
    expect_err(teacher.train(&few, &bad), Status::InvalidArg, "warmup_epochs");
}

/// Validation during training: Dataset::split holds a share out (the counts
/// add up); with `val` every epoch's end reports an accuracy in [0, 1] (and no
/// other report does), the last one is the trained student's accuracy on
/// `val`, and `best_path` holds a loadable checkpoint of the best epoch. The
/// teacher passes `val` through too.
#[test]
fn validation_and_split() {
    let all = make_dataset(40, 11);
    let (first, rest) = all.split(0.25, 9).unwrap();
    let (nf, nr) = (first.info().unwrap().count, rest.info().unwrap().count);
    assert_eq!((nf, nr), (10, 30));
    assert_eq!(nf + nr, all.info().unwrap().count);
    assert_eq!(all.subset_fraction(0.25, 9).unwrap().images(0, 10).unwrap(), first.images(0, 10).unwrap());
    expect_err(all.split(1.0, 9), Status::InvalidArg, "leaves none");
    expect_err(all.split(0.0, 9), Status::InvalidArg, "outside (0, 1]");

    let dir = temp_dir("validation");
    let best = dir.join("best.safetensors");
    let _ = std::fs::remove_file(&best);
    let (val, train) = make_dataset(N_TRAIN, 12).split(0.25, 1).unwrap();
    assert_eq!(val.info().unwrap().count + train.info().unwrap().count, N_TRAIN);
    let (mut student, _) = small_student(4);
    let opts = DistillOptions {
        distillation: Distillation::None,
        epochs: 2,
        batch_size: 32,
        val: Some(&val),
        best_path: Some(best.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let (mut accs, mut stray) = (Vec::new(), Vec::new());
    student
        .distill_with_progress(None, &train, &opts, |p| {
            if p.end_of_epoch && p.phase == Phase::Distill {
                accs.push(p.val_accuracy);
            } else if p.val_accuracy.is_some() {
                stray.push(*p);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(stray.is_empty(), "validation accuracy outside an epoch's end: {stray:?}");
    let accs: Vec<f64> = accs.into_iter().map(|a| a.expect("an epoch's end without val_accuracy")).collect();
    assert_eq!(accs.len(), 2, "{accs:?}");
    assert!(accs.iter().all(|a| (0.0..=1.0).contains(a)), "{accs:?}");
    assert_eq!(student.evaluate(&val).unwrap().accuracy, accs[1]);
    assert!(best.exists(), "no best checkpoint at {}", best.display());
    let top = accs.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(Student::load(&best).unwrap().evaluate(&val).unwrap().accuracy, top);

    // Without val, best_path is refused; without either, no validation is reported.
    let no_val = DistillOptions { val: None, ..opts.clone() };
    expect_err(student.distill(None, &train, &no_val), Status::InvalidArg, "best_path is set but val");
    let plain = DistillOptions { epochs: 1, best_path: None, ..no_val };
    let mut seen = false;
    student
        .distill_with_progress(None, &train, &plain, |p| {
            seen |= p.val_accuracy.is_some();
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(!seen, "a validation accuracy without a validation set");

    // The teacher: one head-only epoch on 16 images.
    let mut teacher = Teacher::new("resnet18", CLASSES as i32).unwrap();
    teacher.set_device("cpu").unwrap();
    let t = deit::TeacherTrainOptions {
        epochs: 1,
        batch_size: 8,
        trainable: Trainable::Head,
        val: Some(&val),
        ..Default::default()
    };
    let mut tacc = Vec::new();
    teacher
        .train_with_progress(&train.subset_first(16).unwrap(), &t, |p| {
            if p.end_of_epoch {
                tacc.push(p.val_accuracy);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(tacc, vec![Some(teacher.evaluate(&val).unwrap().accuracy)]);
}

/// Writes a w x h netpbm image of one colour: P6 (RGB) or, with one value, P5 (gray).
fn write_netpbm(path: &std::path::Path, w: usize, h: usize, value: &[u8]) {
    let magic = if value.len() == 1 { "P5" } else { "P6" };
    let mut data = format!("{magic}\n{w} {h}\n255\n").into_bytes();
    for _ in 0..w * h {
        data.extend_from_slice(value);
    }
    std::fs::write(path, data).unwrap();
}

// An image folder the test writes: classes sorted by name (byte order: "Zebra" before "apple") are the
// labels, files sorted within a class; one-colour images keep their colour through resize and crop (a
// gray file is repeated over RGB), so the stored pixels are known exactly.
#[test]
fn image_folder_labels_and_class_names() {
    let root = temp_dir("image-folder");
    let _ = std::fs::remove_dir_all(&root);
    let files: [(&str, [u8; 3], bool); 6] = [
        ("Zebra/a.ppm", [250, 10, 20], false),
        ("Zebra/b.ppm", [1, 2, 3], false),
        ("apple/x.pgm", [90, 90, 90], true),
        ("mango/1.pgm", [77, 77, 77], true),
        ("mango/2.ppm", [0, 128, 255], false),
        ("mango/3.ppm", [200, 100, 50], false),
    ];
    for d in ["Zebra", "apple", "mango"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for (i, (name, rgb, gray)) in files.iter().enumerate() {
        write_netpbm(&root.join(name), 40 + 7 * i, 31 + 3 * i, if *gray { &rgb[..1] } else { &rgb[..] });
    }

    let defaults = deit::ImageOptions::default();
    assert_eq!(
        (defaults.image_size, defaults.crop_pct, defaults.filter, defaults.channels, defaults.skip_bad),
        (224, 0.875, deit::ResizeFilter::Bicubic, 3, false)
    );
    let opts = deit::ImageOptions {
        image_size: 20,
        crop_pct: 0.9,
        filter: deit::ResizeFilter::Bilinear,
        ..defaults
    };
    let ds = Dataset::open_folder(&root, Split::Train, &opts).unwrap();
    assert_eq!(
        ds.info().unwrap(),
        deit::DatasetInfo {
            count: 6,
            channels: 3,
            height: 20,
            width: 20,
            num_classes: 3,
            float_images: false,
            format: deit::Format::Folder,
            skipped: 0
        }
    );
    assert_eq!(ds.class_names().unwrap(), ["Zebra", "apple", "mango"]);
    assert_eq!(ds.class_name(2).unwrap(), "mango");
    expect_err(ds.class_name(3), Status::InvalidArg, "");
    assert_eq!(ds.labels(0, 6).unwrap(), [0, 0, 1, 2, 2, 2]);
    let stored = ds.images(0, 6).unwrap();
    let deit::PixelBuf::U8(pix) = &stored.pixels else { panic!("image files stored as f32") };
    let px = 20 * 20;
    for (i, (name, rgb, _)) in files.iter().enumerate() {
        for c in 0..3 {
            let plane = &pix[(i * 3 + c) * px..(i * 3 + c + 1) * px];
            assert!(
                plane.iter().all(|&v| v == rgb[c]),
                "{name} channel {c}: stored {:?}, file {}",
                plane[0],
                rgb[c]
            );
        }
        let one = deit::read_image_file(root.join(name), &opts).unwrap();
        assert_eq!((one.count, one.channels, one.height, one.width), (1, 3, 20, 20));
        assert_eq!(one.pixels, deit::PixelBuf::U8(pix[i * 3 * px..(i + 1) * 3 * px].to_vec()), "{name}");
    }

    // open() dispatches to the folder reader.
    let all = Dataset::open(&root, Split::Train, &Default::default()).unwrap();
    assert_eq!((all.info().unwrap().height, all.info().unwrap().format), (224, deit::Format::Folder));

    // A zero-byte file fails the open, naming it; skip_bad leaves it out and counts it.
    std::fs::write(root.join("apple/broken.ppm"), b"").unwrap();
    expect_err(Dataset::open_folder(&root, Split::Train, &opts), Status::Format, "broken.ppm");
    let skip = deit::ImageOptions { skip_bad: true, ..opts };
    let kept = Dataset::open_folder(&root, Split::Train, &skip).unwrap();
    assert_eq!((kept.info().unwrap().count, kept.info().unwrap().skipped), (6, 1));
    expect_err(
        Dataset::open_folder(root.join("no-such-folder"), Split::Train, &opts),
        Status::Io,
        "no-such-folder",
    );

    // Data sets without names, and models not trained on image files, have none.
    assert!(make_dataset(8, 1).class_names().unwrap().is_empty());
    let teacher = Teacher::new("resnet18", 3).unwrap();
    assert!(teacher.class_names().unwrap().is_empty());
    assert_eq!(teacher.image_options().unwrap(), None);

    // A student distilled on the folder keeps its names and image options through save/load.
    let mut cfg = StudentConfig::preset("seed", 3).unwrap();
    cfg.mlp_dim = 64;
    let mut student = Student::new(&cfg, 0).unwrap();
    student.set_device("cpu").unwrap();
    assert!(student.class_names().unwrap().is_empty());
    assert_eq!(student.image_options().unwrap(), None);
    let train =
        Dataset::open_folder(&root, Split::Train, &deit::ImageOptions { image_size: 28, ..skip }).unwrap();
    let o =
        DistillOptions { epochs: 1, batch_size: 4, distillation: Distillation::None, ..Default::default() };
    student.distill(None, &train, &o).unwrap();
    let path = root.join("student.safetensors");
    student.save(&path).unwrap();
    let loaded = Student::load(&path).unwrap();
    assert_eq!(loaded.class_names().unwrap(), ["Zebra", "apple", "mango"]);
    let got = loaded.image_options().unwrap().expect("trained on image files");
    assert_eq!(
        (got.image_size, got.crop_pct, got.filter, got.channels),
        (28, 0.9, deit::ResizeFilter::Bilinear, 3)
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Pretrained weights: `StudentConfig::from_weights` reads the architecture
/// (num_heads from the preset of that shape), `load_weights` makes another
/// student of it predict exactly what the saved one did, and a file that is
/// no ViT is refused naming the tensor it lacks.
#[test]
fn pretrained_weights() {
    let dir = temp_dir("pretrained");
    let path = dir.join("student.safetensors");
    let cfg = StudentConfig::preset("small-image", 10).unwrap();
    let mut original = Student::new(&cfg, 3).unwrap();
    original.save(&path).unwrap();
    let got = StudentConfig::from_weights(&path).unwrap();
    assert_eq!((got.num_heads, got.embed_dim, got.num_classes, got.depth), (4, 64, 10, 6));
    let (pix, _) = make_task(3, 5);
    let probe = Images::u8(&pix, 3, 1, SIDE, SIDE).unwrap();
    let want = original.predict(&probe, Head::Avg).unwrap();
    let mut other = Student::new(&got, 99).unwrap();
    assert_ne!(other.predict(&probe, Head::Avg).unwrap(), want);
    other.load_weights(&path).unwrap();
    assert_eq!(other.predict(&probe, Head::Avg).unwrap(), want);
    let bad = dir.join("no-vit.safetensors");
    std::fs::write(&bad, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ").unwrap();
    expect_err(StudentConfig::from_weights(&bad), Status::Format, "patch_embed.proj.weight");
}

/// export_onnx writes the model (onnxruntime runs such files in tests/pretrained/test_onnx_export.py); a
/// one-head model leaves the other head out; a path that cannot be written is an error and writes nothing.
#[test]
fn export_onnx() {
    let dir = temp_dir("onnx");
    let cfg = StudentConfig::preset("small-image", 10).unwrap();
    let s = Student::new(&cfg, 3).unwrap();
    let (avg, cls) = (dir.join("avg.onnx"), dir.join("cls.onnx"));
    s.export_onnx(&avg, Head::Avg).unwrap();
    s.export_onnx(&cls, Head::Cls).unwrap();
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len() as i64;
    assert!(size(&avg) > 4 * s.num_params().unwrap());
    assert!(size(&cls) < size(&avg), "a one-head model leaves the other head out");
    expect_err(s.export_onnx(dir.join("missing").join("x.onnx"), Head::Avg), Status::Io, "missing");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["avg.onnx", "cls.onnx"]);
}
