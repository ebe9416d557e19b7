#!/usr/bin/env python3
"""Merges the per-process results of bench/compare.sh into one JSON file and prints the table.

    compare_report.py RUN_DIR OUT_JSON
RUN_DIR holds <implementation>-<phase>.json from reference_pipeline.py, pytorch_inmemory.py and
bench_pipeline (one process per phase, so peak RSS is per phase), machine.json (matmul rate),
flops.json and settings.json.  A missing file is a skipped run and shows as "-".
"""

import json
import os
import sys

IMPLS = ("reference", "pytorch_inmemory", "libdeit")
PHASES = ("teacher", "distill", "eval")
PHASE_NAMES = {
    "teacher": "teacher head-only fine-tune",
    "distill": "distillation (teacher + student)",
    "eval": "student evaluation",
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return a / b if a is not None and b else None


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    def line(r):  # first column left-aligned, numbers right-aligned
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run_dir, out_path = sys.argv[1], sys.argv[2]
    settings = load(os.path.join(run_dir, "settings.json")) or {}
    machine = load(os.path.join(run_dir, "machine.json")) or {}
    flops = load(os.path.join(run_dir, "flops.json")) or {}
    runs = {impl: {} for impl in IMPLS}
    for impl in IMPLS:
        for phase in PHASES:
            r = load(os.path.join(run_dir, f"{impl}-{phase}.json"))
            if r and phase in r.get("phases", {}):
                entry = dict(r["phases"][phase])
                entry["peak_rss_mib"] = r.get("peak_rss_mib")
                entry["peak_device_mib"] = r.get("peak_device_mib")
                entry["threads"] = r.get("threads")
                entry["device"] = r.get("device")
                runs[impl][phase] = entry

    def get(impl, phase, key="images_per_sec"):
        return runs[impl].get(phase, {}).get(key)

    rows, table_rows = [], []
    for phase in PHASES:
        ref, mem, lib = (get(i, phase) for i in IMPLS)
        row = {
            "phase": phase,
            "reference_images_per_sec": ref,
            "inmemory_images_per_sec": mem,
            "libdeit_images_per_sec": lib,
            "libdeit_over_reference": ratio(lib, ref),
            "libdeit_over_inmemory": ratio(lib, mem),
            "peak_rss_mib": {i: get(i, phase, "peak_rss_mib") for i in IMPLS},
            "peak_device_mib": {i: get(i, phase, "peak_device_mib") for i in IMPLS},
        }
        rows.append(row)
        table_rows.append([
            PHASE_NAMES[phase], fmt(ref, ".1f"), fmt(mem, ".1f"), fmt(lib, ".1f"),
            fmt(row["libdeit_over_reference"], ".2f") + "x", fmt(row["libdeit_over_inmemory"], ".2f") + "x",
            " / ".join(fmt(row["peak_rss_mib"][i], ".0f") for i in IMPLS),
        ])
    print(table(["phase", "reference img/s", "in-memory img/s", "libdeit img/s", "libdeit/ref",
                 "libdeit/in-mem", "peak RSS MiB ref / mem / libdeit"], table_rows))
    if any(v is not None for r in rows for v in r["peak_device_mib"].values()):
        print("peak device memory MiB (ref / mem / libdeit; libdeit has no API for it): " + ", ".join(
            f"{r['phase']} " + " / ".join(fmt(r["peak_device_mib"][i], ".0f") for i in IMPLS) for r in rows))

    # Achieved rate of the student's own matrix products.  The reference's distillation step also
    # runs the teacher, so its figure is a lower bound; the others use the epochs alone (logits apart).
    rate = machine.get("matmul_gflops")
    f_pt, f_lib = flops.get("student_train_flops_pytorch"), flops.get("student_train_flops_libdeit")
    student_ips = {
        "reference": get("reference", "distill"),
        "pytorch_inmemory": get("pytorch_inmemory", "distill", "epoch_images_per_sec"),
        "libdeit": get("libdeit", "distill", "epoch_images_per_sec"),
    }
    gflops_rows, flop_table = [], []
    for impl in IMPLS:
        ips = student_ips[impl]
        per_image = f_lib if impl == "libdeit" else f_pt
        g = ips * per_image / 1e9 if ips is not None and per_image else None
        g_equiv = ips * f_pt / 1e9 if ips is not None and f_pt else None
        gflops_rows.append({"implementation": impl, "student_train_images_per_sec": ips,
                            "flops_per_image": per_image, "gflops": g, "pytorch_equivalent_gflops": g_equiv,
                            "percent_of_matmul": 100 * g / rate if g is not None and rate else None})
        flop_table.append([impl, fmt(ips, ".1f"), fmt(per_image / 1e6 if per_image else None, ".1f"),
                           fmt(g, ".2f"), fmt(g_equiv, ".2f"),
                           fmt(100 * g / rate if g is not None and rate else None, ".1f") + "%"])
    print()
    print(f"student training step: {fmt(f_pt / 1e6 if f_pt else None, '.1f')} MFLOP/image in PyTorch, "
          f"{fmt(f_lib / 1e6 if f_lib else None, '.1f')} in libdeit (last block on 2 rows); "
          f"machine: {fmt(rate, '.1f')} GFLOP/s (2048x2048 float matmul, median)")
    print(table(["implementation", "student img/s", "MFLOP/img", "GFLOP/s", "PyTorch-equiv GFLOP/s",
                 "% of matmul"], flop_table))

    result = {"settings": settings, "machine": machine, "flops": flops, "table": rows,
              "student_gflops": gflops_rows, "runs": runs}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"\nwritten: {out_path}")


if __name__ == "__main__":
    main()
