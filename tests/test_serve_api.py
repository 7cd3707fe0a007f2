"""The JSON API: what a good drawing gets back, and how every kind of bad payload is refused."""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient  # noqa: E402  (serve_support skips the module without fastapi)
from PIL import Image, ImageDraw

from mnistlab import load_run
from mnistlab.data.images import load_for_model
from mnistlab.inspect import conv_feature_maps
from mnistlab.inspect.attribution import responsible_units
from mnistlab.serve.app import STATIC, create_app
from serve_support import full_mnist_dir, trained_run_dir


def drawing(digit: str, size=(300, 220), ink=0, paper=255, mode="L") -> Image.Image:
    """A hand-drawn-looking digit of any size: a vertical stroke for 1, an ellipse for 0."""
    img = Image.new(mode, size, paper)
    pen = ImageDraw.Draw(img)
    w, h = size
    if digit == "1":
        pen.line([(w * 0.5, h * 0.15), (w * 0.52, h * 0.85)], fill=ink, width=max(2, h // 14))
    else:
        pen.ellipse([w * 0.35, h * 0.15, w * 0.65, h * 0.85], outline=ink, width=max(2, h // 14))
    return img


def data_url(img: Image.Image, fmt="PNG") -> str:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def cnn():
    return load_run(trained_run_dir("cnn"))


@pytest.fixture(scope="module")
def client(cnn):
    return TestClient(create_app(cnn, data_dir=full_mnist_dir()), raise_server_exceptions=False)


def test_a_drawn_number_is_read_digit_by_digit_with_boxes(client):
    """Three digits drawn side by side: the answer holds the number and each digit's box, left to right, inside
    the sent image; a single digit is a number of one digit."""
    img = Image.new("L", (600, 220), 255)
    for k, digit in enumerate("101"):
        img.paste(drawing(digit, size=(200, 220)), (200 * k, 0))
    body = client.post("/api/predict", json={"image": data_url(img)}).json()
    assert len(body["number"]) == 3 and [d["label"] for d in body["digits"]] == list(body["number"])
    boxes = [d["box"] for d in body["digits"]]
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes) and all(0 <= b[0] < b[2] <= 600 for b in boxes)
    single = client.post("/api/predict", json={"image": data_url(drawing("1"))}).json()
    assert single["number"] == single["label"] and len(single["digits"]) == 1


def test_a_drawn_png_gets_the_same_answer_as_mnistlab_predict(client, cnn, tmp_path):
    img = drawing("1")
    img.save(tmp_path / "one.png")
    r = client.post("/api/predict", json={"image": data_url(img)})
    assert r.status_code == 200, r.text
    body = r.json()
    expected28 = load_for_model([tmp_path / "one.png"])  # the CLI's path, file on disk
    classes, probs = cnn.predict(expected28)
    assert np.array_equal(np.array(body["input28"], dtype=np.uint8), expected28[0])
    assert body["class"] == int(classes[0]) == 1 and body["label"] == "1"
    assert np.allclose(body["probabilities"], probs[0], atol=1e-6) and abs(sum(body["probabilities"]) - 1) < 1e-5


def test_the_zero_and_light_on_dark_or_transparent_drawings(client):
    assert client.post("/api/predict", json={"image": data_url(drawing("0"))}).json()["class"] == 0
    dark = drawing("0", size=(400, 400), ink=255, paper=0)
    assert client.post("/api/predict", json={"image": data_url(dark)}).json()["class"] == 0
    # A canvas left transparent with dark strokes: transparent counts as white paper.
    clear = drawing("1", size=(280, 280), ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")
    assert client.post("/api/predict", json={"image": data_url(clear)}).json()["class"] == 1
    assert client.post("/api/predict", json={"image": data_url(drawing("1").convert("RGB"), "JPEG")}).json()["class"] == 1


def test_pixels_and_the_feature_maps_of_every_conv_layer(client, cnn):
    pixels = np.asarray(drawing("1", size=(60, 60), ink=255, paper=0), dtype=float)
    body = client.post("/api/predict", json={"pixels": pixels.tolist()}).json()
    assert body["class"] == 1
    assert [(m["name"], m["token"], m["shape"]) for m in body["feature_maps"]] == [
        ("conv1", "c8k5", [8, 24, 24]), ("conv2", "c16k3", [16, 10, 10])]
    expected = conv_feature_maps(cnn.model, cnn.prepare(np.array(body["input28"], dtype=np.uint8)[None]))
    for got, want in zip(body["feature_maps"], expected):
        assert np.allclose(got["maps"], want["maps"][0], atol=1e-4)
        assert min(np.min(m) for m in got["maps"]) >= 0  # after the ReLU
    assert body["units"] == []
    # 0..1 floats are the same picture as 0..255
    assert client.post("/api/predict", json={"pixels": (pixels / 255).tolist()}).json()["input28"] == body["input28"]
    lean = client.post("/api/predict", json={"pixels": pixels.tolist(), "features": False}).json()
    assert lean["feature_maps"] == [] and lean["probabilities"] == body["probabilities"]


def test_run_description(client, cnn):
    run = client.get("/api/run").json()
    assert run["kind"] == "cnn" and run["model"]["spec"] == "c8k5 m2 c16k3 m2 f64"
    assert run["history"] == cnn.history and run["final"]["test_accuracy"] == cnn.final["test_accuracy"]
    assert run["data"]["name"] in ("mnist", "mnist-sample") and run["classes"] == [str(d) for d in range(10)]
    assert run["filters"]["name"] == "conv1" and np.array(run["filters"]["weights"]).shape == (8, 5, 5)
    assert run["parameters"] == sum(p.numel() for p in cnn.model.parameters())


def test_ffn_gets_its_most_responsible_first_layer_units():
    run = load_run(trained_run_dir("ffn"))
    body = TestClient(create_app(run)).post("/api/predict", json={"image": data_url(drawing("0"))}).json()
    assert body["class"] == 0 and body["feature_maps"] == [] and len(body["units"]) == 8
    contributions = [u["contribution"] for u in body["units"]]
    assert contributions == sorted(contributions, reverse=True)
    assert all(np.array(u["weights"]).shape == (28, 28) for u in body["units"])
    assert TestClient(create_app(run)).get("/api/run").json()["kind"] == "ffn"


def test_contributions_of_one_hidden_layer_add_up_to_the_logit():
    run = load_run(trained_run_dir("ffn"))
    x = run.prepare(np.asarray(drawing("1", (28, 28), ink=255, paper=0))[None])
    with torch.no_grad():
        logits = run.model(x)[0]
        bias = float(run.model.output.bias[3])
    units = responsible_units(run.model, x, target=3, k=64)
    assert len(units) == 64
    total = sum(u["contribution"] for u in units) + bias
    assert total == pytest.approx(float(logits[3]), abs=1e-4)
    assert np.array_equal(units[0]["weights"], run.model.fc1.weight[units[0]["unit"]].detach().reshape(28, 28).numpy())


@pytest.mark.slow  # evaluates the test set and draws three figures
def test_the_report_figures_of_the_run_tab(client):
    assert client.get("/api/run").json()["figures"] == ["curves", "confusion", "errors"]
    for what in ("curves", "confusion", "errors"):
        r = client.get(f"/api/figure/{what}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text[:200]
        assert r.content.startswith(b"\x89PNG") and Image.open(io.BytesIO(r.content)).width > 300
        assert client.get(f"/api/figure/{what}").content == r.content  # drawn once
    error(client.get("/api/figure/weights"), 422, "what")  # not on the allow-list
    assert client.get("/api/figure/..%2f..%2frun.json").status_code in (404, 422)


def error(r, status: int, pattern: str = "") -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    message = r.json()["error"]
    assert re.search(pattern, message, re.IGNORECASE), message
    assert "Traceback" not in r.text
    return message


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()


@pytest.mark.parametrize("payload, status, pattern", [
    ({"image": data_url(Image.new("L", (280, 280), 0))}, 400, "no digit found"),  # empty canvas
    ({"pixels": [[0.0] * 28] * 28}, 400, "no digit found"),
    ({"image": "data:image/png;base64,@@@not-base64@@@"}, 400, "base64"),
    ({"image": "data:image/png;base64," + base64.b64encode(b"hello, not a picture").decode()}, 400, "not an image"),
    ({"image": "data:image/png;base64," + PNG}, 400, "not an image"),  # truncated PNG
    ({"image": "file:///etc/passwd"}, 400, "data URL"),
    ({"image": "/etc/passwd"}, 400, "data URL"),
    ({"image": data_url(Image.new("L", (5000, 20), 255))}, 400, "too large"),
    ({"pixels": [[1, 2, 3], [4, 5]]}, 400, "rectangular"),
    ({"pixels": [[0, 255, 0]]}, 400, "shape"),
    ({"pixels": []}, 400, "non-empty"),
    ({"pixels": [[-5, 0], [0, 255]]}, 400, "0..1 or 0..255"),
    ({"pixels": [[0, 1e6], [0, 255]]}, 400, "0..1 or 0..255"),
    ({"pixels": [0, 255, 0, 255]}, 422, "pixels"),  # 1-D
    ({"pixels": [[[0, 255]]]}, 422, "pixels"),  # 3-D
    ({"pixels": [["a", "b"], ["c", "d"]]}, 422, "pixels"),
    ({}, 422, "exactly one"),
    ({"image": data_url(drawing("1")), "pixels": [[0, 1], [1, 0]]}, 422, "exactly one"),
    ({"image": 42}, 422, "image"),
    ({"image": data_url(drawing("1")), "path": "/etc/passwd"}, 422, "path"),
])
def test_bad_payloads_get_a_json_error(client, payload, status, pattern):
    error(client.post("/api/predict", json=payload), status, pattern)


def test_malformed_and_oversized_bodies(client, cnn):
    error(client.post("/api/predict", content=b'{"image": ', headers={"content-type": "application/json"}), 422, "json")
    error(client.post("/api/predict", content=b"[1, 2]", headers={"content-type": "application/json"}), 422, "")
    error(client.post("/api/predict", content=b"\xff\xfe\x00garbage", headers={"content-type": "application/json"}), 422, "")
    error(client.post("/api/predict", content=b"image=x", headers={"content-type": "text/plain"}), 422, "")
    big = {"image": "data:image/png;base64," + "A" * 1_200_000}
    error(client.post("/api/predict", json=big), 413, "over 1000000 bytes")
    error(client.post("/api/predict", content=(b"x" * 100_000 for _ in range(20))), 413, "over")  # streamed, no length
    small = TestClient(create_app(cnn, max_body=200))
    error(small.post("/api/predict", json={"image": data_url(drawing("1"))}), 413, "over 200 bytes")
    assert small.post("/api/predict", json={"pixels": [[0, 255], [255, 0]]}).status_code == 200


def test_unknown_routes_and_paths_outside_the_package(client):
    error(client.get("/api/nothing"), 404, "not found")
    error(client.get("/api/predict"), 405, "not allowed")
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static//etc/passwd",
                 "/static/../../train/run.py", "/run.json", "/model.safetensors"):
        r = client.get(path)
        assert r.status_code == 404 and "import" not in r.text and "root:" not in r.text, path


def test_the_server_keeps_answering_and_hides_crashes(cnn):
    app = create_app(cnn)
    client = TestClient(app, raise_server_exceptions=False)
    original = cnn.predict
    try:
        cnn.predict = lambda images: (_ for _ in ()).throw(RuntimeError("boom"))
        message = error(client.post("/api/predict", json={"image": data_url(drawing("1"))}), 500, "internal error")
        assert "boom" not in message
    finally:
        cnn.predict = original
    assert client.post("/api/predict", json={"image": data_url(drawing("1"))}).json()["class"] == 1


def test_page_is_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", text), f"{path.name} loads from the network"
        assert "import " not in text or path.suffix != ".js"


def test_openapi_schema_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/api/predict"]["post"]
    assert set(predict["responses"]) >= {"200", "400", "413", "422"}
    body = schema["components"]["schemas"]["PredictRequest"]["properties"]
    assert {"image", "pixels"} <= set(body)
    assert {"class", "probabilities", "input28", "feature_maps"} <= set(schema["components"]["schemas"]["Prediction"]["properties"])
    assert "/api/run" in schema["paths"]


def test_a_real_prediction_validates_against_the_published_schema(client):
    from jsonschema import Draft202012Validator

    openapi = client.get("/openapi.json").json()
    published = openapi["paths"]["/api/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**published, "components": openapi["components"]})
    answer = client.post("/api/predict", json={"image": data_url(drawing("1"))})
    assert answer.status_code == 200
    validator.validate(answer.json())
    assert answer.json()["feature_maps"]  # the CNN's maps are there, and were checked against FeatureMaps
    wrong = {**answer.json(), "probabilities": "0.9"}
    assert not validator.is_valid(wrong) and not validator.is_valid({k: v for k, v in answer.json().items() if k != "class"})


def test_allowed_hosts_refuse_dns_rebinding(cnn):
    client = TestClient(create_app(cnn, allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1")
    assert client.get("/api/run").status_code == 200
    assert client.get("/api/run", headers={"host": "evil.example"}).status_code == 400
