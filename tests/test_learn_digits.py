"""Learning a user's own digits: "wrong? it is a N" in the web app saves the drawing into the digits folder, and
`mnistlab finetune` learns that folder mixed with MNIST, reporting both accuracies."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error


def test_finetune_learns_a_folder_of_digits(cli, tiny_run, sample, tmp_path):
    digits = tmp_path / "mine"
    for k, (image, label) in enumerate(zip(sample.test_images[:20], sample.test_labels[:20])):
        (digits / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - image if k % 2 else image).save(digits / str(label) / f"{k}.png")  # some inverted: "another hand"
    result = cli("finetune", tiny_run.run_dir, digits, "--dataset", "mnist-sample", "--mix", "600", "--epochs", "2",
                 "--lr", "3e-3", "--device", "cpu", "--out", tmp_path / "tuned", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert out["n_digits"] == 20 and out["mixed_with"] == 600 and out["repeat"] >= 3
    assert out["after"]["digits"] > out["before"]["digits"]  # it learned the new hand
    assert out["after"]["mnist"] > out["before"]["mnist"] - 0.1  # without forgetting MNIST
    assert (tmp_path / "tuned" / "model.safetensors").is_file()
    (digits / "cat").mkdir()
    Image.fromarray(sample.test_images[0]).save(digits / "cat" / "x.png")
    assert_user_error(cli("finetune", tiny_run.run_dir, digits, "--dataset", "mnist-sample", "--out", tmp_path / "t2"),
                      "'cat'")


@pytest.mark.slow
def test_wrong_it_is_a_saves_the_drawing_in_chromium(tmp_path):
    from browser import browser, console_errors, wait_for
    from mnistlab import load_run
    from mnistlab.serve.app import create_app
    from serve_support import live_server, trained_run_dir
    from test_serve_browser import settle, stroke

    run = load_run(trained_run_dir("cnn"))
    folder = tmp_path / "my-digits"
    with browser() as driver, live_server(create_app(run, digits_dir=folder)) as url:
        driver.get(url + "/")
        wait_for(driver, "return !document.getElementById('correct').hidden"
                         " && document.querySelectorAll('#correct-buttons button').length === 10")
        stroke(driver, driver.find_element("id", "pad"), [(0.5, 0.15 + 0.7 * i / 12) for i in range(13)])
        settle(driver, 0)
        driver.find_element("id", "correct-7").click()  # "wrong? it is a 7"
        wait_for(driver, "return document.getElementById('correct-status').textContent.includes('saved as a 7')")
        status = driver.find_element("id", "correct-status").text
        assert "1 of your digits" in status and f"mnistlab finetune {run.run_dir} {folder}" in status
        assert not console_errors(driver)
    (saved,) = list((folder / "7").glob("*.png"))
    image = np.asarray(Image.open(saved))
    assert image.shape == (28, 28) and image.max() == 255 and image[:, :4].max() == 0  # the drawing in MNIST form


def test_label_api_refuses_without_a_folder_and_bad_labels(tmp_path, tiny_run):
    from fastapi.testclient import TestClient

    from mnistlab.serve.app import create_app

    blank = tiny_run  # a 10-class 28x28 run
    url = "data:image/png;base64," + __import__("base64").b64encode(_png_of_a_stroke()).decode()
    off = TestClient(create_app(blank))
    assert off.post("/api/label", json={"image": url, "label": 3}).status_code == 400
    on = TestClient(create_app(blank, digits_dir=tmp_path / "d"))
    assert on.post("/api/label", json={"image": url, "label": 12}).status_code == 400
    ok = on.post("/api/label", json={"image": url, "label": 3})
    assert ok.status_code == 200 and ok.json()["total"] == 1 and len(list((tmp_path / "d" / "3").glob("*.png"))) == 1


def _png_of_a_stroke() -> bytes:
    import io

    canvas = np.full((100, 100), 255, np.uint8)
    canvas[20:80, 45:55] = 0
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()


def _save_digits(folder, sample, per_class: dict[int, int], colour: bool = False, size: int = 28) -> None:
    for label, n in per_class.items():
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        for k, image in enumerate(sample.test_images[sample.test_labels == label][:n]):
            picture = Image.fromarray(image).resize((size, size))
            if colour:
                rgb = np.stack([np.asarray(picture)] * 3, -1)
                rgb[..., 0] //= 2  # a red-shifted pen: the channels differ
                picture = Image.fromarray(rgb)
            picture.save(folder / str(label) / f"{k}.png")


def test_a_short_visit_to_serve_is_enough_to_finetune_on(sample, tmp_path):
    # one to five digits in two classes (what a short visit saves) were refused: the reader's 10% split held out 0 a class
    from mnistlab.train.finetune import user_digits

    _save_digits(tmp_path / "few", sample, {3: 1, 7: 5})
    images, labels = user_digits(tmp_path / "few", tuple("0123456789"))
    assert images.shape == (6, 28, 28) and sorted(labels.tolist()) == [3, 7, 7, 7, 7, 7]  # labels by class name


def test_mixed_sizes_are_brought_to_the_run_input(sample, tmp_path):
    from mnistlab.train.finetune import user_digits

    _save_digits(tmp_path / "mixed", sample, {1: 2})
    _save_digits(tmp_path / "mixed", sample, {2: 2}, size=56)
    images, labels = user_digits(tmp_path / "mixed", tuple("0123456789"))
    assert images.shape == (4, 28, 28) and sorted(labels.tolist()) == [1, 1, 2, 2]


def test_colour_digits_and_unknown_classes_are_one_line(cli, tiny_run, sample, tmp_path, monkeypatch):
    # colour digits: N colour images became 3N gray ones beside N labels (a broadcast traceback; trained longer, images
    # paired with the wrong labels)
    _save_digits(tmp_path / "colour", sample, {4: 3}, colour=True)
    assert_user_error(cli("finetune", tiny_run.run_dir, tmp_path / "colour", "--dataset", "mnist-sample", "--out",
                          tmp_path / "t"), "colour images; the run reads gray ones")
    _save_digits(tmp_path / "odd", sample, {4: 3})
    (tmp_path / "odd" / "cat").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "odd" / "cat" / "x.png")
    import mnistlab.data.folder as folder

    monkeypatch.setattr(folder, "decode", lambda *a, **k: pytest.fail("decoded before the class names were checked"))
    assert_user_error(cli("finetune", tiny_run.run_dir, tmp_path / "odd", "--dataset", "mnist-sample", "--out",
                          tmp_path / "t"), "a class folder 'cat' that the run does not know")


@pytest.mark.parametrize("problem", ["a file", "unwritable", "full disk"])
def test_a_digits_folder_that_cannot_be_written_is_refused_at_start(tmp_path, tiny_run, monkeypatch, problem):
    # the server started, then answered every "wrong? it is a N" with a 500
    import shutil
    from collections import namedtuple

    from mnistlab.errors import UserError
    from mnistlab.serve.app import create_app

    target = tmp_path / "d"
    if problem == "a file":
        target.write_text("x")
        expected = "exists and is not a directory"
    elif problem == "unwritable":
        monkeypatch.setattr("os.access", lambda path, mode: False)  # root writes anywhere: the check, as a user sees it
        expected = "cannot be written by this user"
    else:
        usage = namedtuple("usage", "total used free")
        monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
        expected = "MB free on its device"
    with pytest.raises(UserError, match=expected):
        create_app(tiny_run, digits_dir=target)


def test_a_full_disk_while_serving_and_a_run_of_other_classes_get_their_own_reason(tmp_path, tiny_run, monkeypatch):
    from fastapi.testclient import TestClient

    import mnistlab.serve.app as app
    from mnistlab import fit, load_dataset, make_splits

    url = "data:image/png;base64," + __import__("base64").b64encode(_png_of_a_stroke()).decode()
    client = TestClient(app.create_app(tiny_run, digits_dir=tmp_path / "d"))

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(app, "write_bytes", full)
    answer = client.post("/api/label", json={"image": url, "label": 3})
    assert answer.status_code == 400 and "cannot save the digit there (No space left on device)" in answer.json()["error"]
    letters = fit("f8", make_splits(load_dataset("mnist-sample")), epochs=1, max_steps=1, device="cpu")
    letters.classes = tuple("abcdefghij")  # a run of other classes: "start it with --digits" was wrong advice
    other = TestClient(app.create_app(letters, digits_dir=tmp_path / "d"))
    answer = other.post("/api/label", json={"image": url, "label": 3})
    assert answer.status_code == 400 and "are not the ten digits" in answer.json()["error"]


def test_train_init_and_finetune_agree_on_a_partial_class_folder(cli, tiny_run, sample, tmp_path, monkeypatch):
    # `train --init RUN --data my-digits` refused a folder of two classes ("the run has 10 classes, this data 2")
    # after the data load and the layer table, while finetune took it
    _save_digits(tmp_path / "two", sample, {3: 20, 7: 20})
    result = cli("train", "--init", tiny_run.run_dir, "--data", tmp_path / "two", "--max-steps", "2", "--device", "cpu",
                 "--out", tmp_path / "tuned", "--json")
    assert result.code == 0, result.err
    from mnistlab import load_run

    tuned = load_run(tmp_path / "tuned")
    assert tuned.classes == tuple("0123456789") and tuned.model.config.n_classes == 10  # the run's classes, by name
    # the cheap refusals come before the data load
    import mnistlab.tensorboard as tensorboard
    import mnistlab.train.job as job

    monkeypatch.setattr(job, "load_dataset", lambda *a, **k: pytest.fail("the data was loaded first"))
    assert_user_error(cli("train", "--init", tiny_run.run_dir, "--model", "f8", "--data", tmp_path / "two",
                          "--out", tmp_path / "t2"), "layer 1 differs", "train with --model 'c8k5s2 f32'")
    monkeypatch.setattr(tensorboard, "summary_writer", lambda: (_ for _ in ()).throw(
        __import__("mnistlab.errors").errors.UserError("--tensorboard needs the tensorboard package")))
    assert_user_error(cli("train", "--data", tmp_path / "two", "--tensorboard", tmp_path / "tb", "--out", tmp_path / "t3"),
                      "--tensorboard needs the tensorboard package")
