// mnistlab serve: draw a digit, watch the model. Plain JS, no build step, no network beyond this server.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

// ---------- colour maps ----------
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(t) {
  t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i;
  return VIRIDIS[i].map((c, k) => c + f * (VIRIDIS[i + 1][k] - c));
}
function diverging(t) { // t in [-1, 1]: blue - near-black - red
  const a = Math.min(1, Math.abs(t));
  return t >= 0 ? [20 + 235 * a, 20 + 60 * a, 30 + 30 * a] : [20 + 20 * a, 20 + 110 * a, 30 + 225 * a];
}

// Paint a 2-D array onto a small canvas, one canvas pixel per value.
function paint(canvas, rows, colour) {
  const h = rows.length, w = rows[0].length;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const [r, g, b] = colour(rows[y][x]), o = 4 * (y * w + x);
    img.data[o] = r; img.data[o + 1] = g; img.data[o + 2] = b; img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}
const maxAbs = (arrays) => Math.max(1e-12, ...arrays.flat(Infinity).map(Math.abs));
const pct = (p) => (100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 0 : 1) + "%";

// ---------- state ----------
const state = { run: null, strokes: [], drawing: null, inFlight: false, pending: false, timer: null, predictions: 0 };
document.body.dataset.predictions = "0";
document.body.dataset.busy = "0";

// ---------- tabs ----------
for (const name of ["draw", "run"]) {
  $("tab-" + name).addEventListener("click", () => {
    for (const other of ["draw", "run"]) {
      $("tab-" + other).setAttribute("aria-selected", String(other === name));
      $("panel-" + other).hidden = other !== name;
    }
  });
}

// ---------- drawing pad ----------
const pad = $("pad"), ctx = pad.getContext("2d");
const PEN = pad.width / 14; // stroke width relative to the pad: MNIST-like strokes after scaling to 20x20

function redraw() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = ctx.fillStyle = "#fff";
  ctx.lineWidth = PEN; ctx.lineCap = "round"; ctx.lineJoin = "round";
  for (const stroke of state.strokes) drawStroke(stroke);
}
function drawStroke(points) {
  if (points.length === 1) {
    ctx.beginPath(); ctx.arc(points[0][0], points[0][1], PEN / 2, 0, 2 * Math.PI); ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(points[0][0], points[0][1]);
  for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}
function padPoint(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}
pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  pad.dataset.pointer = event.pointerType;  // mouse, pen or touch: all draw the same way
  state.drawing = { id: event.pointerId, points: [padPoint(event)] };
  state.strokes.push(state.drawing.points);
  redraw();
  schedule();
});
pad.addEventListener("pointermove", (event) => {
  if (!state.drawing || event.pointerId !== state.drawing.id) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) state.drawing.points.push(padPoint(e));
  redraw();
  schedule();
});
const endStroke = (event) => {
  if (!state.drawing || event.pointerId !== state.drawing.id) return;
  state.drawing = null;
  schedule(0);
};
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clear);
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") { event.preventDefault(); undo(); }
  if (event.key === "Escape") clear();
});
function undo() { state.strokes.pop(); redraw(); schedule(0); }
function clear() { state.strokes = []; redraw(); schedule(0); }

// ---------- predictions: debounced while drawing, one request in flight at a time ----------
// data-busy tells tests (and anyone curious) whether the display lags the drawing.
const markBusy = () => { document.body.dataset.busy = state.timer || state.inFlight || state.pending ? "1" : "0"; };
function schedule(delay = 120) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => { state.timer = null; predict(); }, delay);
  markBusy();
}
async function predict() {
  if (state.inFlight) { state.pending = true; markBusy(); return; }
  if (!state.strokes.length && !state.upload) { showEmpty(); markBusy(); return; }
  state.inFlight = true;
  const started = performance.now();
  try {
    const response = await fetch("/api/predict", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ image: state.upload || pad.toDataURL("image/png"), attribution: $("attr-toggle").checked }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    if (state.strokes.length || state.upload) showPrediction(body, performance.now() - started);
  } catch (error) {
    $("confidence").textContent = "error";
    $("runner-up").textContent = String(error.message || error);
    $("runner-up").className = "small error";
  } finally {
    state.inFlight = false;
    if (state.pending) { state.pending = false; predict(); }
    markBusy();
  }
}

// A number: each digit found, boxed on the pad with what it was read as (the boxes are in the sent image's pixels).
function renderNumber(p) {
  const several = p.digits && p.digits.length > 1 && !state.upload;
  $("number").hidden = !several;
  $("boxes").replaceChildren(...(several ? p.digits.map((d) => {
    const [x0, y0, x1, y1] = d.box, box = document.createElement("div"), label = document.createElement("span");
    Object.assign(box.style, { left: `${100 * x0 / pad.width}%`, top: `${100 * y0 / pad.height}%`,
                               width: `${100 * (x1 - x0) / pad.width}%`, height: `${100 * (y1 - y0) / pad.height}%` });
    label.textContent = `${d.label} ${pct(d.probability)}`;
    box.append(label);
    return box;
  }) : []));
  if (several) $("number").textContent = `${p.digits.length} digits found: the number ${p.number} (one digit alone is not the answer)`;
}

function showEmpty() {
  $("boxes").replaceChildren();
  $("number").hidden = true;
  $("prediction").textContent = "?";
  $("prediction").classList.add("empty");
  $("confidence").textContent = "draw something";
  $("runner-up").textContent = "";
  paint($("input28"), Array.from({ length: 28 }, () => new Array(28).fill(0)), () => [0, 0, 0]);
  renderBars(null);
  if (state.run && state.run.kind === "cnn") for (const c of document.querySelectorAll("#feature-maps canvas")) c.getContext("2d").clearRect(0, 0, c.width, c.height);
  $("units").replaceChildren();
  $("attribution").hidden = true;
}

function showPrediction(p, ms) {
  const classes = state.run ? state.run.classes : p.probabilities.map((_, k) => String(k));
  const order = p.probabilities.map((q, k) => [q, k]).sort((a, b) => b[0] - a[0]);
  $("prediction").textContent = p.label;
  $("prediction").classList.remove("empty");
  $("confidence").textContent = pct(p.probabilities[p.class]) + (p.unsure ? ": unsure (maybe wrong, or not a digit)" : " sure");
  $("runner-up").className = "muted small";
  $("runner-up").textContent = `runner-up: ${classes[order[1][1]]} (${pct(order[1][0])})`;
  $("timing").textContent = `${Math.round(ms)} ms round trip · ${p.milliseconds.toFixed(1)} ms server`;
  if (p.input_image) $("input-image").src = p.input_image;
  else paint($("input28"), p.input28, (v) => [v, v, v]);
  renderBars(p);
  if (p.feature_maps.length) renderFeatureMaps(p.feature_maps);
  if (p.units.length) renderUnits(p.units, classes[p.class]);
  renderAttribution(p, classes);
  renderNumber(p);
  state.predictions += 1;
  document.body.dataset.predictions = String(state.predictions);
}

// The digit in grey with its attribution over it: red raises the class's score, blue lowers it.
function renderAttribution(p, classes) {
  const maps = p.attribution || [];
  $("attribution").hidden = !maps.length;
  if (!maps.length) return;
  const top = maxAbs(maps.map((a) => a.map));
  maps.slice(0, 2).forEach((a, i) => {
    paint($("attr-" + i), a.map.map((row, y) => row.map((v, x) => [p.input28[y][x], v / top])), ([g, t]) => {
      const w = Math.pow(Math.min(1, Math.abs(t)), 0.5), tint = t >= 0 ? [255, 60, 50] : [70, 140, 255];
      return tint.map((c) => 0.4 * g * (1 - w) + c * w);
    });
    $(`attr-${i}-caption`).textContent = `${i ? "runner-up" : "predicted"} ${classes[a.class]} (${pct(a.probability)})`;
  });
}

function renderBars(p) {
  const classes = state.run ? state.run.classes : Array.from({ length: 10 }, (_, k) => String(k));
  const bars = $("bars");
  if (bars.children.length !== classes.length) {
    bars.replaceChildren(...classes.map((label) => el("div", { className: "bar-row" },
      el("span", { className: "label", textContent: label }),
      el("div", { className: "track" }, el("div", { className: "bar" })),
      el("span", { className: "pct", textContent: "" }))));
  }
  [...bars.children].forEach((row, k) => {
    const q = p ? p.probabilities[k] : 0;
    row.querySelector(".bar").style.width = (100 * q).toFixed(2) + "%";
    row.querySelector(".pct").textContent = p ? pct(q) : "";
    row.classList.toggle("top", !!p && k === p.class);
  });
}

function renderFeatureMaps(layers) {
  const root = $("feature-maps");
  if (root.children.length !== layers.length) {
    root.replaceChildren(...layers.map((layer) => el("div", { className: "layer" },
      el("h3", {}, "Feature maps of ", el("span", { textContent: `${layer.name} (${layer.token})` }),
        ` · ${layer.shape[0]} maps of ${layer.shape[1]}×${layer.shape[2]}`),
      el("div", { className: "grid fmaps" }, ...layer.maps.map(() => el("canvas", { className: "pixelated fmap" }))))));
    root.insertBefore(el("p", { className: "muted small", textContent:
      "What every conv layer computes for your drawing, after its activation: bright is strong, dark is zero. One colour scale per layer." }), root.firstChild);
  }
  layers.forEach((layer, i) => {
    const top = maxAbs(layer.maps);
    const canvases = root.querySelectorAll(".layer")[i].querySelectorAll("canvas");
    layer.maps.forEach((m, c) => paint(canvases[c], m, (v) => viridis(v / top)));
  });
}

function renderUnits(units, label) {
  const top = maxAbs(units.map((u) => u.weights));
  $("units").replaceChildren(...units.map((u) => el("figure", { className: "tile" },
    paint(el("canvas", { className: "pixelated" }), u.weights, (v) => diverging(v / top)),
    el("figcaption", { textContent: `unit ${u.unit} · ${u.contribution >= 0 ? "+" : ""}${u.contribution.toFixed(2)} to ${label}` }))));
}

// ---------- run description ----------
const FIGURE_TITLES = { curves: "Learning curves", errors: "Most confident mistakes on the test set", confusion: "Confusion matrix" };
function dl(target, pairs) {
  $(target).replaceChildren(...pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: String(v) })]));
}
function table(target, header, rows) {
  $(target).replaceChildren(el("thead", {}, el("tr", {}, ...header.map((h) => el("th", { textContent: h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { textContent: c }))))));
}
const num = (x, digits = 4) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
const nums = (x) => (Array.isArray(x) ? x.map((v) => num(v, 3)).join(" / ") : num(x, 3)); // one, or one per channel
const acc = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(2) + "%");

function showRun(run) {
  state.run = run;
  document.title = `mnistlab · ${run.name || "run"}`;
  $("run-id").textContent = `${run.name || "run"} · ${run.kind.toUpperCase()} ${run.model.spec || "(no hidden layer)"}`;
  $("version").textContent = run.mnistlab;
  useCorrections(run);
  const t = run.train, d = run.data;
  dl("run-model", [["spec", run.model.spec || "(none)"], ["activation", run.model.activation], ["head", run.model.head],
    ["input", run.model.input_shape.join("×")], ["classes", run.classes.join(" ")], ["parameters", run.parameters.toLocaleString()]]);
  table("run-summary", ["layer", "token", "output", "params"],
    run.summary.map((r) => [r.name, r.token, r.output_shape.join("×"), r.params.toLocaleString()]));
  dl("run-data", [["data set", d.name], ["source", d.source], ["train / val / test", `${d.n_train} / ${d.n_val ?? 0} / ${d.n_test}`],
    ["normalize", run.normalize.mode + (run.normalize.mode === "standard" ? ` (mean ${nums(run.normalize.mean)}, std ${nums(run.normalize.std)})` : "")]]);
  if (run.input === "upload") useUpload(run);
  dl("run-train", [["epochs", t.epochs], ["batch size", t.batch_size], ["optimizer", t.optimizer], ["learning rate", t.lr],
    ["schedule", t.schedule], ["loss", t.loss], ["weight decay", t.weight_decay], ["seed", t.seed], ["device", t.device], ["precision", t.precision]]);
  const f = run.final;
  $("run-final").replaceChildren(...[["test accuracy", acc(f.test_accuracy)], ["test loss", num(f.test_loss)],
    ["train accuracy", acc(f.train_accuracy)], ["train loss", num(f.train_loss)],
    ...(f.val_accuracy !== null && f.val_accuracy !== undefined ? [["val accuracy", acc(f.val_accuracy)], ["val loss", num(f.val_loss)]] : [])]
    .map(([name, value]) => el("div", { className: "metric" }, el("div", { className: "value", textContent: value }), el("div", { className: "name", textContent: name }))));
  table("run-history", ["epoch", "train loss", "train acc", "val loss", "val acc", "test loss", "test acc", "seconds"],
    run.history.map((r) => [r.epoch, num(r.train_loss), acc(r.train_accuracy), num(r.val_loss), acc(r.val_accuracy),
      num(r.test_loss), acc(r.test_accuracy), num(r.seconds, 1)]));
  if (run.kind === "cnn" && run.filters) {
    $("cnn-views").hidden = false;
    $("filters-name").textContent = `${run.filters.name} (${run.filters.token})`;
    const top = maxAbs(run.filters.weights);
    $("filters").replaceChildren(...run.filters.weights.map((w) => paint(el("canvas", { className: "pixelated" }), w, (v) => diverging(v / top))));
  } else {
    $("ffn-views").hidden = false;
  }
  $("run-figures").replaceChildren(...run.figures.map((name) => {
    const card = el("div", { className: "card" }, el("h2", { textContent: FIGURE_TITLES[name] || name }),
      el("p", { className: "muted small", textContent: "drawing…" }));
    const img = el("img", { alt: FIGURE_TITLES[name] || name });
    img.addEventListener("load", () => card.querySelector("p").replaceWith(img));
    img.addEventListener("error", () => { card.querySelector("p").textContent = "not available for this run (see the server's output)"; });
    card.dataset.figure = name;
    img.src = `/api/figure/${name}`;  // the server draws each figure once, with the report's code
    return card;
  }));
  fetch("/api/confusion").then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
    .then((data) => confusionMatrix($("run-confusion"), data))
    .catch(() => { $("run-confusion").textContent = "not available for this run (see the server's output)"; });
  renderBars(null);
}

// A run that is not a 28x28 gray digit model takes an uploaded picture, shown as the model saw it.
// "wrong? it is a N": the drawing, labelled, goes to the digits folder the server was started with.
function useCorrections(run) {
  if (!run.digits) return;
  $("correct").hidden = false;
  run.classes.forEach((name, k) => {
    const button = document.createElement("button");
    button.textContent = name;
    button.id = "correct-" + k;
    button.title = `save this drawing as a ${name}`;
    button.addEventListener("click", () => saveLabelled(k, name));
    $("correct-buttons").appendChild(button);
  });
}
async function saveLabelled(k, name) {
  if (!state.strokes.length) { $("correct-status").textContent = "draw the digit first"; return; }
  const response = await fetch("/api/label", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image: pad.toDataURL("image/png"), label: k }),
  });
  const body = await response.json();
  if (!response.ok) { $("correct-status").textContent = body.error || response.statusText; return; }
  $("correct-status").textContent = `saved as a ${name}: ${body.total} of your digits in ${body.folder}. ` +
    `To learn them (mixed with MNIST, both accuracies reported): ${body.command}`;
}

function useUpload(run) {
  for (const id of ["pad", "tools", "input28"]) $(id).hidden = true;
  $("upload").hidden = false;
  $("input-image").hidden = false;
  $("pad-title").textContent = "Upload an image";
  $("sees-note").textContent = `Resized to ${run.model.input_shape.slice(1).join("×")}` +
    (run.model.input_shape[0] === 3 ? ", colour kept" : ", in gray") + " — exactly as mnistlab predict does for this run.";
  $("confidence").textContent = "upload an image";
  $("file").addEventListener("change", () => {
    const file = $("file").files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => { state.upload = reader.result; $("uploaded").src = reader.result; $("uploaded").hidden = false; schedule(0); };
    reader.readAsDataURL(file);
  });
}

$("attr-toggle").addEventListener("change", () => { if ($("attr-toggle").checked) schedule(0); else $("attribution").hidden = true; });

// ---------- start ----------
redraw();
showEmpty();
fetch("/api/run").then((r) => r.json()).then(showRun).catch((error) => {
  $("run-id").textContent = "could not load the run: " + error;
});
