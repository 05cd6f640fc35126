// rfzoo model pages: the unit picker ("What a unit sees"). A photograph at the model's input
// size, a layer select, and the receptive field of the unit under the pointer (or moved with
// the arrow keys): per axis, unit u of a layer sees
//   [center + u*jump - (rf-1)/2, center + u*jump + (rf-1)/2]   (input pixel i's center is i),
// which is rfzoo's Analysis.unit_box for layers whose RF does not depend on position. After
// upsampling (position-dependent layers) the page data carries every unit's interval per axis
// (unit_boxes, rfzoo.export.encode_boxes), decoded here. The numbers come from the page data
// (<stem>.page.json.gz, rfzoo.site.model_data); ERF stages also bring their heat map
// (erf_maps). Runs on every page view through material's document$.
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var ORANGE = "#ff9800";
  var current = null; // the picker on screen

  // --- data ---------------------------------------------------------------------------------
  var fetchData = window.rfzoo.pageData; // rfzoo.js: one fetch per page data file

  // --- box arithmetic -----------------------------------------------------------------------
  function snap(x) { var r = Math.round(x); return Math.abs(x - r) < 1e-6 ? r : x; }

  // the layer's two spatial axes: {n, rf, jump, center, boxes}; null when it has no local RF
  // on both. `boxes`: the axis's encoded per-unit intervals when the layer has them.
  function layerAxes(L, i, sp, unitBoxes) {
    var out = [], refs = unitBoxes && unitBoxes.layers[L.name[i]];
    for (var k = 0; k < sp.length; k++) {
      var ax = sp[k], get = function (key) { var v = L[key][i]; return v && v.length > ax ? v[ax] : null; };
      var n = get("output_size"), rf = get("rf"), jump = get("jump"), center = get("center");
      if (n === null || rf === null || jump === null || center === null || !(n > 0) || !(jump > 0)) return null;
      var ref = refs ? refs[ax] : null;
      out.push({ n: n, rf: rf, jump: jump, center: center, boxes: ref === null || ref === undefined ? null : unitBoxes.axes[ref] });
    }
    return out;
  }

  // unit u's interval as stored: head, then a cycle moved by `shift` per period, then tail
  // (the inverse of rfzoo.export.encode_boxes)
  function storedRange(enc, u, n) {
    var head = enc.head, tail = enc.tail, cycle = enc.cycle;
    if (u < head.length) return head[u].slice();
    if (u >= n - tail.length) return tail[u - (n - tail.length)].slice();
    var v = u - head.length, periods = Math.floor(v / cycle.length), box = cycle[v % cycle.length];
    return [box[0] + periods * enc.shift, box[1] + periods * enc.shift];
  }

  // inclusive input-pixel range of unit u on one axis: the stored one after upsampling, else
  // the closed form (`exact` as the engine's int(lo + u*jump))
  function unitRange(a, u, exact) {
    if (a.boxes) return storedRange(a.boxes, u, a.n);
    var c = a.center + u * a.jump, half = (a.rf - 1) / 2;
    if (exact) return [Math.trunc(snap(c - half)), Math.trunc(snap(c + half))];
    var lo = Math.floor(snap(c - half)); // the largest RF over positions, centred on the unit
    return [lo, lo + a.rf - 1];
  }
  // the input range every unit's box fits in (stored boxes need not grow with the unit)
  function axisExtent(a, exact) {
    if (!a.boxes) return [unitRange(a, 0, exact)[0], unitRange(a, a.n - 1, exact)[1]];
    var lo = Infinity, hi = -Infinity;
    for (var u = 0; u < a.n; u++) {
      var r = storedRange(a.boxes, u, a.n);
      lo = Math.min(lo, r[0]); hi = Math.max(hi, r[1]);
    }
    return [lo, hi];
  }
  function centerUnit(a, size) {
    return Math.min(a.n - 1, Math.max(0, Math.round(((size - 1) / 2 - a.center) / a.jump)));
  }
  function paddingPixels(box, size) {
    var inside = 1, area = 1;
    for (var k = 0; k < 2; k++) {
      var lo = box[k][0], hi = box[k][1];
      area *= hi - lo + 1;
      inside *= Math.max(0, Math.min(hi, size[k] - 1) - Math.max(lo, 0) + 1);
    }
    return area - inside;
  }

  // --- drawing helpers ----------------------------------------------------------------------
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function viridis(t) {
    var x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1), k = Math.min(VIRIDIS.length - 2, Math.floor(x)), f = x - k;
    return VIRIDIS[k].map(function (c, j) { return Math.round(c + (VIRIDIS[k + 1][j] - c) * f); });
  }
  function heatUrl(map) { // the uint8 cells as a PNG: transparent where 0, more opaque where strong
    if (map.url) return map.url;
    var h = map.shape[0], w = map.shape[1], raw = atob(map.data);
    var canvas = document.createElement("canvas");
    canvas.width = w; canvas.height = h;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
    for (var p = 0; p < w * h; p++) {
      var v = raw.charCodeAt(p), c = viridis(v / 255);
      img.data[4 * p] = c[0]; img.data[4 * p + 1] = c[1]; img.data[4 * p + 2] = c[2];
      img.data[4 * p + 3] = v === 0 ? 0 : Math.round(255 * (0.3 + 0.6 * v / 255));
    }
    ctx.putImageData(img, 0, 0);
    map.url = canvas.toDataURL("image/png");
    return map.url;
  }
  function axesText(v) { return v.join("×"); }

  // --- the picker ---------------------------------------------------------------------------
  function Picker(root, data) {
    this.root = root;
    this.data = data;
    this.size = root.getAttribute("data-input").split(",").map(Number); // [H, W]
    var n = data.axes.length;
    this.sp = n === 3 ? [1, 2] : [n - 2, n - 1];
    this.stage = root.querySelector(".rfz-units-stage");
    this.readout = root.querySelector(".rfz-units-readout");
    this.note = root.querySelector(".rfz-units-note");
    this.select = root.querySelector(".rfz-units-layer");
    this.photo = root.querySelector(".rfz-units-photo");
    this.erfBox = root.querySelector(".rfz-units-erf");
    this.maps = data.erf_maps || {};
    this.layers = [];
    var L = data.layers;
    for (var i = 0; i < L.name.length; i++) {
      var axes = layerAxes(L, i, this.sp, data.unit_boxes);
      if (!axes || L.kind[i] === "input") continue;
      // exact: the closed form holds, or every axis has its stored per-unit boxes
      var exact = !(L.flags[i] & 4) || axes.every(function (a) { return a.boxes; });
      this.layers.push({ i: i, name: L.name[i], axes: axes, flags: L.flags[i], exact: exact });
    }
    this.fillSelect();
    var self = this;
    this.select.addEventListener("change", function () { self.setLayer(+self.select.value); });
    this.photo.addEventListener("change", function () { if (self.img) self.img.setAttribute("href", self.photoUrl()); });
    if (this.erfBox) this.erfBox.addEventListener("change", function () { self.draw(); });
    this.stage.addEventListener("keydown", function (e) { self.key(e); });
    this.stage.addEventListener("pointermove", function (e) { if (e.pointerType !== "touch") self.point(e); });
    this.stage.addEventListener("pointerdown", function (e) { self.point(e); });
    var want = root.getAttribute("data-default-layer"), start = this.layers.length - 1;
    this.layers.forEach(function (lay, k) { if (lay.name === want) start = k; });
    this.setLayer(start);
    root.setAttribute("data-rfz-units-ready", "");
  }

  Picker.prototype.fillSelect = function () {
    var maps = this.maps;
    this.select.innerHTML = "";
    this.layers.forEach(function (lay, k) {
      var a = lay.axes, text = lay.name + " — RF " + axesText([a[0].rf, a[1].rf]) + ", jump " + axesText([a[0].jump, a[1].jump]);
      if (lay.flags & 4) text += " · position-dependent";
      if (maps[lay.name]) text += " · ERF";
      var opt = document.createElement("option");
      opt.value = String(k);
      opt.textContent = text;
      this.select.appendChild(opt);
    }, this);
  };

  Picker.prototype.photoUrl = function () { return new URL(this.photo.value, location.href).href; };

  Picker.prototype.setLayer = function (k) {
    this.lay = this.layers[k];
    this.select.value = String(k);
    var a = this.lay.axes, size = this.size;
    this.unit = [centerUnit(a[0], size[0]), centerUnit(a[1], size[1])];
    this.build();
    this.draw();
  };

  Picker.prototype.exact = function () { return this.lay.exact; };

  // the frame of one layer: every unit's box fits, with the photo at input pixels 0..H-1, 0..W-1
  Picker.prototype.build = function () {
    var a = this.lay.axes, size = this.size, exact = this.exact(), view = [];
    for (var k = 0; k < 2; k++) {
      var extent = axisExtent(a[k], exact);
      var lo = Math.min(0, extent[0]), hi = Math.max(size[k], extent[1] + 1);
      var margin = Math.max(1, 0.03 * (hi - lo));
      view.push([lo - margin, hi + margin]);
    }
    this.view = view;
    var vw = view[1][1] - view[1][0], vh = view[0][1] - view[0][0], u = Math.max(vw, vh) / 100;
    this.stage.style.aspectRatio = vw + " / " + vh;
    this.stage.innerHTML = "";
    var svg = this.svg = el("svg", { viewBox: [view[1][0], view[0][0], vw, vh].join(" "), class: "rfz-units-svg",
      role: "img", "aria-label": "Photograph, " + size[0] + "×" + size[1] + " px, with the receptive field of one unit of " + this.lay.name });
    var defs = el("defs", {}, svg);
    var hatch = el("pattern", { id: "rfz-u-hatch", patternUnits: "userSpaceOnUse", width: 1.6 * u, height: 1.6 * u,
      patternTransform: "rotate(45)" }, defs);
    el("rect", { width: 1.6 * u, height: 1.6 * u, fill: "rgba(229,57,53,.16)" }, hatch);
    el("rect", { width: 0.55 * u, height: 1.6 * u, fill: "rgba(229,57,53,.6)" }, hatch);
    var clip = el("clipPath", { id: "rfz-u-clip" }, defs);
    el("rect", { x: 0, y: 0, width: size[1], height: size[0] }, clip);
    el("rect", { x: view[1][0], y: view[0][0], width: vw, height: vh, class: "rfz-units-outside" }, svg);
    this.img = el("image", { x: 0, y: 0, width: size[1], height: size[0], preserveAspectRatio: "xMidYMid slice",
      href: this.photoUrl() }, svg);
    this.heat = el("image", { "clip-path": "url(#rfz-u-clip)", preserveAspectRatio: "none", opacity: 0.85,
      style: "image-rendering:pixelated", class: "rfz-units-heat" }, svg);
    el("rect", { x: 0, y: 0, width: size[1], height: size[0], fill: "none", class: "rfz-units-edge",
      "vector-effect": "non-scaling-stroke" }, svg);
    // the unit grid: cell borders halfway between unit centres, drawn when cells are >= 6 px wide
    var scale = (this.stage.clientWidth || 600) / vw;
    if (a[0].jump * scale >= 6 && a[1].jump * scale >= 6) {
      var grid = el("pattern", { id: "rfz-u-grid", patternUnits: "userSpaceOnUse", width: a[1].jump, height: a[0].jump,
        x: a[1].center + 0.5 - a[1].jump / 2, y: a[0].center + 0.5 - a[0].jump / 2 }, defs);
      el("path", { d: "M " + a[1].jump + " 0 L 0 0 0 " + a[0].jump, fill: "none", class: "rfz-units-gridline",
        "vector-effect": "non-scaling-stroke" }, grid);
      el("rect", { x: a[1].center + 0.5 - a[1].jump / 2, y: a[0].center + 0.5 - a[0].jump / 2,
        width: a[1].n * a[1].jump, height: a[0].n * a[0].jump, fill: "url(#rfz-u-grid)", "pointer-events": "none" }, svg);
    }
    this.pad = el("path", { "fill-rule": "evenodd", fill: "url(#rfz-u-hatch)", class: "rfz-units-pad" }, svg);
    this.box = el("rect", { fill: "none", stroke: ORANGE, "stroke-width": 2.5, "vector-effect": "non-scaling-stroke",
      class: "rfz-units-box" }, svg);
    this.links = el("path", { fill: "none", class: "rfz-units-links", "vector-effect": "non-scaling-stroke" }, svg);
    this.dots = el("g", { class: "rfz-units-dots" }, svg);
    this.r = 0.9 * u;
    this.stage.appendChild(svg);
  };

  Picker.prototype.draw = function () {
    var a = this.lay.axes, size = this.size, exact = this.exact(), unit = this.unit;
    var box = [unitRange(a[0], unit[0], exact), unitRange(a[1], unit[1], exact)];
    var y0 = box[0][0], y1 = box[0][1] + 1, x0 = box[1][0], x1 = box[1][1] + 1;
    this.box.setAttribute("x", x0); this.box.setAttribute("y", y0);
    this.box.setAttribute("width", x1 - x0); this.box.setAttribute("height", y1 - y0);
    // padding: the box minus the image (even-odd: the inner rectangle is a hole)
    var iy0 = Math.max(y0, 0), iy1 = Math.min(y1, size[0]), ix0 = Math.max(x0, 0), ix1 = Math.min(x1, size[1]);
    var d = "M" + x0 + " " + y0 + "H" + x1 + "V" + y1 + "H" + x0 + "Z";
    if (iy1 > iy0 && ix1 > ix0) d += "M" + ix0 + " " + iy0 + "H" + ix1 + "V" + iy1 + "H" + ix0 + "Z";
    this.pad.setAttribute("d", d);
    // the unit and its neighbours, one jump apart
    this.dots.innerHTML = "";
    var lines = "";
    for (var di = -1; di <= 1; di++) {
      for (var dj = -1; dj <= 1; dj++) {
        var ui = unit[0] + di, uj = unit[1] + dj;
        if (ui < 0 || uj < 0 || ui >= a[0].n || uj >= a[1].n) continue;
        var cy = a[0].center + ui * a[0].jump + 0.5, cx = a[1].center + uj * a[1].jump + 0.5;
        el("circle", { cx: cx, cy: cy, r: di || dj ? 0.55 * this.r : this.r, class: di || dj ? "rfz-units-nb" : "rfz-units-me" }, this.dots);
        if (di || dj) lines += "M" + (a[1].center + unit[1] * a[1].jump + 0.5) + " " + (a[0].center + unit[0] * a[0].jump + 0.5) + "L" + cx + " " + cy;
      }
    }
    this.links.setAttribute("d", lines);
    var pad = paddingPixels(box, size);
    var text = "unit (row, col) = (" + unit[0] + ", " + unit[1] + "): rows " + box[0][0] + ".." + box[0][1] +
      ", cols " + box[1][0] + ".." + box[1][1] + " (" + pad + " px in padding)";
    if (!exact) text += "; largest over positions";
    this.readout.textContent = text;
    var r = this.root;
    r.setAttribute("data-layer", this.lay.name);
    r.setAttribute("data-unit", unit.join(","));
    r.setAttribute("data-box", [box[0][0], box[0][1], box[1][0], box[1][1]].join(","));
    r.setAttribute("data-padding", String(pad));
    r.setAttribute("data-exact", exact ? "1" : "0");
    this.drawHeat();
  };

  // the ERF of the probe's unit, moved to the chosen unit by whole jumps (as the probe places
  // maps measured on another input), cut to the photo
  Picker.prototype.drawHeat = function () {
    var map = this.maps[this.lay.name], notes = [], a = this.lay.axes;
    if (this.lay.flags & 4) {
      notes.push(this.lay.exact
        ? "Position-dependent layer (after upsampling, windows): a unit's box is not one RF moved one jump per unit; the box shown is this unit's own."
        : "Position-dependent layer: box shown is the largest over positions; exact per-unit boxes are not in this catalog yet.");
    }
    if (this.lay.flags & 1) {
      notes.push("A global op (attention, token mixing, an SE gate) reaches this layer: the unit sees the whole input; the box is its local path.");
    }
    if (this.data.lower_bound) notes.push("Partial analysis: the box is a lower bound.");
    if (map && (!this.erfBox || this.erfBox.checked)) {
      var sh = [(this.unit[0] - map.unit[0]) * a[0].jump, (this.unit[1] - map.unit[1]) * a[1].jump];
      this.heat.setAttribute("href", heatUrl(map));
      this.heat.setAttribute("y", map.origin[0] + sh[0]);
      this.heat.setAttribute("x", map.origin[1] + sh[1]);
      this.heat.setAttribute("height", map.shape[0] * map.scale);
      this.heat.setAttribute("width", map.shape[1] * map.scale);
      this.heat.removeAttribute("display");
      var same = map.input[0] === this.size[0] && map.input[1] === this.size[1] && !sh[0] && !sh[1];
      notes.push(same ? "ERF heat map (random weights): measured for this very unit."
        : "ERF heat map (random weights): measured for unit (" + map.unit.join(", ") + ") of a " + axesText(map.input) +
          " input and moved here with the chosen unit (a shift by whole jumps); cut to the photo.");
      this.root.setAttribute("data-erf", "shown");
    } else {
      this.heat.setAttribute("display", "none");
      this.root.removeAttribute("data-erf");
    }
    this.note.textContent = notes.join(" ");
    this.note.hidden = !notes.length;
  };

  Picker.prototype.moveTo = function (i, j) {
    var a = this.lay.axes;
    i = Math.max(0, Math.min(a[0].n - 1, i));
    j = Math.max(0, Math.min(a[1].n - 1, j));
    if (i === this.unit[0] && j === this.unit[1]) return;
    this.unit = [i, j];
    this.draw();
  };

  Picker.prototype.point = function (e) {
    var ctm = this.svg && this.svg.getScreenCTM();
    if (!ctm) return;
    var pt = this.svg.createSVGPoint();
    pt.x = e.clientX; pt.y = e.clientY;
    var p = pt.matrixTransform(ctm.inverse()), a = this.lay.axes;
    this.moveTo(Math.round((p.y - 0.5 - a[0].center) / a[0].jump), Math.round((p.x - 0.5 - a[1].center) / a[1].jump));
  };

  Picker.prototype.key = function (e) {
    var u = this.unit, a = this.lay.axes, step = e.shiftKey ? 5 : 1;
    var moves = { ArrowUp: [u[0] - step, u[1]], ArrowDown: [u[0] + step, u[1]], ArrowLeft: [u[0], u[1] - step],
      ArrowRight: [u[0], u[1] + step], Home: [u[0], 0], End: [u[0], a[1].n - 1], PageUp: [0, u[1]],
      PageDown: [a[0].n - 1, u[1]] };
    var m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    this.moveTo(m[0], m[1]);
  };

  // --- every page view ----------------------------------------------------------------------
  function onPage() {
    var root = document.querySelector(".rfz-units[data-rfz-units]");
    var marker = document.querySelector(".rfz-model[data-rfz-data]");
    current = null;
    if (!root || !marker) return;
    var token = {};
    current = token;
    fetchData(new URL(marker.getAttribute("data-rfz-data"), location.href).href).then(function (data) {
      if (current !== token || !document.body.contains(root)) return;
      current = new Picker(root, data);
    }).catch(function (err) {
      var stage = root.querySelector(".rfz-units-stage");
      if (stage) stage.textContent = "The unit picker could not load the page data (" + err.message + ").";
      console.warn("rfzoo units:", err.message);
    });
  }

  window.rfzoo.onEveryPage(onPage);
})();
