"""The draw-a-digit web app: an ASGI app over one loaded run.

`create_app(run)` serves the page (plain HTML/CSS/JS from the package, no CDN)
and a JSON API: `POST /api/predict` brings a drawing to MNIST form exactly as
`mnistlab predict` does and answers class, probabilities, the 28x28 input and
what the layers compute; `GET /api/run` describes the run. The schema is at
`/openapi.json`.

Hardening: bodies over `max_body` bytes are refused with 413 before they are
read in full; bad payloads get a 4xx JSON error; any other failure a JSON 500
without a traceback; nothing reads or writes a path taken from a request.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import io
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..calibration import UNSURE_BELOW, unsure
from ..data.images import as_gray, as_text, open_image
from ..data.prepare import find_digits, to_mnist
from ..data.rgb import decode, is_digit_input
from ..errors import UserError
from ..fileio import check_output, check_space, write_bytes
from ..inspect import conv_feature_maps, first_layer_weights, predict_test_set
from ..inspect.attribution import responsible_units, top_class_attributions
from ..inspect.predictions import confusion_cells
from ..train.run import Run

STATIC = Path(__file__).parent / "static"
BODY_SECONDS = 10  # a body sent slower than this is refused (408), so no request holds a worker
MAX_BODY = 1_000_000  # bytes; a drawn canvas as PNG is a few kilobytes
MAX_SIDE, MAX_PIXELS = 4096, 4_000_000  # refuse decompression bombs before decoding
DATA_URL = re.compile(r"data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)
APP_IG_STEPS = 32  # integrated-gradients steps per drawing: a quarter of the figures' cost, plenty for a picture
DECIMALS = 4  # feature maps and weights travel rounded; plenty for display and analysis
Figure = Literal["curves", "confusion", "errors"]  # the report's figures on the run tab (mnistlab.plots)
FIGURES = get_args(Figure)


class PredictRequest(BaseModel):
    """A drawing: a data-URL image of any size, or a 2-D array of gray values (0..1 or 0..255)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"image": "data:image/png;base64,iVBORw0KGgo..."}, {"pixels": [[0, 0, 255], [0, 255, 0], [255, 0, 0]]}]})
    image: str | None = Field(None, description="data:image/png;base64,... (PNG, JPEG, WebP; any size, dark-on-light "
                                                "or light-on-dark); transparent pixels count as white")
    pixels: list[list[float]] | None = Field(None, description="rows of gray values, 0..1 or 0..255, at least 2x2")
    features: bool = Field(True, description="include feature maps (CNN) or responsible first-layer units (FFN)")
    attribution: bool = Field(False, description="include integrated-gradients maps for the predicted class and the runner-up")

    @model_validator(mode="after")
    def one_source(self) -> PredictRequest:
        if (self.image is None) == (self.pixels is None):
            raise ValueError("give exactly one of 'image' (a data URL) or 'pixels' (a 2-D array)")
        return self


class LabelRequest(BaseModel):
    """A drawing and the class it really is: saved, brought to MNIST form, into the server's digits folder."""

    model_config = ConfigDict(extra="forbid")
    image: str = Field(description="data:image/png;base64,... as for /api/predict")
    label: int = Field(ge=0, description="index of the class the drawing really is")


class FeatureMaps(BaseModel):
    name: str = Field(description="module name, e.g. conv1")
    token: str = Field(description="the layer's token in the model spec, e.g. c24k5")
    shape: list[int] = Field(description="[channels, height, width]")
    maps: list[list[list[float]]] = Field(description="activated feature maps, channels x height x width")


class Unit(BaseModel):
    unit: int = Field(description="index of the first-layer unit (the class, for a model without hidden layer)")
    activation: float
    contribution: float = Field(description="activation x gradient of the predicted logit: the unit's share of it")
    weights: list[list[float]] = Field(description="the unit's input weights as a 28x28 image")


class ClassAttribution(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    class_: int = Field(alias="class", description="index of the class the map explains")
    label: str
    probability: float
    map: list[list[float]] = Field(description="integrated gradients over a black image, 28x28: positive pixels raise the "
                                               "class's logit, negative ones lower it; the map sums to the logit's rise")


class Prediction(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    class_: int = Field(alias="class", description="index of the predicted class")
    label: str = Field(description="name of the predicted class")
    probabilities: list[float] = Field(description="one probability per class, summing to 1, calibrated by the run's temperature")
    unsure: bool = Field(description=f"the top probability is below {UNSURE_BELOW}: the answer may be wrong, or the "
                                     f"drawing not one of the classes (as `mnistlab predict` marks it)")
    input28: list[list[int]] = Field(description="the 28x28 uint8 image the model saw (white digit on black); empty for a "
                                                 "run that is not a 28x28 gray digit model (see input_image)")
    input_image: str | None = Field(None, description="for any other run: the image the model saw (resized to its input, "
                                                      "colour kept for a colour run) as a PNG data URL")
    feature_maps: list[FeatureMaps] = Field(description="every conv layer's maps for this input (CNN; else empty)")
    units: list[Unit] = Field(description="first-layer units most responsible for the prediction (FFN; else empty)")
    attribution: list[ClassAttribution] = Field(description="with attribution=true: maps for the predicted class, then the runner-up")
    milliseconds: float = Field(description="server time for preprocessing and the model")
    number: str = Field("", description="a digit run: every digit found, read left to right, line by line (lines apart by "
                                        "a space; as `predict --number`)")
    digits: list[FoundDigit] = Field([], description="a digit run: each digit found, left to right, with its box")


class FoundDigit(BaseModel):
    label: str = Field(description="the class read for this digit of the number")
    probability: float = Field(description="its probability")
    box: list[int] = Field(description="[x0, y0, x1, y1]: where it was found, in the sent image's pixels")
    line: int = Field(0, description="its line of writing, 0 the top one (a page of numbers is read line by line)")


class Error(BaseModel):
    error: str
    detail: Any = None


HEADERS = [(b"x-content-type-options", b"nosniff"),
           (b"content-security-policy", b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                                        b"script-src 'self'; frame-ancestors 'none'")]


class Guard:
    """Refuse request bodies over `limit` bytes with 413, reading at most limit + 1 of them,
    and add headers that keep the page to its own files.

    Checks Content-Length first, then counts the streamed bytes (chunked bodies have no
    length); an accepted body is replayed to the app from memory.
    """

    def __init__(self, app, limit: int, hosts: list[str] | None = None):
        self.app, self.limit, self.hosts = app, limit, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        headers = dict(scope["headers"])
        if self.hosts is not None and host_name(headers.get(b"host", b"").decode("latin-1")) not in self.hosts:
            return await self.refuse(scope, send_with_headers, 400, "invalid Host header; open the URL the server printed")
        length = headers.get(b"content-length", b"")  # the server has refused malformed ones
        if length.isdigit() and int(length) > self.limit:
            return await self.refuse(scope, send_with_headers)
        body, more = bytearray(), True
        deadline = asyncio.get_running_loop().time() + BODY_SECONDS  # for the whole body: 1 byte a second is refused too
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except asyncio.TimeoutError:
                return await self.refuse(scope, send_with_headers, 408, f"request body not received within {BODY_SECONDS} s")
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await self.refuse(scope, send_with_headers)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect, as the server would say it
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send_with_headers)

    async def refuse(self, scope, send, status: int = 413, error: str = "") -> None:
        response = JSONResponse({"error": error or f"request body over {self.limit} bytes; send a smaller image"},
                                status_code=status, headers={"Connection": "close"})
        await response(scope, None, send)


def host_name(header: str) -> str:
    """The host of a Host header, without its port: `[::1]:8000` → `[::1]`, `localhost:8000` → `localhost`."""
    return header[:header.index("]") + 1] if header.startswith("[") and "]" in header else header.split(":")[0]


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 data URL of an image."""
    head = DATA_URL.match(url)
    if head is None:
        raise UserError("image: expected a data URL 'data:image/png;base64,...'")
    try:
        return base64.b64decode(url[head.end():], validate=True)
    except (binascii.Error, ValueError):
        raise UserError("image: the data URL is not valid base64") from None


def decode_data_url(url: str) -> np.ndarray:
    """A data-URL image → grayscale floats in [0, 1], refusing anything that is not a small image."""
    return open_image(io.BytesIO(data_url_bytes(url)), "image", MAX_SIDE, MAX_PIXELS)


def as_model_input(body: PredictRequest, shape: tuple[int, int, int]) -> np.ndarray:
    """An uploaded image (or gray pixels) → uint8 (C, H, W) for a run that is not a 28x28 gray digit model: resized
    to its input, colour kept for a colour run, averaged to gray for a gray one."""
    channels, height, width = shape
    if body.image is not None:
        rgb = decode(io.BytesIO(data_url_bytes(body.image)), "image", (height, width)).transpose(2, 0, 1)
    else:
        gray = Image.fromarray(np.round(255 * to_pixels(body.pixels)).astype(np.uint8)).resize((width, height))
        rgb = np.repeat(np.asarray(gray)[None], 3, axis=0)
    return np.round(rgb.mean(0)).astype(np.uint8)[None] if channels == 1 else rgb


def png_data_url(image: np.ndarray) -> str:
    """uint8 (C, H, W) → a PNG data URL, for the page to show what the model saw."""
    buf = io.BytesIO()
    Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def to_pixels(rows: list[list[float]]) -> np.ndarray:
    """A 2-D array from JSON rows: rectangular, finite, gray values 0..255."""
    if not rows or len({len(r) for r in rows}) != 1:
        raise UserError("pixels: expected a non-empty rectangular 2-D array (every row the same length)")
    array = as_gray(rows, "pixels")
    if array.min() < 0 or array.max() > 1:
        raise UserError("pixels: gray values must lie in 0..1 or 0..255")
    return array


def rounded(a: np.ndarray) -> list:
    return np.round(np.asarray(a, dtype=np.float64), DECIMALS).tolist()


def describe_run(run: Run) -> dict:
    """Everything the page's run tab shows: the run record as loaded, plus the first conv layer's filters."""
    model = run.model
    described = {"name": run.run_dir.name if run.run_dir else None, "kind": "cnn" if model.is_cnn else "ffn",
                 "model": model.config.to_dict(), "summary": model.rows,
                 "parameters": sum(p.numel() for p in model.parameters()), "classes": list(run.classes),
                 "data": run.data, "normalize": run.normalizer.to_dict(), "train": run.train,
                 "history": run.history, "final": run.final, "filters": None, "figures": list(FIGURES),
                 "input": "draw" if is_digit_input(model.config.input_shape, run.classes) else "upload",
                 "mnistlab": __version__}
    if model.is_cnn:
        first = next(row for row in model.rows if row["name"].startswith("conv"))
        described["filters"] = {"name": first["name"], "token": first["token"], "weights": rounded(first_layer_weights(model))}
    return described


def save_digit(folder: Path, name: str, image28: np.ndarray) -> Path:
    """Write a 28x28 digit as PNG into folder/<name>/ (the image-folder layout `--data` reads), atomically."""
    buffer = io.BytesIO()
    Image.fromarray(image28).save(buffer, format="PNG")
    path = folder / name / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.png"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, buffer.getvalue())
    except OSError as exc:  # the disk filled or the folder was taken away while serving: say so, not a 500
        raise UserError(f"{folder}: cannot save the digit there ({exc.strerror or exc}); free space or restart the "
                        f"server with another --digits folder") from None
    return path


def check_digits_folder(folder: Path) -> None:
    """Refuse, at start, a --digits place the first saved digit could not be written to: a file, a folder that
    cannot be written, a full disk (each later answered every "wrong? it is a N" with a 500)."""
    check_output(folder, "--digits")
    existing = Path(os.path.abspath(folder))
    while not existing.exists():
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise UserError(f"--digits {folder}: {existing} cannot be written by this user; choose another folder")
    check_space(folder, 0, "--digits")


def create_app(run: Run, max_body: int = MAX_BODY, allowed_hosts: list[str] | None = None,
               dataset: str | None = None, data_dir: str | Path | None = None, digits_dir: str | Path | None = None, read=None) -> FastAPI:
    """The web app for `run`. `allowed_hosts` (e.g. loopback names) guards against DNS rebinding;
    `dataset`/`data_dir` (read with `read`, data.formats.ReadOptions) say where the test images of the confusion
    and mistakes figures come from (default: the run's data set, resolved as `mnistlab inspect` does);
    `digits_dir` is where "wrong? it is a N" saves drawings (a digit run only; None: the page offers nothing)."""
    shape = tuple(run.model.config.input_shape)
    digits = is_digit_input(shape, run.classes)  # draw a digit; any other run takes an uploaded image
    app = FastAPI(title="mnistlab serve", version=__version__, docs_url=None, redoc_url=None,
                  description="Live predictions, probabilities and feature maps of one trained mnistlab run. "
                              "The Swagger pages are off because they load from a CDN; this schema is complete.")
    run_json = describe_run(run)
    folder = Path(digits_dir) if digits and digits_dir is not None else None
    if folder is not None:
        check_digits_folder(folder)
        run_json["digits"] = {"folder": str(folder), "command": f"mnistlab finetune {run.run_dir or 'RUN'} {folder}"}
    blank = np.zeros((1, 28, 28) if digits else (1, *shape), np.uint8)
    run.predict(blank)  # warm up (autocast, allocator) so the first stroke is answered as fast as the rest
    if run.model.is_cnn:
        conv_feature_maps(run.model, run.prepare(blank))

    _error_handlers(app)
    _predict_route(app, run, shape, digits)
    _label_route(app, run, folder, run_json)

    @app.get("/api/run", summary="Describe the loaded run")
    def describe() -> dict:
        """Model spec and layer summary, data, training options, history, final metrics, first-layer filters (CNN)."""
        return run_json

    _figure_routes(app, run, dataset, data_dir, read)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, limit=max_body, hosts=allowed_hosts or None)  # refused with JSON, like every error
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every error as JSON {"error": one line}: the user's (400), a bad request (422), HTTP's, and a crash (500)."""
    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return JSONResponse({"error": f"{where + ': ' if where else ''}{first['msg']}", "detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        return JSONResponse({"error": f"internal error ({exc.__class__.__name__}); the server keeps running"}, status_code=500)


def _predict_route(app: FastAPI, run: Run, shape: tuple, digits: bool) -> None:
    """POST /api/predict: a drawing (or, for a run that is not on digits, an image) in; class, probabilities and
    optionally feature maps and attribution out."""
    lock = threading.Lock()  # one forward pass at a time: predictable memory, no thread oversubscription
    errors = {400: {"model": Error}, 413: {"model": Error}, 422: {"model": Error}}

    def judged(images: np.ndarray) -> np.ndarray:  # a 28x28 drawing's readings: the surest one (prepare.to_mnist)
        with lock:
            return run.confidence(images)

    @app.post("/api/predict", response_model=Prediction, responses=errors, summary="Classify a drawing")
    def predict(body: PredictRequest) -> Prediction:
        """Bring the drawing to MNIST form (as `mnistlab predict` does) and run the model on it."""
        start = time.perf_counter()
        if digits:
            gray = decode_data_url(body.image) if body.image is not None else to_pixels(body.pixels)
            image28 = to_mnist(gray, "image" if body.image is not None else "pixels", judged)
            shown = None
        else:
            image28 = as_model_input(body, shape)
            shown = png_data_url(image28)
        with lock:
            classes, probs = run.predict(image28[None])
            k = int(classes[0])
            maps, units = [], []
            if body.features:
                x = run.prepare(image28[None])
                if run.model.is_cnn:
                    maps = [{"name": m["name"], "token": m["token"], "shape": list(m["maps"].shape[1:]),
                             "maps": rounded(m["maps"][0])} for m in conv_feature_maps(run.model, x)]
                else:
                    units = [{**u, "weights": rounded(u["weights"])} for u in responsible_units(run.model, x, k)]
            attribution = [{**a, "label": run.classes[a["class"]], "map": rounded(a["map"])}
                           for a in top_class_attributions(run, image28, steps=APP_IG_STEPS)] if body.attribution else []
            found = read_number(run, gray) if digits else []
        return Prediction(class_=k, label=run.classes[k], probabilities=[float(p) for p in probs[0]], unsure=bool(unsure(probs)[0]),
                          input28=image28.tolist() if digits else [], input_image=shown, feature_maps=maps, units=units,
                          attribution=attribution, milliseconds=round(1000 * (time.perf_counter() - start), 2),
                          number=as_text(found, [d.label for d in found]), digits=found)


def read_number(run: Run, gray: np.ndarray) -> list[FoundDigit]:
    """Every digit of a drawing or picture, line by line, each left to right, read by the run (`predict --number`)."""
    found = find_digits(gray, judge=run.confidence)
    if not found:
        return []
    classes, probs = run.predict(np.stack([d.image for d in found]))
    return [FoundDigit(label=run.classes[int(c)], probability=float(p[int(c)]), box=list(d.box), line=d.line)
            for d, c, p in zip(found, classes, probs)]



def _label_route(app: FastAPI, run: Run, folder: Path | None, run_json: dict) -> None:
    """POST /api/label: a drawing and its true class saved into the digits folder (`serve --digits DIR`)."""
    errors = {400: {"model": Error}, 413: {"model": Error}, 422: {"model": Error}}

    @app.post("/api/label", responses=errors, summary="Save a drawing with its true class into the digits folder")
    def label(body: LabelRequest) -> dict:
        """Bring the drawing to MNIST form and save it as <digits>/<class>/<time>-<id>.png; answers the folder, the
        number of digits saved there, and the command that fine-tunes the run on them mixed with MNIST."""
        if folder is None and not is_digit_input(tuple(run.model.config.input_shape), run.classes):
            raise UserError(f"this run's classes ({', '.join(run.classes[:10])}) are not the ten digits on 28x28 "
                            f"drawings: saving drawings to fine-tune on is for digit runs")
        if folder is None:
            raise UserError("this server saves no digits; start it with `mnistlab serve RUN --digits DIR`")
        if body.label >= len(run.classes):
            raise UserError(f"label: {body.label} is not a class of this run (0 to {len(run.classes) - 1})")
        path = save_digit(folder, run.classes[body.label], to_mnist(decode_data_url(body.image), "image"))
        total = sum(1 for _ in folder.glob("*/*.png"))
        return {"saved": str(path), "folder": str(folder), "total": total, "command": run_json["digits"]["command"]}


def _figure_routes(app: FastAPI, run: Run, dataset: str | None, data_dir, read) -> None:
    """GET /api/figure/{what} and /api/confusion; the test set behind them is evaluated once, on first use."""
    figures: dict[str, bytes] = {}
    figure_lock = threading.Lock()  # each figure is drawn once; the test-set predictions behind two of them too
    test_set: list = []
    confusion: dict = {}

    @app.get("/api/figure/{what}", response_class=Response, summary="A figure of the run, as in the report",
             responses={200: {"content": {"image/png": {}}}, 400: {"model": Error}, 422: {"model": Error}})
    def figure(what: Figure) -> Response:
        """PNG of `mnistlab inspect RUN --what curves|errors|confusion`; errors and confusion evaluate the test set once."""
        # matplotlib loads when a figure is asked for, not when the app starts
        from ..plots import png_bytes, render

        with figure_lock:
            if what not in figures:
                if what != "curves" and not test_set:
                    test_set.append(predict_test_set(run, dataset, data_dir, read))
                figures[what] = png_bytes(render(run, what, predictions=test_set[0] if test_set else None))
        return Response(figures[what], media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/confusion", summary="The confusion matrix with the test images behind each cell")
    def confusion_images() -> dict:
        """Counts [true][predicted], and for each non-empty cell up to 24 of its test images (base64 uint8 pixels,
        most confident first) with their top-3 classes; the test set is evaluated once."""
        with figure_lock:
            if not test_set:
                test_set.append(predict_test_set(run, dataset, data_dir, read))
            if "cells" not in confusion:
                confusion["cells"] = confusion_cells(test_set[0])
        return confusion["cells"]
