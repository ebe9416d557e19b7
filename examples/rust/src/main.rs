//! Trains a tiny ResNet-18 teacher and a DeiT "seed" student through the Rust
//! binding (or loads a student checkpoint), then prints accuracy and a few
//! predictions. Data: the first images of Fashion-MNIST when it is installed
//! (apt-get install dataset-fashion-mnist), a folder of image class folders
//! (--data DIR: train/ + val/, or the classes themselves, made 28 x 28 for the
//! seed student and named after their folders), else (or with --synthetic) a
//! synthetic 4-class task that trains in seconds.
//!
//! Usage: deit-example [--data DIR] [--synthetic] [--student CKPT] [--save CKPT]
use std::ops::ControlFlow;
use std::path::Path;

use deit::{Dataset, DistillOptions, Head, ImageOptions, Images, Progress, Split, Student, StudentConfig, Teacher};

const FASHION: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
const SYNTHETIC: [&str; 4] = ["horizontal", "vertical", "diagonal", "checker"];

/// How much to train: a demo, so the runs are short.
struct Plan {
    n_train: usize,
    n_test: usize,
    teacher_epochs: i32,
    teacher_batch: i32,
    student_epochs: i32,
    student_batch: i32,
}

#[derive(Default)]
struct Args {
    data: Option<String>,
    synthetic: bool,
    load: Option<String>,
    save: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--data" => args.data = Some(value("--data")?),
            "--synthetic" => args.synthetic = true,
            "--student" => args.load = Some(value("--student")?),
            "--save" => args.save = Some(value("--save")?),
            _ => {
                return Err(format!(
                    "unknown argument {a}; usage: [--data DIR] [--synthetic] [--student CKPT] [--save CKPT]"
                ))
            }
        }
    }
    Ok(args)
}

fn main() {
    let result = parse_args().and_then(|a| run(a).map_err(|e| e.to_string()));
    if let Err(e) = result {
        eprintln!("deit-example-rust: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    println!("libdeit {}, {} threads", deit::version(), deit::num_threads());
    let dir = args.data.unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".to_string());
    let (train, test, names, plan) = open_data(if args.synthetic { None } else { Some(Path::new(&dir)) })?;
    let num_classes = test.info()?.num_classes;

    let mut student = match &args.load {
        Some(path) => {
            println!("loaded student {path}");
            Student::load(path)?
        }
        None => train_models(&train, &test, num_classes as i32, &plan)?,
    };
    if let Some(path) = &args.save {
        student.save(path)?;
        println!("saved student to {path}");
    }

    let r = student.evaluate(&test)?;
    let chance = 1.0 / num_classes as f64;
    println!(
        "student accuracy {:.2}% (class head {:.2}%, distillation head {:.2}%, chance {:.0}%)",
        100.0 * r.accuracy,
        100.0 * r.accuracy_cls,
        100.0 * r.accuracy_dist,
        100.0 * chance
    );

    // A few predictions of the averaged head.
    let shown = test.images(0, 8)?;
    let labels = test.labels(0, 8)?;
    let classes = student.classify(&shown.images(), Head::Avg)?;
    for (i, (c, l)) in classes.iter().zip(&labels).enumerate() {
        println!("  image {i}: predicted {:<12} true {}", names[*c as usize], names[*l as usize]);
    }
    if r.accuracy <= chance {
        return Err("the student is no better than chance".into());
    }
    Ok(())
}

/// Fine-tunes a ResNet-18 teacher from scratch and distills it into the
/// reference notebook's student.
fn train_models(train: &Dataset, test: &Dataset, num_classes: i32, plan: &Plan) -> deit::Result<Student> {
    let mut teacher = Teacher::new("resnet18", num_classes)?;
    // From scratch, a gentler lr keeps BatchNorm's statistics usable in eval mode.
    let opts = deit::TeacherTrainOptions {
        epochs: plan.teacher_epochs,
        batch_size: plan.teacher_batch,
        lr: 3e-4,
        ..Default::default()
    };
    teacher.train_with_progress(train, &opts, |p| print_epoch("teacher", p))?;
    println!("teacher accuracy {:.2}%", 100.0 * teacher.evaluate(test)?.accuracy);

    let mut cfg = StudentConfig::preset("seed", num_classes)?;
    cfg.mlp_dim = 128; // the notebook's 2048 learns too slowly for a demo of a few hundred steps
    let mut student = Student::new(&cfg, 0)?;
    // Soft distillation at temperature 2 with alpha 0.5, as in the notebook.
    let opts =
        DistillOptions { epochs: plan.student_epochs, batch_size: plan.student_batch, ..Default::default() };
    student.distill_with_progress(Some(&mut teacher), train, &opts, |p| print_epoch("student", p))?;
    Ok(student)
}

fn print_epoch(what: &str, p: &Progress) -> ControlFlow<()> {
    if p.end_of_epoch && p.phase != deit::Phase::TeacherLogits {
        println!(
            "{what} epoch {}/{}: loss {:.4}, {:.0} images/s",
            p.epoch, p.epochs, p.loss, p.images_per_sec
        );
    }
    ControlFlow::Continue(())
}

/// The first images of the directory's splits, or the synthetic task when
/// `dir` is None or absent, with a plan that suits them.
fn open_data(dir: Option<&Path>) -> deit::Result<(Dataset, Dataset, Vec<String>, Plan)> {
    match dir {
        Some(dir) if dir.exists() => {
            let plan = Plan {
                n_train: 1000,
                n_test: 500,
                teacher_epochs: 2,
                teacher_batch: 32,
                student_epochs: 5,
                student_batch: 32,
            };
            // Image class folders are decoded and made 28 x 28 RGB for the seed student; IDX and CIFAR as stored.
            let folder = is_image_folder(dir);
            let images = ImageOptions { image_size: 28, crop_pct: 1.0, ..Default::default() };
            let open = |split: Split, n: usize| -> deit::Result<Dataset> {
                let full =
                    if folder { Dataset::open_folder(dir, split, &images)? } else { Dataset::open_dir(dir, split)? };
                full.subset_first(n.min(full.info()?.count))
            };
            let (train, test) = (open(Split::Train, plan.n_train)?, open(Split::Test, plan.n_test)?);
            // Class names: the folders' (libdeit keeps them in the data set and the models), else Fashion-MNIST's.
            let mut names = train.class_names()?;
            if names.is_empty() {
                names = FASHION.iter().map(|s| s.to_string()).collect();
            }
            println!("data: {}, {} train / {} test images", dir.display(), train.info()?.count, test.info()?.count);
            Ok((train, test, names, plan))
        }
        _ => {
            if let Some(dir) = dir {
                print!("{} not found: ", dir.display());
            }
            println!("using a synthetic 4-class task");
            let plan = Plan {
                n_train: 256,
                n_test: 128,
                teacher_epochs: 2,
                teacher_batch: 16,
                student_epochs: 5,
                student_batch: 8,
            };
            let names = SYNTHETIC.iter().map(|s| s.to_string()).collect();
            Ok((synthetic(plan.n_train, 1)?, synthetic(plan.n_test, 2)?, names, plan))
        }
    }
}

/// `dir` holds class folders (or train/ and val/ of them) rather than IDX or CIFAR files.
/// (An unreadable `dir` is left to libdeit, whose error names it.)
fn is_image_folder(dir: &Path) -> bool {
    let entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).collect(),
        Err(_) => return false,
    };
    !entries.is_empty() && entries.iter().all(|e| e.path().is_dir())
}

/// n 28x28 images of four noisy textures (stripes three ways and a
/// checkerboard) with random phases.
fn synthetic(n: usize, seed: u64) -> deit::Result<Dataset> {
    const SIDE: usize = 28;
    let mut state = seed;
    let mut below = |m: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % m) as usize
    };
    let mut pix = vec![0u8; n * SIDE * SIDE];
    let labels: Vec<i32> = (0..n).map(|i| (i % 4) as i32).collect();
    for (i, img) in pix.chunks_mut(SIDE * SIDE).enumerate() {
        let phase = below(4);
        for y in 0..SIDE {
            for x in 0..SIDE {
                let on = [
                    (y + phase) / 2 % 2,
                    (x + phase) / 2 % 2,
                    (x + y + phase) / 2 % 2,
                    (x / 4 + y / 4 + phase) % 2,
                ][i % 4];
                img[y * SIDE + x] = (20 + below(80) + 140 * on) as u8;
            }
        }
    }
    Dataset::from_memory(&Images::u8(&pix, n, 1, SIDE, SIDE)?, &labels, 4)
}
