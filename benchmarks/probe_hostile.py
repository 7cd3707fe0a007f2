"""Try a few hundred hostile or careless inputs through the CLI in-process and count what happened.

    python benchmarks/probe_hostile.py [--json FILE]

Each case runs `mnistlab.cli.main(args)` with a time limit (SIGALRM). Outcomes: ok (exit 0), refused (exit 2
with exactly one line on stderr), traceback (an exception escaped, or a refusal printed more than one line),
hang (over the limit). After each case the probe also counts leftovers (hidden temporaries beside an output)
and data loss (a file the case's user had put in the output folder is gone).
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import signal
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LIMIT_S = 60
NUMBERS = ["nan", "inf", "-inf", "1e308", "-1", "0", str(2**64), "1e-320", "abc", "99999999999999999999"]
OPTIONS = {"train": ["--lr", "--weight-decay", "--epochs", "--batch-size", "--seed", "--max-steps", "--eval-every",
                     "--label-smoothing", "--val", "--train-size"],
           "inspect": ["--n", "--seed", "--sample"], "data explore": ["--n", "--index", "--digit", "--seed"],
           "scratch train": ["--lr", "--epochs", "--batch-size", "--seed"], "serve": ["--port"]}
SPECS = ["f99999999999999999999", "f0", "c0k3", "c8k0", "c8k99", "m0", "d1", "d-1", "crop14", "crop0", "o7", "f8 o10 f8",
         "bn", "c8k3s0", "f1000000 f1000000", "c1000000k1 f10", "x", "f8\nf8", "ä", "f8 " * 2000]


class Hang(Exception):
    pass


def tiny_data(root: Path) -> Path:
    from mnistlab import load_dataset
    from mnistlab.data.idx import write_idx

    sample = load_dataset("mnist-sample")
    folder = root / "tiny"
    folder.mkdir()
    for stem, array in {"train-images-idx3-ubyte": sample.train_images[:300], "train-labels-idx1-ubyte": sample.train_labels[:300],
                        "t10k-images-idx3-ubyte": sample.test_images[:100], "t10k-labels-idx1-ubyte": sample.test_labels[:100]}.items():
        write_idx(folder / f"{stem}.gz", array.astype(np.uint8))
    return folder


def hostile_files(root: Path) -> list[Path]:
    files = {"x.eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n", "empty.png": b"", "junk.png": b"\x89PNG junk",
             "junk.npy": b"\x93NUMPY\x01\x00junk", "text.jpg": b"hello"}
    paths = []
    for name, data in files.items():
        (root / name).write_bytes(data)
        paths.append(root / name)
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    big = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 13000, 13000, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")
    (root / "big.png").write_bytes(big)
    paths.append(root / "big.png")
    for name, header in {"tb.npy": {"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**20)},
                         "complex.npy": {"descr": "<c8", "fortran_order": False, "shape": (8, 8)},
                         "object.npy": {"descr": "|O", "fortran_order": False, "shape": (8, 8)},
                         "zero.npy": {"descr": "<f4", "fortran_order": False, "shape": (0, 28)}}.items():
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        (root / name).write_bytes(buf.getvalue() + bytes(64))
        paths.append(root / name)
    from PIL import Image

    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0
    Image.fromarray(digit, mode="F").save(root / "float.tif")
    paths.append(root / "float.tif")
    return paths


def hostile_data_dirs(root: Path) -> list[Path]:
    header = lambda code, dims: struct.pack(f">BBBB{len(dims)}I", 0, 0, code, len(dims), *dims)  # noqa: E731
    cases = {"bomb": gzip.compress(header(8, [60000, 65536, 65536]) + bytes(1 << 16)),
             "overflow": header(8, [65536, 65536, 1]), "zero-height": header(8, [10, 0, 28]),
             "float-labels": header(0x0D, [10]) + struct.pack(">10f", *([float("nan")] * 10)),
             "truncated": header(8, [10, 28, 28]) + bytes(5)}
    dirs = []
    for name, data in cases.items():
        d = root / f"data-{name}"
        d.mkdir()
        for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            (d / stem).write_bytes(data)
        dirs.append(d)
    return dirs


def damaged_runs(root: Path, run_dir: Path) -> list[Path]:
    record = json.loads((run_dir / "run.json").read_text())
    changes = [("model", None), ("model.n_classes", 10**9), ("model.spec", "f100000000"), ("model.input_shape", [1, -5, 28]),
               ("model.input_shape", "x"), ("model.head", 3), ("normalize", []), ("normalize.std", 0), ("classes", 5),
               ("history", {"a": 1}), ("history", [1, 2]), ("train", []), ("model.n_classes", 2.5), ("model.activation", None), ("", [])]
    runs = []
    for i, (field, value) in enumerate(changes):
        d = root / f"damaged-{i}"
        d.mkdir()
        (d / "model.safetensors").write_bytes((run_dir / "model.safetensors").read_bytes())
        changed = json.loads(json.dumps(record))
        if field:
            *path, last = field.split(".")
            target = changed
            for key in path:
                target = target[key]
            target[last] = value
        else:
            changed = value
        (d / "run.json").write_text(json.dumps(changed))
        runs.append(d)
    return runs


def cases(root: Path) -> list[tuple[str, list[str], Path | None]]:
    """(name, argv, folder whose user files must survive)."""
    from mnistlab.cli import main

    data = tiny_data(root)
    base = ["--data-dir", str(data)]
    quick = ["--model", "f8", "--max-steps", "2"]
    run_dir = root / "run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", *base, *quick, "--out", str(run_dir)]) == 0
    out: list[tuple[str, list[str], Path | None]] = []
    for command, options in OPTIONS.items():
        for option in options:
            for value in NUMBERS:
                words = command.split()
                if command == "train":
                    argv = [*words, *base, *quick, option, value, "--out", str(root / "o" / f"{option}{value}"[:40])]
                elif command == "inspect":
                    argv = [*words, str(run_dir), *base, "--what", "probs", option, value, "--out", str(root / "fig")]
                elif command == "serve":
                    argv = [*words, str(root / "missing-run"), option, value]
                elif command == "scratch train":
                    argv = [*words, *base, "--epochs", "1", option, value] if option != "--epochs" else [*words, *base, option, value]
                else:
                    argv = [*words, *base, option, value, "--out", str(root / "explore")]
                out.append((f"{command} {option} {value}", argv, None))
    for spec in SPECS:
        argv = ["train", *base, "--max-steps", "2", "--model", spec, "--out", str(root / "spec")]
        out.append((f"train --model {spec[:30]!r}", argv, None))
    for path in hostile_files(root):
        out.append((f"predict {path.name}", ["predict", str(run_dir), str(path)], None))
    for d in hostile_data_dirs(root):
        out.append((f"data info {d.name}", ["data", "info", "--data-dir", str(d)], None))
    for d in damaged_runs(root, run_dir):
        for command in ("eval", "predict"):
            argv = [command, str(d), *(["--data-dir", str(data)] if command == "eval" else [str(root / "float.tif")])]
            out.append((f"{command} {d.name}", argv, None))
    for i, setup in enumerate(["run.json", "thesis", "figures"]):
        target = root / f"user-{i}"
        target.mkdir()
        (target / "thesis.txt").write_text("keep")
        if setup == "run.json":
            (target / "run.json").write_text("{}")
        out.append((f"train --out folder with {setup}", ["train", *base, *quick, "--out", str(target)], target))
    for place in ["/proc/x", str(root / "user-0" / "thesis.txt" / "x"), str(root / ("y" * 300)), str(root / "user-0" / "thesis.txt")]:
        for command in (["train", *base, *quick], ["data", "explore", *base], ["scratch", "demo", *base]):
            out.append((f"{command[0]} --out {place[-30:]}", [*command, "--out", place], None))
        out.append((f"report --out {place[-30:]}", ["report", str(run_dir), "--data-dir", str(data), "--out", place], None))
    return out


def run_case(argv: list[str]) -> tuple[str, str]:
    from mnistlab.cli import main

    err = io.StringIO()

    def alarm(signum, frame):
        raise Hang

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(LIMIT_S)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(argv)
    except Hang:
        return "hang", ""
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # noqa: BLE001  (anything escaping main is what we count)
        return "traceback", f"{exc.__class__.__name__}: {str(exc)[:120]}"
    finally:
        signal.alarm(0)
    lines = err.getvalue().strip().splitlines()
    if code == 0:
        return "ok", ""
    if code == 2 and len(lines) == 1:
        return "refused", lines[0][:160]
    return "traceback", f"exit {code}, {len(lines)} stderr lines: {' | '.join(lines)[:200]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write every case and its outcome to this file")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    counts = {"ok": 0, "refused": 0, "traceback": 0, "hang": 0, "leftovers": 0, "data_loss": 0}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        for name, argv, guarded in cases(root):
            outcome, detail = run_case(argv)
            counts[outcome] += 1
            hidden = [p for p in root.rglob(".*") if "mnistlab-" in p.name or p.name.endswith((".tmp", ".old"))]
            counts["leftovers"] += bool(hidden)
            for p in hidden:
                import shutil

                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            lost = guarded is not None and not (guarded / "thesis.txt").is_file()
            counts["data_loss"] += lost
            rows.append({"case": name, "outcome": outcome, "detail": detail, "leftovers": bool(hidden), "data_loss": lost})
            if outcome in ("traceback", "hang") or hidden or lost:
                print(f"{outcome:9} {name}: {detail}", file=sys.stderr)
    import mnistlab

    summary = {"mnistlab": str(Path(mnistlab.__file__).parent), "cases": len(rows), **counts,
               "seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
