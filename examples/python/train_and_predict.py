#!/usr/bin/env python3
"""libdeit from Python: fine-tune a small ResNet-18 teacher on a few hundred Fashion-MNIST images,
distill it into the reference notebook's DeiT student, print both accuracies and a few predictions.

    train_and_predict.py [DATA_DIR [STUDENT.safetensors]]

DATA_DIR holds the IDX files (default /usr/share/datasets/fashion-mnist). Tiny on purpose: about half
a minute on two CPU cores, so the accuracies are far from what full training gives.
"""
import sys

import numpy as np

import deit

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def print_epoch(p):
    """Progress callback: one line per finished epoch (raising here would cancel training)."""
    if p.end_of_epoch and p.phase != "teacher_logits":
        who = "teacher" if p.phase == "teacher_train" else "student"
        print(f"  {who} epoch {p.epoch}/{p.epochs}: loss {p.loss:.4f}, {p.images_per_sec:.0f} images/s")


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    student_path = sys.argv[2] if len(sys.argv) > 2 else "student.safetensors"
    print(f"libdeit {deit.version()} ({deit.__file__})")
    try:
        with deit.Dataset.open_dir(data_dir, "train") as full_train, \
                deit.Dataset.open_dir(data_dir, "test") as full_test:
            train, test = full_train.subset_first(2000), full_test.subset_first(500)
    except deit.Error as e:
        sys.exit(f"error: {e}")

    with train, test, deit.Teacher("resnet18", test.num_classes) as teacher:
        teacher.train(train, epochs=2, batch_size=32, progress=print_epoch)
        r = teacher.evaluate(test)
        print(f"teacher accuracy {100 * r.accuracy:.1f}% on {r.count} test images")

        with deit.Student("seed", test.num_classes) as student:
            student.distill(teacher, train, epochs=6, batch_size=32, progress=print_epoch)
            r = student.evaluate(test)
            print(f"student accuracy {100 * r.accuracy:.1f}% (class head {100 * r.accuracy_cls:.1f}%, "
                  f"distillation head {100 * r.accuracy_dist:.1f}%)")
            student.save(student_path)
            print(f"student saved to {student_path}")

        # A few predictions from a numpy array (N x C x H x W uint8, as the data set stores them).
        images, labels = test.images(0, 5), test.labels(0, 5)
        with deit.Student.load(student_path) as loaded:
            logits = loaded.predict(images, layout="nchw")
        for i, (k, y) in enumerate(zip(logits.argmax(axis=1), labels)):
            p = np.exp(logits[i] - logits[i].max())
            print(f"  image {i}: predicted {CLASS_NAMES[k]:<12} ({100 * p[k] / p.sum():.0f}%) true {CLASS_NAMES[y]}")


if __name__ == "__main__":
    main()
