"""Try a few hundred hostile or careless inputs through the CLI in-process and count what happened.

    python benchmarks/probe_hostile.py [--json FILE]

Each case runs `mnistlab.cli.main(args)` with a time limit (SIGALRM). Outcomes: ok (exit 0), refused (exit 2
with exactly one line on stderr), traceback (an exception escaped, or a refusal printed more than one line),
hang (over the limit). After each case the probe also counts leftovers (hidden temporaries beside an output,
or anything a refused case created), data loss (a file the case's user had put in the output folder is gone)
and wrong results (a case's own check of what a completed command wrote, e.g. a diverged run marked so).
Some cases run in an environment: a full disk or an unreadable file, made by patching what mnistlab calls
(`shutil.disk_usage`, `open`), so the probe needs neither root nor a small file system.
`--only round3` runs the third round's classes alone (issue 23).
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


@contextlib.contextmanager
def full_disk(free: int = 0):
    """Every output place reports `free` bytes free."""
    import shutil
    from unittest import mock

    real = shutil.disk_usage
    with mock.patch.object(shutil, "disk_usage", lambda p: real(p)._replace(free=free)):
        yield


@contextlib.contextmanager
def disk_fills_while_saving():
    """The free-space check passes, then the weights' write fails as on a full disk."""
    from unittest import mock

    from safetensors import SafetensorError

    def fail(*args, **kwargs):
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")
    with mock.patch("mnistlab.train.job.check_space"), mock.patch("mnistlab.train.run.check_space"), \
            mock.patch("mnistlab.train.run.save_file", fail):
        yield


@contextlib.contextmanager
def unreadable(path: Path):
    """`path` (a file, or everything inside a folder) cannot be opened or examined, as without read permission."""
    import builtins
    import errno
    import os
    from unittest import mock

    real_open, real_stat, target, folder = builtins.open, os.stat, str(path), path.is_dir()

    def denied(p) -> bool:
        return isinstance(p, (str, os.PathLike)) and os.path.abspath(os.fspath(p)).startswith(target) \
            and (not folder or os.path.abspath(os.fspath(p)) != target)

    def fake(real):
        def call(p, *args, **kwargs):
            if denied(p):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(p))
            return real(p, *args, **kwargs)
        return call
    with mock.patch.object(builtins, "open", fake(real_open)), mock.patch.object(os, "stat", fake(real_stat)):
        yield


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_pixel_data(root: Path) -> Path:
    from mnistlab.data.idx import write_idx

    folder = root / "one-pixel"
    folder.mkdir()
    for stem, n in (("train", 120), ("t10k", 40)):
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", np.random.default_rng(0).integers(0, 256, (n, 1, 1)).astype(np.uint8))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return folder


def tampered_run(root: Path, run_dir: Path) -> Path:
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    copy = root / "tampered"
    shutil.copytree(run_dir, copy)
    weights = load_file(copy / "model.safetensors")
    save_file({k: v.to(torch.int8).float() for k, v in weights.items()}, copy / "model.safetensors")
    return copy


def marked_diverged(out: Path):
    def check() -> str | None:
        record = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
        return None if record.get("diverged") is True else "a diverged run was saved without \"diverged\": true"
    return check


def round3(root: Path, base: list[str], quick: list[str], run_dir: Path, data: Path) -> list[tuple]:
    """Issue 23's classes: huge sweeps, unreachable clusters, full disks, unreadable files, tampered weights,
    diverged runs, other input sizes, leftovers of refusals, negative counts. (name, argv, guarded, extra)."""
    from PIL import Image

    space = root / "huge.toml"
    space.write_text('lr = "1e-4..1e-1:log:1000"\nweight_decay = "1e-6..1e-2:log:1000"\nlabel_smoothing = "0..0.2:lin:1000"\n')
    (root / "results").mkdir()
    (root / "tb-file").write_text("a file")
    pixel = one_pixel_data(root)
    one_run = root / "one-pixel-run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from mnistlab.cli import main

        assert main(["train", "--data-dir", str(pixel), *quick, "--out", str(one_run)]) == 0
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    Image.fromarray(digit).save(root / "digit.png")
    unreadable_idx = root / "unreadable-idx"
    import shutil

    shutil.copytree(data, unreadable_idx)
    sweep = ["sweep", *base, "--max-steps", "1", "--out", str(root / "sw")]
    address = f"127.0.0.1:{closed_port()}"
    cases = [
        ("sweep: a 10^9-point grid", ["sweep", "--space", str(space), *base, "--out", str(root / "sw")], None, {}),
        ("sweep: --trials 10^9", [*sweep, "--lr", "1e-3..1e-1", "--trials", str(10**9)], None, {}),
        ("sweep: 10^9 grid points on one axis", [*sweep, "--lr", "1e-3..1e-1:log:1000000000"], None, {}),
        ("sweep: a model template of 10^4 specs", [*sweep, "--model", "f{1,2,3,4,5,6,7,8,9,10} " * 4], None, {}),
        ("sweep: ray --address on a closed port", [*sweep, "--lr", "0.1,0.2", "--executor", "ray", "--address", address], None, {}),
        ("sweep --jobs -5", [*sweep, "--lr", "0.1,0.2", "--jobs", "-5"], None, {}),
        ("sweep --trials -1", [*sweep, "--lr", "0.1,0.2", "--trials", "-1"], None, {}),
        ("train --folds -1", ["train", *base, *quick, "--folds", "-1", "--out", str(root / "cv")], None, {}),
        ("train --out on a full disk", ["train", *base, *quick, "--out", str(root / "full")], None, {"env": full_disk}),
        ("train: the disk fills while saving", ["train", *base, *quick, "--out", str(root / "fills")], None,
         {"env": disk_fills_while_saving, "absent": root / "fills"}),
        ("inspect --what all on a full disk", ["inspect", str(run_dir), "--out", str(root / "figs")], None,
         {"env": full_disk, "absent": root / "figs"}),
        ("report on a full disk", ["report", str(run_dir), "--out", str(root / "r.html")], None, {"env": full_disk}),
        ("export on a full disk", ["export", str(run_dir), "--format", "torchscript", "--out", str(root / "m.pt")], None,
         {"env": full_disk}),
        ("data explore on a full disk", ["data", "explore", *base, "--out", str(root / "ex")], None, {"env": full_disk}),
        ("bench --out an existing folder", ["bench", "--out", str(root / "results")], None, {}),
        ("train: diverges without NaN", ["train", *base, "--model", "f32", "--lr", "1e6", "--schedule", "none", "--epochs", "2",
                                         "--out", str(root / "diverged")], None, {"check": marked_diverged(root / "diverged")}),
        ("eval: weights changed after the save", ["eval", str(tampered_run(root, run_dir)), *base], None, {}),
        ("data info: an unreadable data folder", ["data", "info", "--data-dir", str(unreadable_idx)], None,
         {"env": lambda: unreadable(unreadable_idx)}),
        ("data info: an unreadable IDX file", ["data", "info", "--data-dir", str(unreadable_idx)], None,
         {"env": lambda: unreadable(next(unreadable_idx.glob("train-images*")))}),
        ("predict: an unreadable image", ["predict", str(run_dir), str(root / "digit.png")], None,
         {"env": lambda: unreadable(root / "digit.png")}),
        ("predict: a run on 1x1 images", ["predict", str(one_run), str(root / "digit.png")], None, {}),
        ("eval: a 1x1 run on 28x28 data", ["eval", str(one_run), *base], None, {}),
        ("train --optimizer-options lr", ["train", *base, *quick, "--optimizer-options", '{"lr": 0.1}', "--out", str(root / "r3-o")],
         None, {"absent": root / "r3-o"}),
        ("train --tensorboard FILE", ["train", *base, *quick, "--tensorboard", str(root / "tb-file"), "--out", str(root / "r3-t")],
         None, {"absent": root / "r3-t"}),
        ("train --dataset foo --out a/b/run", ["train", "--dataset", "foo", "--out", str(root / "a" / "b" / "run")], None,
         {"absent": root / "a"}),
        ("data explore on 1x1 images", ["data", "explore", "--data-dir", str(pixel), "--out", str(root / "px")], None,
         {"absent": root / "px"}),
    ]
    return cases


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


def cases(root: Path, only: str | None = None) -> list[tuple]:
    """(name, argv, folder whose user files must survive[, {"env": context, "check": what a result must hold,
    "absent": a path the case must not create}])."""
    from mnistlab.cli import main

    data = tiny_data(root)
    base = ["--data-dir", str(data)]
    quick = ["--model", "f8", "--max-steps", "2"]
    run_dir = root / "run"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", *base, *quick, "--out", str(run_dir)]) == 0
    if only == "round3":
        return round3(root, base, quick, run_dir, data)
    out: list[tuple] = []
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
    return out + round3(root, base, quick, run_dir, data)


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
    parser.add_argument("--only", choices=("round3",), help="run only the third round's classes (issue 23)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    counts = {"ok": 0, "refused": 0, "traceback": 0, "hang": 0, "leftovers": 0, "data_loss": 0, "wrong": 0}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        for name, argv, guarded, *extra in cases(root, args.only):
            extra = extra[0] if extra else {}
            assert "absent" not in extra or not extra["absent"].exists(), f"{name}: its absent path exists before it runs"
            with extra.get("env", contextlib.nullcontext)():
                outcome, detail = run_case(argv)
            counts[outcome] += 1
            wrong = extra["check"]() if "check" in extra else None
            counts["wrong"] += bool(wrong)
            detail = wrong or detail
            hidden = [p for p in root.rglob(".*") if "mnistlab-" in p.name or p.name.endswith((".tmp", ".old"))]
            hidden += [extra["absent"]] if "absent" in extra and extra["absent"].exists() else []
            counts["leftovers"] += bool(hidden)
            for p in hidden:
                import shutil

                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            lost = guarded is not None and not (guarded / "thesis.txt").is_file()
            counts["data_loss"] += lost
            rows.append({"case": name, "outcome": outcome, "detail": detail, "leftovers": bool(hidden), "data_loss": lost,
                         "wrong": bool(wrong)})
            if outcome in ("traceback", "hang") or hidden or lost or wrong:
                print(f"{outcome:9} {name}: {detail}", file=sys.stderr)
    import mnistlab

    summary = {"mnistlab": str(Path(mnistlab.__file__).parent), "cases": len(rows), **counts,
               "seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
