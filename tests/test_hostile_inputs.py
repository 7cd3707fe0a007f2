"""Any bytes or structure given to a reader either loads or is refused with one UserError; never a crash.

Property-based (hypothesis), with few examples each so the suite stays fast; bounded memory comes from the
readers checking declared sizes before allocating, which the oversized cases below exercise directly.
"""
from __future__ import annotations

import gzip
import io
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnistlab.data.idx import read_idx
from mnistlab.data.images import read_image
from mnistlab.errors import UserError
from mnistlab.models import build_model, parse_spec
from mnistlab.train.run import META, load_run, save_run

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def loads_or_refuses(read, *args):
    try:
        return read(*args)
    except UserError as exc:
        assert "\n" not in str(exc)
        return None


def idx_header(code: int, dims: list[int]) -> bytes:
    return struct.pack(f">BBBB{len(dims)}I", 0, 0, code, len(dims), *dims)


@FEW
@given(code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x01]), dims=st.lists(st.integers(0, 2**32 - 1), max_size=5),
       payload=st.binary(max_size=64), zipped=st.booleans())
def test_idx_reader_on_any_header(tmp_path, code, dims, payload, zipped):
    data = idx_header(code, dims) + payload
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(data) if zipped else data)
    loads_or_refuses(read_idx, path)


@FEW
@given(data=st.binary(max_size=200))
def test_idx_reader_on_any_bytes(tmp_path, data):
    path = tmp_path / "y.idx"
    path.write_bytes(data)
    loads_or_refuses(read_idx, path)


def test_a_gzip_bomb_is_refused_from_its_header(tmp_path):
    """10,000 x 10,000 x 100 images declared, 1 MB sent compressed: refused without expanding it."""
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(idx_header(0x08, [100, 10_000, 10_000]) + bytes(1 << 20)))
    with pytest.raises(UserError, match="more than 8 GiB"):
        read_idx(path)
    path.write_bytes(gzip.compress(idx_header(0x08, [10, 28, 28]) + bytes(50_000_000)))  # longer than declared
    with pytest.raises(UserError, match="payload has"):
        read_idx(path)


@FEW
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".png", ".jpg", ".npy", ".eps", ".tif", ""]))
def test_image_loader_on_any_bytes(tmp_path, data, suffix):
    for prefix in (b"", b"\x89PNG\r\n\x1a\n", b"\x93NUMPY\x01\x00", b"II*\x00", b"%!PS-Adobe-3.0 EPSF-3.0\n"):
        path = tmp_path / f"img{suffix}"
        path.write_bytes(prefix + data)
        loads_or_refuses(read_image, path)


@FEW
@given(shape=st.lists(st.integers(0, 2**40), min_size=0, max_size=4),
       dtype=st.sampled_from(["<f4", "<c8", "|O", "<U3", "|b1", "<i8", "|V4"]))
def test_npy_loader_checks_the_header_first(tmp_path, shape, dtype):
    """A header may claim a terabyte of complex numbers: refused before any data is read."""
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    path = tmp_path / "a.npy"
    path.write_bytes(buf.getvalue() + bytes(64))
    loads_or_refuses(read_image, path)


def test_a_png_claiming_huge_size_is_refused_from_its_header(tmp_path):
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 13000, 13000, 8, 0, 0, 0, 0)) + chunk(b"IEND", b"")
    (tmp_path / "big.png").write_bytes(png)
    with pytest.raises(UserError, match="13000x13000 is too large"):
        read_image(tmp_path / "big.png")


TOKEN = st.one_of(st.from_regex(r"(crop|c|k|s|p|m|a|f|d|o|bn|x)[0-9.]{0,25}(k[0-9]{0,5})?(s[0-9]{0,3})?", fullmatch=True),
                  st.text(max_size=8))


@FEW
@given(tokens=st.lists(TOKEN, max_size=6))
def test_grammar_and_builder_on_any_spec(tokens):
    spec = " ".join(tokens)
    if loads_or_refuses(parse_spec, spec) is not None:
        loads_or_refuses(build_model, spec)


RECORD_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
                             lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                             max_leaves=8)


@FEW
@given(field=st.sampled_from(["model", "model.spec", "model.input_shape", "model.n_classes", "model.head", "normalize",
                              "normalize.std", "classes", "history", "train", ""]),
       value=RECORD_VALUES)
def test_run_loader_on_any_record(tiny_run, tmp_path_factory, field, value):
    out = tmp_path_factory.mktemp("run")
    save_run(tiny_run, out / "r")
    record = json.loads((out / "r" / META).read_text())
    if field:
        *path, last = field.split(".")
        target = record
        for key in path:
            target = target[key]
        target[last] = value
    else:
        record = value
    (out / "r" / META).write_text(json.dumps(record))
    loads_or_refuses(load_run, out / "r")


@pytest.mark.parametrize("change", [{"n_classes": 10**9}, {"spec": "f100000000"}, {"spec": "f1000000 f1000000"}])
def test_a_record_asking_for_a_huge_model_is_refused_before_allocating(tiny_run, tmp_path, change):
    save_run(tiny_run, tmp_path / "r")
    record = json.loads((tmp_path / "r" / META).read_text())
    record["model"].update(change)
    (tmp_path / "r" / META).write_text(json.dumps(record))
    with pytest.raises(UserError, match="n_classes|GiB to train|at most"):
        load_run(tmp_path / "r")


@pytest.mark.parametrize("source, damage", [("csv", "truncated"), ("csv", "other arrays"), ("csv", "wrong shape"),
                                            ("folder", "truncated"), ("folder", "other arrays")])
def test_a_damaged_cache_entry_costs_only_a_new_read(sample, tmp_path, monkeypatch, damage, source):
    # the cache promises that a bad entry only costs the time of reading the source again: each of these gave a
    # traceback on every later command on that data
    from mnistlab.data import load_dataset
    from mnistlab.data.cache import cache_dir

    monkeypatch.setenv("MNISTLAB_CACHE", str(tmp_path / "cache"))  # this test's entry alone
    pick = np.concatenate([np.flatnonzero(sample.train_labels == c)[:20] for c in range(10)])
    images, labels = sample.train_images[pick], sample.train_labels[pick]
    if source == "csv":
        data = tmp_path / "digits.csv"
        data.write_text("".join(f"{y}," + ",".join(map(str, x.ravel())) + "\n" for x, y in zip(images, labels)))
    else:
        data = tmp_path / "digits"
        for i, (x, y) in enumerate(zip(images, labels)):
            (data / str(y)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(x).save(data / str(y) / f"{i}.png")
    first = load_dataset("mnist", data)
    (entry,) = (cache_dir() / ("tables" if source == "csv" else "folders")).glob("*.npz")
    if damage == "truncated":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    else:
        with np.load(entry) as z:
            arrays = {k: z[k] for k in z.files}
        if damage == "other arrays":
            arrays = {"x": np.zeros(3)}
        else:
            arrays = {k: v[:, :5] if v.dtype == np.uint8 else v for k, v in arrays.items()}
        with open(entry, "wb") as f:
            np.savez(f, **arrays)
    again = load_dataset("mnist", data)
    assert np.array_equal(again.train_images, first.train_images) and np.array_equal(again.train_labels, first.train_labels)


@pytest.fixture
def small_memory(monkeypatch):
    """A machine of 600 MB: the data budget is 100 MB, so the whole-set checks act on files a test can write."""
    import mnistlab.memory

    monkeypatch.setattr(mnistlab.memory, "machine_memory", lambda: 600 << 20)
    return 100 << 20


def test_a_folder_of_huge_blank_pngs_is_refused_from_the_headers(tmp_path, small_memory, monkeypatch):
    # 12 PNGs of 3000x3000 zeros, 30 KB each, 324 MB decoded as RGB: refused before a pixel is decoded
    import mnistlab.data.folder as folder
    from mnistlab.data import load_dataset

    for c in range(2):
        (tmp_path / "huge" / str(c)).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (3000, 3000)).save(tmp_path / "huge" / str(c) / f"{i}.png")
    monkeypatch.setattr(folder, "decode", lambda *a, **k: pytest.fail("decoded before the budget was checked"))
    with pytest.raises(UserError, match=r"its 12 images would take up to 648 MB decoded, more than the 105 MB.*image_size=\(H, W\)"):
        load_dataset("mnist", tmp_path / "huge")


def test_image_size_is_bounded(cli, tmp_path):
    from mnistlab.data.formats import ReadOptions

    with pytest.raises(UserError, match=r"^image_size=\(16384, 16384\): at most 16384 a side and 50,000,000 pixels"):
        ReadOptions(image_size=(16384, 16384))  # Python is told its own parameter; the command line its flag, below
    result = cli("data", "info", "--data", tmp_path, "--image-size", "100000x28")
    assert result.code == 2 and "--image-size 100000x28: at most" in result.err and len(result.err.strip().splitlines()) == 1


def test_a_cifar_archive_of_huge_members_is_refused_before_they_are_held(tmp_path, small_memory):
    # each member passes the per-member cap; together they pass the budget: refused before the second is read
    import tarfile

    from mnistlab.data import load_dataset

    archive = tmp_path / "big.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin"):
            member = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            member.size = 30_730_000  # 10,000 records
            tar.addfile(member, io.BytesIO(bytes(member.size)))
    with pytest.raises(UserError, match=r"its batches \(read, then joined\) would take up to 123 MB decoded"):
        load_dataset("mnist", archive)


def test_a_csv_that_starts_with_long_rows_is_bounded_by_its_size(tmp_path, monkeypatch):
    # a machine of 60 MB (a 10 MB budget); the first rows, three digits a value, suggest 7.7 MB of pixels, but at two
    # bytes a value at least the file may hold 11 MB: refused before a row is parsed, whatever the first rows say
    import mnistlab.memory
    from mnistlab.data import load_dataset

    monkeypatch.setattr(mnistlab.memory, "machine_memory", lambda: 60 << 20)
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write(("1," + ",".join(["255"] * 784) + "\n") * 200)
        f.write(("1," + ",".join(["0"] * 784) + "\n") * 14_000)
    with pytest.raises(UserError, match=r"23 MB of CSV \(785 values a row\) would take up to 11 MB decoded, "
                                        r"more than the 10 MB .*head -n"):
        load_dataset("mnist", path)


def test_a_csv_of_one_endless_field_is_one_line(tmp_path):
    from mnistlab.data import load_dataset

    path = tmp_path / "one.csv"
    path.write_text("7" * (1 << 20) + "\n1,2\n")
    with pytest.raises(UserError, match="row 1 is not CSV of numbers .*field larger than field limit"):
        load_dataset("mnist", path)


def test_a_csv_with_a_latin1_header_row_is_read(tmp_path, sample):
    from mnistlab.data import load_dataset

    pick = np.concatenate([np.flatnonzero(sample.train_labels == c)[:20] for c in range(10)])
    path = tmp_path / "latin.csv"
    rows = "".join(f"{y}," + ",".join(map(str, x.ravel())) + "\n" for x, y in zip(sample.train_images[pick], sample.train_labels[pick]))
    path.write_bytes("étiquette,".encode("latin-1") + ",".join(f"p{i}" for i in range(784)).encode() + b"\n" + rows.encode())
    assert len(load_dataset("mnist", path).train_labels) + len(load_dataset("mnist", path).test_labels) == 200
