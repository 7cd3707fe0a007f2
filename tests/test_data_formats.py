"""--data PATH: CSV files (Colab and Kaggle styles), image folders, CIFAR-10 binary archives, written for real
here, trained on, and every bad input refused in one line with nothing written."""
from __future__ import annotations

import base64
import contextlib
import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error
from mnistlab.data import load_dataset
from mnistlab.data.cifar import write_cifar
from mnistlab.data.formats import ReadOptions
from mnistlab.errors import UserError

NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_csv(path, images, labels, header=False):
    table = np.concatenate([labels[:, None], images.reshape(len(images), -1)], axis=1)
    with open(path, "w") as f:
        if header:
            f.write("label," + ",".join(f"pixel{i}" for i in range(table.shape[1] - 1)) + "\n")
        np.savetxt(f, table, fmt="%d", delimiter=",")
    return path


def coloured(images, seed=0):
    """Digits in a random bright colour on a random dark background, padded to 32x32: (N, 3, 32, 32)."""
    rng = np.random.default_rng(seed)
    ink = np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None] / 255.0
    fg, bg = rng.uniform(0.4, 1.0, (len(images), 3, 1, 1)), rng.uniform(0.0, 0.3, (len(images), 3, 1, 1))
    return np.round(255 * (ink * fg + (1 - ink) * bg)).astype(np.uint8)


def write_tree(root, images, labels, names=NAMES):
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image if image.ndim == 2 else image.transpose(1, 2, 0)).save(folder / f"{i:05d}.png")
    return root


@pytest.fixture(scope="module")
def cifar_digits(tmp_path_factory, sample):
    path = tmp_path_factory.mktemp("cifar") / "digits.tar.gz"
    return write_cifar(path, (coloured(sample.train_images), sample.train_labels),
                       (coloured(sample.test_images, 1), sample.test_labels), NAMES)


def test_csv_both_styles_train_and_evaluate(cli, sample, tmp_path):
    """Colab's style (no header) for training, Kaggle's (a header row) for the test set: 93% in two epochs."""
    train = write_csv(tmp_path / "train.csv", sample.train_images, sample.train_labels)
    test = write_csv(tmp_path / "test.csv", sample.test_images, sample.test_labels, header=True)
    result = cli("train", "--data", train, "--test-data", test, "--epochs", "2", "--out", tmp_path / "run", "--json")
    assert result.code == 0, result.err
    assert result.json()["final"]["test_accuracy"] >= 0.93
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["data"]["read"]["format"] == "csv" and record["data"]["n_test"] == len(sample.test_labels)
    again = cli("eval", tmp_path / "run", "--json").json()  # reads the same files again from the record
    assert again["n_test"] == len(sample.test_labels)
    assert again["test_accuracy"] == pytest.approx(result.json()["final"]["test_accuracy"], abs=1e-6)


def test_csv_without_test_set_is_split_stratified_and_recorded(sample, tmp_path):
    path = write_csv(tmp_path / "small.csv", sample.train_images[:1000], sample.train_labels[:1000], header=True)
    ds = load_dataset("mnist", path)
    counts, test_counts = np.bincount(sample.train_labels[:1000]), np.bincount(ds.test_labels)
    assert np.array_equal(test_counts, np.round(counts * 0.1))  # a tenth of every class
    n_test = int(np.round(counts * 0.1).sum())
    assert ds.describe()["split"] == {"method": "stratified", "test_fraction": 0.1, "seed": 0, "n_train": 1000 - n_test,
                                      "n_test": n_test}
    same = load_dataset("mnist", path)
    assert np.array_equal(same.test_images, ds.test_images)  # seeded: the same split every time (and from the cache)
    shaped = load_dataset("mnist", path, ReadOptions(shape=(1, 28, 28)))
    assert shaped.shape == (1, 28, 28)


def test_a_readers_refusal_names_the_callers_own_option(cli, sample, tmp_path):
    """Issue 29: the library's errors name what its caller wrote, a parameter in Python and a flag in a command."""
    path = write_csv(tmp_path / "small.csv", sample.train_images[:300], sample.train_labels[:300])
    missing = tmp_path / "missing.csv"
    with pytest.raises(UserError, match=r"^test_data=.*missing\.csv: no such file"):
        load_dataset("mnist", path, ReadOptions(test_data=str(missing)))
    result = cli("data", "info", "--data", path, "--test-data", missing)
    assert result.code == 2 and "--test-data " in result.err and "test_data=" not in result.err


def test_csv_shape_option_for_colour_rows(tmp_path, sample):
    images = coloured(sample.train_images[:200])
    path = write_csv(tmp_path / "rgb.csv", images, sample.train_labels[:200])
    ds = load_dataset("mnist", path, ReadOptions(shape=(3, 32, 32)))
    assert ds.shape == (3, 32, 32)
    assert any(np.array_equal(ds.train_images[0], image) for image in images)  # channels first, as CIFAR lays them


def test_image_folder_train_test_trains(cli, sample, tmp_path):
    root = tmp_path / "scans"
    write_tree(root / "train", sample.train_images[:1500], sample.train_labels[:1500])
    write_tree(root / "test", sample.test_images[:300], sample.test_labels[:300])
    result = cli("train", "--data", root, "--epochs", "3", "--out", tmp_path / "run", "--json")
    assert result.code == 0, result.err
    assert result.json()["final"]["test_accuracy"] >= 0.85
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["classes"] == sorted(NAMES) and record["model"]["input_shape"] == [1, 28, 28]
    png = tmp_path / "seven.png"
    Image.fromarray(255 - sample.test_images[int(np.argmax(sample.test_labels == 7))]).resize((90, 90)).save(png)
    predicted = cli("predict", tmp_path / "run", png, "--json")
    assert predicted.code == 0, predicted.err
    assert predicted.json()["predictions"][0]["class"] in NAMES  # class names, not numbers


def test_image_folder_split_colour_and_sizes(sample, tmp_path):
    root = write_tree(tmp_path / "flat", coloured(sample.train_images[:100]), sample.train_labels[:100])
    ds = load_dataset("mnist", root)
    assert ds.shape == (3, 32, 32) and ds.classes == tuple(sorted(NAMES)) and 8 <= ds.split["n_test"] <= 12
    odd = root / NAMES[0] / "big.png"
    Image.new("RGB", (40, 36), (200, 10, 10)).save(odd)
    with pytest.raises(UserError, match=r"images of different sizes .*give image_size=\(H, W\) to resize"):
        load_dataset("mnist", root)  # called from Python, the message names the parameter; the CLI says --image-size
    resized = load_dataset("mnist", root, ReadOptions(image_size=(24, 24)))
    assert resized.shape == (3, 24, 24) and len(resized.train_labels) + len(resized.test_labels) == 101


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory, cifar_digits):
    """Coloured digits in the CIFAR layout, trained by the CLI: (the --json result, its run directory)."""
    from mnistlab.cli import main

    out = tmp_path_factory.mktemp("cifar-run") / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--data", str(cifar_digits), "--epochs", "3", "--out", str(out), "--json"]) == 0
    return json.loads(stdout.getvalue()), out


@pytest.mark.slow  # trains a CNN to 95% on coloured digits
def test_cifar_archive_of_coloured_digits_reaches_95(cli, cifar_run, sample, tmp_path):
    result, run_dir = cifar_run
    assert result["final"]["test_accuracy"] >= 0.95
    record = json.loads((run_dir / "run.json").read_text())
    assert record["model"]["input_shape"] == [3, 32, 32] and record["classes"] == list(NAMES)
    assert len(record["normalize"]["mean"]) == 3  # per channel
    picture = tmp_path / "two.png"
    image = coloured(sample.test_images[sample.test_labels == 2][:1], 5)[0]
    Image.fromarray(image.transpose(1, 2, 0)).resize((64, 64)).save(picture)  # any size: resized to the run's 32x32
    predicted = cli("predict", run_dir, picture, "--json")
    assert predicted.code == 0, predicted.err
    assert predicted.json()["predictions"][0]["class"] == "two"


@pytest.mark.slow  # shares that training run
def test_colour_figures_and_web_app(cifar_run, sample, tmp_path):
    from mnistlab.inspect.numbers import numbers
    from mnistlab.plots import FIGURES
    from mnistlab.train import load_run

    run = load_run(cifar_run[1])
    filters = numbers(run, "filters")
    assert filters["weights"].shape[1] == 3  # first-layer filters kept in RGB
    FIGURES["filters"](filters)
    errors = numbers(run, "errors")
    assert errors["images"].shape[1:] == (3, 32, 32)
    FIGURES["errors"](errors)
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from mnistlab.serve.app import create_app

    client = TestClient(create_app(run))
    assert client.get("/api/run").json()["input"] == "upload"
    buffer = io.BytesIO()
    Image.fromarray(coloured(sample.test_images[sample.test_labels == 4][:1], 7)[0].transpose(1, 2, 0)).save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    answer = client.post("/api/predict", json={"image": url}).json()
    assert answer["label"] == "four" and answer["input_image"].startswith("data:image/png;base64,")
    assert client.get("/api/confusion").json()["channels"] == 3
    pytest.importorskip("onnxruntime")
    from mnistlab.export.graph import export_run
    from mnistlab.export.onnxrun import OnnxModel

    exported = export_run(run, "onnx", tmp_path / "colour.onnx")  # parity-checked on the run's own test images
    assert exported["input_shape"] == [3, 32, 32] and exported["argmax_agreement"] >= 0.999
    assert OnnxModel(tmp_path / "colour.onnx").shape == (3, 32, 32)


@pytest.mark.slow  # headless Chromium, on that training run
def test_colour_upload_in_the_browser(cifar_run, sample, tmp_path):
    """The page of a colour run asks for a file instead of a drawing; a picture chosen in the file input is
    shown as the model saw it, with the model's answer."""
    pytest.importorskip("fastapi")
    from browser import browser, console_errors, wait_for
    from mnistlab.serve.app import create_app
    from mnistlab.train import load_run
    from serve_support import live_server

    picture = tmp_path / "four.png"
    image = coloured(sample.test_images[sample.test_labels == 4][:1], 7)[0]
    Image.fromarray(image.transpose(1, 2, 0)).resize((96, 96)).save(picture)
    with browser() as driver, live_server(create_app(load_run(cifar_run[1]))) as url:
        driver.get(url + "/")
        wait = "return !document.getElementById('upload').hidden && document.getElementById('pad').hidden"
        wait_for(driver, wait)
        driver.find_element("id", "file").send_keys(str(picture))
        shown = "return +document.body.dataset.predictions > 0 && document.body.dataset.busy === '0'"
        wait_for(driver, shown)
        assert driver.find_element("id", "prediction").text == "four"
        seen = "return [document.getElementById('uploaded').naturalWidth, document.getElementById('input-image').naturalWidth]"
        assert driver.execute_script(seen) == [96, 32]  # the file as chosen, and resized to the run's 32x32
        assert console_errors(driver) == []


def test_cifar_read_in_place_from_folder_and_archive(cifar_digits, tmp_path):
    with tarfile.open(cifar_digits) as tar:
        tar.extractall(tmp_path, filter="data")
    archive, folder = load_dataset("cifar10", cifar_digits), load_dataset("cifar10", tmp_path / "cifar-10-batches-bin")
    assert np.array_equal(archive.train_images, folder.train_images) and archive.classes == NAMES
    assert archive.train_images.shape[1:] == (3, 32, 32)


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _bad_inputs(tmp, sample):
    x, y = sample.train_images[:200], sample.train_labels[:200]
    good = write_csv(tmp / "good.csv", x, y).read_text().splitlines()
    cases = {}

    def csv_case(name, lines, *fragments):
        (tmp / name).write_text("\n".join(lines) + "\n")
        cases[name] = (["--data", tmp / name], fragments)

    csv_case("ragged.csv", good[:3] + [good[3].rsplit(",", 1)[0]] + good[4:], "ragged.csv", "row 4 has 784 values")
    csv_case("words.csv", good[:5] + [good[5].replace(",0,", ",x,", 1)] + good[6:], "words.csv", "row 6", "'x' is not a number")
    csv_case("fraction.csv", good[:2] + ["3.5" + good[2][1:]] + good[3:], "row 3", "label 3.5 is not a whole number")
    csv_case("negative.csv", good[:2] + ["-1" + good[2][1:]] + good[3:], "row 3: label -1 is negative")
    csv_case("gap.csv", [line for line in good if not line.startswith("0,")], "gap.csv", "class 0 has no rows")
    csv_case("odd.csv", [",".join(line.split(",")[:700]) for line in good], "odd.csv", "699 pixels", "--shape")
    csv_case("test.csv", ["12" + good[0][1:]] + good[1:], "test.csv", "label 12", "outside 0..9")
    cases["test.csv"] = (["--data", write_csv(tmp / "train.csv", x, y), "--test-data", tmp / "test.csv"], cases["test.csv"][1])
    huge = tmp / "huge.csv"
    with open(huge, "w") as f:
        f.write("\n".join(good) + "\n")
        f.truncate(10 << 30)  # sparse: 10 GB on paper, nothing on disk
    cases["huge.csv"] = (["--data", huge], ("huge.csv", "10.7 GB of CSV", "more than the"))
    empty = write_tree(tmp / "tree", x[:20], y[:20])
    (empty / "zzz").mkdir()
    cases["empty class"] = (["--data", empty], ("tree/zzz: an empty class folder",))
    mixed = write_tree(tmp / "mixed", x[:20], y[:20])
    Image.new("L", (30, 30)).save(mixed / NAMES[y[0]] / "odd.png")
    cases["mixed sizes"] = (["--data", mixed], ("images of different sizes", "30x30", "--image-size"))
    record = bytes(3073)
    meta = b"\n".join(n.encode() for n in NAMES)
    cases["short batch"] = (["--data", _tar(tmp / "short.tar.gz", {"cifar-10-batches-bin/batches.meta.txt": meta,
                                                                   "cifar-10-batches-bin/data_batch_1.bin": record * 3 + b"x",
                                                                   "cifar-10-batches-bin/test_batch.bin": record})],
                            ("data_batch_1.bin", "9,220 bytes is not a whole number of 3,073-byte"))
    cases["escape"] = (["--data", _tar(tmp / "evil.tar.gz", {"cifar-10-batches-bin/batches.meta.txt": meta,
                                                            "../../evil/data_batch_1.bin": record})],
                       ("evil.tar.gz", "'../../evil/data_batch_1.bin' escapes"))
    return cases


def test_bad_inputs_one_line_nothing_written(cli, sample, tmp_path):
    for name, (args, fragments) in _bad_inputs(tmp_path, sample).items():
        out = tmp_path / f"run-{name}"
        result = cli("train", *args, "--out", out, "--epochs", "1")
        assert_user_error(result, *fragments)
        assert not out.exists(), name
    assert not (tmp_path.parent / "evil").exists()


def test_cifar10_is_registered_and_downloads_verified(cifar_digits, tmp_path, monkeypatch):
    """--dataset cifar10 goes through the same verified download as the IDX sets: the official file name and MD5."""
    import hashlib
    import shutil

    from mnistlab.data import sources
    from test_sources import Mirror

    info = sources.REGISTRY["cifar10"]
    assert info.files == {"archive": "cifar-10-binary.tar.gz"} and info.md5 == {"archive": "c32a1d4ab5d03f1284b67883e8d87530"}
    assert info.mirrors == ("https://www.cs.toronto.edu/~kriz/",)
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(cifar_digits, served / "cifar-10-binary.tar.gz")
    digest = hashlib.md5((served / "cifar-10-binary.tar.gz").read_bytes()).hexdigest()
    monkeypatch.setitem(sources.REGISTRY, "cifar10", sources.SetInfo("cifar10", ("unused",), {"archive": digest},
                                                                      info.classes, info.files, "cifar10"))
    monkeypatch.setenv("MNISTLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    server = Mirror(served)
    monkeypatch.setenv("MNISTLAB_MIRROR", server.url)
    try:
        ds = load_dataset("cifar10")
        assert ds.source == "download" and ds.name == "cifar10" and ds.shape == (3, 32, 32)
        assert load_dataset("cifar10").source == "cache"
        monkeypatch.setitem(sources.REGISTRY, "cifar10", sources.SetInfo("cifar10", ("unused",), {"archive": "0" * 32},
                                                                          info.classes, info.files, "cifar10"))
        (tmp_path / "cache" / "cifar10" / "cifar-10-binary.tar.gz").unlink()
        with pytest.raises(UserError, match="cifar-10-binary.tar.gz failed verification"):
            load_dataset("cifar10")
        assert not (tmp_path / "cache" / "cifar10" / "cifar-10-binary.tar.gz").exists()
    finally:
        server.close()


@pytest.mark.slow
def test_sweep_on_a_csv_with_its_format_options(cli, sample, tmp_path):
    """A sweep reads --data with --shape in every trial's worker process, and its best run is 3x32x32."""
    path = write_csv(tmp_path / "rgb.csv", coloured(sample.train_images[:600]), sample.train_labels[:600])
    result = cli("sweep", "--data", path, "--shape", "3x32x32", "--model", "c8k5s2 f{16,32}", "--epochs", "1",
                 "--jobs", "1", "--out", tmp_path / "sweep", "--json")
    assert result.code == 0, result.err
    best = json.loads((tmp_path / "sweep" / "best" / "run.json").read_text())
    assert best["model"]["input_shape"] == [3, 32, 32] and best["data"]["read"]["shape"] == [3, 32, 32]
