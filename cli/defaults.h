// The configurations `deitctl run` starts from: the reference notebook's, and a smaller one for machines
// without CUDA.  Every value here is overridden by the matching option when it is given explicitly.
#pragma once

#include <deit/deit.h>

namespace deitctl {

constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";
constexpr const char* kDefaultRunOut = "deit-run";
// What --data accepts (deit_dataset_open).
constexpr const char* kDataHelp =
    "an IDX (MNIST family) or CIFAR-10/100 binary directory, a folder of class folders (with or without "
    "train/ and val/), or a .csv list file";

struct RunDefaults {
  const char* name;  // shown in the "configuration chosen" message
  const char* teacher_arch;
  int teacher_epochs;
  double teacher_lr;
  deit_optimizer teacher_optimizer;
  const char* student_preset;
  int student_epochs;
  double lr;
  deit_optimizer optimizer;
  deit_schedule schedule;
  int warmup_epochs;
  int batch_size;
  double alpha;
  double temperature;
  deit_distillation distillation;
  double label_smoothing;
  double fraction;  // of the training split
  // DeiT's recipe (issue 16).
  deit_schedule teacher_schedule;
  double teacher_label_smoothing;
  bool teacher_augment;  // the library's augmentation (deit_augment_options_init) for the teacher
  // ... but only when it trains at least this many epochs (0: always): a teacher that sees each image a few
  // times underfits, and augmentation slows it further (unless augmentation is asked for on the command
  // line).
  int teacher_augment_min_epochs;
  bool augment;       // the library's augmentation for the student
  double drop_path;   // the student's stochastic depth
  double clip_grad;   // both models
  // Epochs from a budget of images seen (0: the fixed epochs above): epochs = budget / training images,
  // rounded, within [1, kMaxBudgetEpochs], so that a small data set gets as many optimizer steps as a
  // large one instead of a fraction of them.
  int64_t teacher_budget;
  int64_t student_budget;
  double ema_decay;  // the student's weight average (0: off)
  // The teacher for images of at most kSmallImageSide pixels a side trained from scratch (no weights
  // given), instead of teacher_arch; nullptr: teacher_arch always.
  const char* small_image_teacher_arch;
};

// Images this small (28 px Fashion-MNIST, 32 px CIFAR) lose most of their resolution in torchvision's
// stride-4 stem; the CIFAR ResNet keeps it at the same cost.
constexpr int kSmallImageSide = 64;

constexpr int kMaxBudgetEpochs = 100;  // small data sets: more epochs over few images overfit without augmentation

// The reference notebook (ResNet-50 teacher, 3 + 5 epochs, batch 64, Adam 1e-3, soft KD, T 2, alpha 0.5,
// all of the training split).  Used with CUDA, or anywhere with --full.
constexpr RunDefaults kNotebookDefaults = {
    "the reference notebook's configuration",
    "resnet50",
    3,
    1e-3,
    DEIT_OPTIM_ADAM,
    "seed",
    5,
    1e-3,
    DEIT_OPTIM_ADAM,
    DEIT_SCHEDULE_CONSTANT,
    0,
    64,
    0.5,
    2.0,
    DEIT_DISTILL_SOFT,
    0.0,
    1.0,
    DEIT_SCHEDULE_CONSTANT,
    0.0,
    false,
    0,
    false,
    0.0,
    0.0,
    0,
    0,
    0.0,
    nullptr,
};

// DeiT's recipe on a budget, used by `deitctl run` unless --full (CPU: the README's main command, which must
// finish within 15 minutes on a 2-core machine).  AdamW + cosine and label smoothing for both models, soft
// distillation, all of the training split, and epochs from budgets of images seen, so that a 2,000-image
// directory trains as many steps as Fashion-MNIST's 60,000.  Soft, not DeiT's hard: without augmentation the
// teacher's argmax on the training images is mostly the label, its soft logits carry more; soft gained +1.4
// and +0.95 points over no teacher on 2,000 and 8,000 images where hard gained +0.4 and +0.15
// (docs/RESULTS.md).  The teacher trains at lr 3e-3 (ResNet-20 on Fashion-MNIST: +0.7 points over 1e-3 on
// 2,000 and on 60,000 images; not measured for resnet18) on augmented batches (the library's defaults:
// random crop with padding 4, random erasing 0.25) when its budget gives it at least 10 epochs; with fewer it
// underfits and trains on the images as stored (3 epochs over 60,000 images: 92.43% as stored, 91.62% with
// the random crop; 90 epochs over 2,000: 83.63% as stored, 87.62% augmented).  The student does not augment:
// at these budgets augmentation cost the seed student 4-10 points on a 2,000-image subset (docs/RESULTS.md),
// and without it the teacher's logits are computed once instead of at every step.  Budgets: on
// Fashion-MNIST's 60,000 images, 3 teacher and 10 student epochs fit the README's 15 minutes on 2 cores.
constexpr RunDefaults kCpuDefaults = {
    "DeiT's recipe on a CPU budget",
    "resnet18",
    3,  // epochs when the budget is off
    3e-3,
    DEIT_OPTIM_ADAMW,
    "seed",
    8,
    1e-3,
    DEIT_OPTIM_ADAMW,
    DEIT_SCHEDULE_COSINE,
    0,
    64,
    0.5,
    2.0,
    DEIT_DISTILL_SOFT,
    0.1,
    1.0,
    DEIT_SCHEDULE_COSINE,
    0.1,
    true,
    10,
    false,
    0.0,
    0.0,
    180000,
    600000,
    0.0,
    "resnet20-small-image",
};

}  // namespace deitctl
