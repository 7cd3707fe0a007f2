"""How fast `--data PATH` reads full MNIST as a CSV (60,000 rows, ~110 MB) and as a folder of 60,000 PNGs.

Writes both from the IDX files first (or reuses them with --keep DIR), then times, each in a fresh process (imports
included) with an empty cache and again with it warm: the CSV (NumPy's C parser, then the digest-keyed cache)
beside pyarrow's multi-threaded CSV reader on the same file, and the PNG folder (decoded on threads with a
progress line, then its cache).
Usage: MNISTLAB_DATA=../shared/data python benchmarks/data_loading.py --out benchmarks/results/data-loading.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LOAD = ("import sys, time; t, c = time.perf_counter(), time.process_time(); from mnistlab.data import load_dataset; "
        "ds = load_dataset('mnist', sys.argv[1]); "
        "print(time.perf_counter() - t, time.process_time() - c, len(ds.train_labels) + len(ds.test_labels))")
PYARROW = ("import sys, time; t, c = time.perf_counter(), time.process_time(); import pyarrow as pa, pyarrow.csv as pc; "
           "names = [f'f{i}' for i in range(785)]; "
           "a = pc.read_csv(sys.argv[1], read_options=pc.ReadOptions(column_names=names), convert_options=pc.ConvertOptions("
           "column_types={n: pa.uint8() for n in names})); print(time.perf_counter() - t, time.process_time() - c, a.num_rows)")


def timed(code: str, *args: str, cache: Path) -> tuple[dict, int]:
    """Wall and CPU seconds (all threads) and rows of one load in a fresh interpreter (imports included), with
    MNISTLAB_CACHE at `cache`. On a shared machine the wall time is what the load got; the CPU time is what it
    costs, and bounds the wall time of a quiet machine with as many cores as the load keeps busy."""
    env = {**os.environ, "MNISTLAB_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env)
    wall, cpu, rows = done.stdout.split()
    return {"wall_s": round(float(wall), 3), "cpu_s": round(float(cpu), 3)}, int(rows)


def write_files(root: Path) -> tuple[Path, Path]:
    csv, folder = root / "mnist_train.csv", root / "pngs"
    if csv.is_file() and folder.is_dir():
        return csv, folder
    from PIL import Image

    from mnistlab.data import load_dataset

    ds = load_dataset("mnist")
    np.savetxt(csv, np.concatenate([ds.train_labels[:, None], ds.train_images.reshape(len(ds.train_labels), -1)], 1),
               fmt="%d", delimiter=",")
    for i, (image, label) in enumerate(zip(ds.train_images, ds.train_labels)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i:05d}.png")
    return csv, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--keep", metavar="DIR", help="write the files here once and reuse them (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        csv, folder = write_files(root)
        report = {"files_written_s": round(time.perf_counter() - start, 1), "csv_bytes": csv.stat().st_size,
                  "cpus": os.cpu_count(), "load_average_before": os.getloadavg()[0]}
        caches = Path(tmp) / "caches"  # always fresh: empty for each first load, warm for the second
        report["csv_first_s"], rows = timed(LOAD, str(csv), cache=caches / "csv")
        report["csv_cached_s"], _ = timed(LOAD, str(csv), cache=caches / "csv")
        report["pyarrow_read_csv_s"], _ = timed(PYARROW, str(csv), cache=caches / "csv")
        report["csv_rows"] = rows
        report["folder_first_s"], images = timed(LOAD, str(folder), cache=caches / "png")
        report["folder_cached_s"], _ = timed(LOAD, str(folder), cache=caches / "png")
        report["folder_images"] = images
        report["load_average_after"] = os.getloadavg()[0]
    report["targets_by_wall_time"] = {"csv_under_3s": report["csv_first_s"]["wall_s"] <= 3,
                                      "folder_under_30s": report["folder_first_s"]["wall_s"] <= 30}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
