// A clickable confusion matrix: a click on a cell lists the test images behind it with their top classes.
// Shared by the web app's run tab and the self-contained HTML report (which inlines this file).
// data: {matrix, classes, height, width, channels (1 or 3, channels first), per_cell, cells: {"t,p": [{index, pixels (base64 uint8), top: [[class, p]]}]}}
"use strict";

function confusionMatrix(root, data) {
  const make = (tag, props = {}, ...children) => { const n = Object.assign(document.createElement(tag), props); n.append(...children); return n; };
  const k = data.classes.length, total = data.matrix.flat().reduce((a, b) => a + b, 0);
  const maxOff = Math.max(1, ...data.matrix.flatMap((row, t) => row.filter((_, p) => p !== t)));
  const detail = make("div", { className: "cm-detail" }, make("p", { className: "cm-hint", textContent: "Click a cell to see the test images behind it." }));
  const table = make("table", { className: "cm-table" });
  table.append(make("tr", {}, make("th", { className: "cm-corner", textContent: "true \\ predicted" }),
    ...data.classes.map((c) => make("th", { textContent: c }))));
  data.matrix.forEach((row, t) => {
    table.append(make("tr", {}, make("th", { textContent: data.classes[t] }), ...row.map((n, p) => {
      const cell = make("td", { className: "cm-cell" + (t === p ? " cm-diag" : n ? " cm-wrong" : ""), textContent: n ? String(n) : "" });
      cell.dataset.true = t; cell.dataset.pred = p; cell.dataset.count = n;
      cell.style.setProperty("--cm-shade", t === p ? "0" : String(Math.sqrt(n / maxOff)));
      if (n) { cell.tabIndex = 0; cell.title = `${n} test image(s): true ${data.classes[t]}, predicted ${data.classes[p]}`; }
      return cell;
    })));
  });
  const show = (cell) => {
    for (const c of table.querySelectorAll(".cm-selected")) c.classList.remove("cm-selected");
    cell.classList.add("cm-selected");
    const t = +cell.dataset.true, p = +cell.dataset.pred, n = +cell.dataset.count, items = data.cells[`${t},${p}`] || [];
    const title = `${n} test image(s) of ${data.classes[t]} predicted as ${data.classes[p]}` +
      (items.length < n ? ` · showing the ${items.length} most confident` : "");
    detail.replaceChildren(make("h3", { className: "cm-title", textContent: title }), make("div", { className: "cm-tiles" }, ...items.map((item) => {
      const canvas = make("canvas", { width: data.width, height: data.height, className: "cm-digit" });
      const bytes = atob(item.pixels), ctx = canvas.getContext("2d"), img = ctx.createImageData(data.width, data.height);
      const hw = data.width * data.height, at = (i) => bytes.charCodeAt(i);
      for (let i = 0; i < hw; i++) {
        if (data.channels === 3) img.data.set([at(i), at(i + hw), at(i + 2 * hw), 255], 4 * i);
        else { const v = 255 - at(i); img.data.set([v, v, v, 255], 4 * i); }
      }
      ctx.putImageData(img, 0, 0);
      const tile = make("figure", { className: "cm-tile" }, canvas, make("figcaption", {},
        make("b", { textContent: `#${item.index}` }), ...item.top.map(([c, q]) => make("span", { textContent: `${data.classes[c]}: ${(100 * q).toFixed(1)}%` }))));
      tile.dataset.index = item.index;
      return tile;
    })));
  };
  table.addEventListener("click", (event) => { const cell = event.target.closest("td.cm-cell"); if (cell && +cell.dataset.count) show(cell); });
  table.addEventListener("keydown", (event) => { if (event.key === "Enter" && event.target.matches("td.cm-cell")) show(event.target); });
  root.replaceChildren(make("p", { className: "cm-sum", textContent: `${total.toLocaleString()} test images; rows: true class, columns: predicted` }), table, detail);
}
