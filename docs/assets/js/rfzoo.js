// rfzoo site behaviour: charts (plotly, loaded on demand), sortable and filterable tables,
// the compare page. Runs on every page view: on hard load and after mkdocs-material's
// instant navigation, through material's `document$` observable.
(function () {
  "use strict";

  var PLOTLY_FILE = "../vendor/plotly/plotly-cartesian-4.1.1.min.js";
  // this script's own URL locates the vendored plotly.js wherever the site is hosted
  var PLOTLY_URL = new URL(PLOTLY_FILE, document.currentScript.src).href;
  var plotlyLoading = null;

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!plotlyLoading) {
      plotlyLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = PLOTLY_URL;
        s.onload = function () { resolve(window.Plotly); };
        s.onerror = function () { plotlyLoading = null; reject(new Error("plotly.js failed to load")); };
        document.head.appendChild(s);
      });
    }
    return plotlyLoading;
  }

  // --- figure data -------------------------------------------------------------------------
  // The figure JSON is the chart's sibling <script type="application/json">[figure]</script>.
  // It is found by position: instant navigation re-inserts scripts without attributes.
  function figureOf(el) {
    if (el._rfzFigure) return el._rfzFigure;
    var script = el.parentElement && el.parentElement.querySelector(":scope > script");
    if (!script) return null;
    el._rfzFigure = JSON.parse(script.textContent)[0];
    return el._rfzFigure;
  }

  function decodeHeatmap(trace) {
    // ERF heat maps travel as base64 uint8 (3x smaller than JSON numbers)
    var spec = trace.rfzB64;
    var out = Object.assign({}, trace);
    delete out.rfzB64;
    if (!spec) return out;
    var raw = atob(spec.data), h = spec.shape[0], w = spec.shape[1], z = [];
    for (var i = 0; i < h; i++) {
      var row = new Array(w);
      for (var k = 0; k < w; k++) row[k] = raw.charCodeAt(i * w + k);
      z.push(row);
    }
    out.z = z;
    return out;
  }

  // --- theme -------------------------------------------------------------------------------
  function cssVar(name, fallback) {
    var v = getComputedStyle(document.body).getPropertyValue(name).trim();
    return v || fallback;
  }

  function themed(layout, el) {
    var fg = cssVar("--md-default-fg-color", "#333");
    var grid = cssVar("--md-default-fg-color--lightest", "#ddd");
    var out = JSON.parse(JSON.stringify(layout || {}));
    out.paper_bgcolor = "rgba(0,0,0,0)";
    out.plot_bgcolor = "rgba(0,0,0,0)";
    out.font = Object.assign({ color: fg, size: 12, family: cssVar("--md-text-font-family", "") || undefined }, out.font || {});
    out.autosize = true;
    ["xaxis", "yaxis"].forEach(function (ax) {
      if (!out[ax]) out[ax] = {};
      out[ax].gridcolor = grid;
      out[ax].linecolor = grid;
      out[ax].zerolinecolor = grid;
    });
    (out.sliders || []).forEach(function (s) {
      // many steps: their labels would overlap, the current value says which one is picked
      s.font = { color: s.steps.length > 16 ? "rgba(0,0,0,0)" : fg };
      s.bgcolor = grid;
      s.currentvalue = Object.assign({}, s.currentvalue, { font: Object.assign({}, (s.currentvalue || {}).font, { color: fg }) });
    });
    (out.annotations || []).forEach(function (a) {
      if (a.bgcolor) a.bgcolor = cssVar("--md-default-bg-color", "#fff");
    });
    out.hoverlabel = { namelength: -1 };
    if (el.clientWidth && el.clientWidth < 560) {
      // phones: less margin, legend below the plot
      out.margin = Object.assign({}, out.margin, { l: Math.min((out.margin || {}).l || 40, 44), r: 6 });
      if (out.legend && out.legend.orientation === "v") out.legend = { orientation: "h", x: 0, y: -0.25, yanchor: "top" };
    }
    return out;
  }

  var PLOT_CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  function draw(Plotly, el) {
    var fig = figureOf(el);
    if (!fig) return Promise.resolve();
    var data = (fig.data || []).map(decodeHeatmap);
    return Plotly.react(el, data, themed(fig.layout, el), PLOT_CONFIG).then(function () {
      el.setAttribute("data-rfz-rendered", scheme());
      if (fig.layout && fig.layout.sliders && !el._rfzClick) clickToStep(Plotly, el);
    });
  }

  // guide figures: clicking a cell of a feature map picks the slider step of that unit,
  // whose value is "trace:row:col"
  function clickToStep(Plotly, el) {
    el._rfzClick = true;
    el.on("plotly_click", function (ev) {
      var pt = ev.points && ev.points[0];
      if (!pt || !Array.isArray(pt.pointNumber)) return;
      var key = pt.curveNumber + ":" + pt.pointNumber[0] + ":" + pt.pointNumber[1];
      var steps = el.layout.sliders[0].steps;
      for (var i = 0; i < steps.length; i++) {
        if (steps[i].value === key) {
          var update = Object.assign({ "sliders[0].active": i }, steps[i].args[0]);
          Plotly.relayout(el, update);
          return;
        }
      }
    });
  }

  function scheme() {
    return document.body.getAttribute("data-md-color-scheme") || "default";
  }

  function renderCharts(root) {
    var charts = Array.prototype.slice.call(root.querySelectorAll(".rfz-chart:not(.rfz-compare-chart)"));
    if (!charts.length) return Promise.resolve();
    return loadPlotly().then(function (Plotly) {
      return Promise.all(charts.map(function (el) { return draw(Plotly, el); }));
    }).catch(function (err) { console.warn("rfzoo: charts not drawn:", err.message); });
  }

  // re-render every chart when the reader switches dark/light mode
  new MutationObserver(function () {
    if (!window.Plotly) return;
    document.querySelectorAll(".rfz-chart").forEach(function (el) {
      if (el._rfzCompare) el._rfzCompare();
      else if (figureOf(el)) draw(window.Plotly, el);
    });
  }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });

  // --- tables: sort by header click, filter by text and selects ----------------------------
  function cellKey(td) {
    var raw = td.hasAttribute("data-sort") ? td.getAttribute("data-sort") : td.textContent.trim();
    var num = parseFloat(raw);
    return { empty: raw === "" || raw === "—", num: isNaN(num) || !/^-?[\d.]/.test(raw) ? null : num, text: raw.toLowerCase() };
  }

  function sortTable(table, col, th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (tr, i) {
      return { tr: tr, i: i, key: cellKey(tr.cells[col]) };
    });
    rows.sort(function (a, b) {
      if (a.key.empty !== b.key.empty) return a.key.empty ? 1 : -1; // empties last, both ways
      var c = 0;
      if (a.key.num !== null && b.key.num !== null) c = a.key.num - b.key.num;
      else c = a.key.text < b.key.text ? -1 : a.key.text > b.key.text ? 1 : 0;
      return c * dir || a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) { frag.appendChild(r.tr); });
    body.appendChild(frag);
  }

  function setupSortable(table) {
    if (table._rfzSortable) return;
    table._rfzSortable = true;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.classList.add("rfz-sortable");
      th.title = "Sort by " + th.textContent;
      th.addEventListener("click", function () { sortTable(table, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, col, th); }
      });
    });
  }

  function setupFilter(box, table) {
    if (box._rfzFilter) return;
    box._rfzFilter = true;
    var text = box.querySelector(".rfz-filter");
    var selects = box.querySelectorAll(".rfz-filter-select");
    var count = box.querySelector(".rfz-count");
    function apply() {
      var q = (text ? text.value : "").trim().toLowerCase();
      var shown = 0, rows = table.tBodies[0].rows;
      for (var i = 0; i < rows.length; i++) {
        var tr = rows[i], ok = !q || tr.textContent.toLowerCase().indexOf(q) >= 0;
        selects.forEach(function (s) {
          if (ok && s.value && tr.getAttribute("data-" + s.getAttribute("data-col")) !== s.value) ok = false;
        });
        tr.hidden = !ok;
        if (ok) shown++;
      }
      if (count) count.textContent = shown + " of " + rows.length + " shown";
    }
    if (text) text.addEventListener("input", apply);
    selects.forEach(function (s) { s.addEventListener("change", apply); });
    apply();
  }

  function setupTables(root) {
    root.querySelectorAll("table[data-rfz-sortable]").forEach(setupSortable);
    root.querySelectorAll(".rfz-filters").forEach(function (box) {
      var table = document.getElementById(box.getAttribute("data-table"));
      if (table) setupFilter(box, table);
    });
    root.querySelectorAll("details.rfz-layers").forEach(function (d) {
      var table = d.querySelector("table");
      if (table) setupFilter(d, table);
    });
  }

  // --- compare page ------------------------------------------------------------------------
  var PALETTE = ["#3f51b5", "#e91e63", "#009688", "#ff9800", "#9c27b0", "#795548", "#00bcd4",
    "#8bc34a", "#607d8b", "#f44336"];
  var curveCache = {};

  function setupCompare(root) {
    var box = root.querySelector(".rfz-compare");
    if (!box || box._rfzCompare) return;
    box._rfzCompare = true;
    var config = JSON.parse(box.querySelector(":scope > script").textContent)[0];
    var byName = {};
    config.models.forEach(function (m) { byName[m[0]] = m; });
    var input = box.querySelector(".rfz-compare-input");
    var chips = box.querySelector(".rfz-compare-chips");
    var norm = box.querySelector(".rfz-compare-normalize");
    var chart = box.querySelector(".rfz-compare-chart");
    var selected = fromHash().filter(function (n) { return byName[n]; });
    if (!selected.length) selected = config.default.slice();

    function fromHash() {
      var h = decodeURIComponent(location.hash.replace(/^#/, ""));
      return h ? h.split(",") : [];
    }
    function resolveName(q) {
      q = q.trim();
      if (byName[q]) return q;
      var hits = config.models.filter(function (m) { return m[0].split("/")[1] === q; });
      return hits.length ? hits[0][0] : null;
    }
    function fetchCurve(name) {
      if (!curveCache[name]) {
        curveCache[name] = fetch(new URL(byName[name][2], location.href)).then(function (r) {
          if (!r.ok) throw new Error("no data for " + name);
          return r.json();
        });
      }
      return curveCache[name];
    }
    function update() {
      history.replaceState(history.state, "", "#" + selected.join(","));
      chips.innerHTML = "";
      selected.forEach(function (name, i) {
        var li = document.createElement("li");
        li.style.borderColor = PALETTE[i % PALETTE.length];
        li.textContent = name + " ";
        var rm = document.createElement("button");
        rm.type = "button";
        rm.textContent = "×";
        rm.title = "Remove " + name;
        rm.addEventListener("click", function () { selected.splice(selected.indexOf(name), 1); update(); });
        li.appendChild(rm);
        chips.appendChild(li);
      });
      Promise.all([loadPlotly()].concat(selected.map(fetchCurve))).then(function (res) {
        var Plotly = res[0], curves = res.slice(1);
        var data = curves.map(function (c, i) {
          var x = norm.checked ? c.x.map(function (v) { return +(v / Math.max(c.depth - 1, 1)).toFixed(4); }) : c.x;
          return { type: "scatter", mode: "lines+markers", name: c.model, x: x, y: c.y, text: c.text,
            line: { shape: "hv", width: 2, color: PALETTE[i % PALETTE.length] }, marker: { size: 4 },
            hovertemplate: "%{text}<br>RF %{y}<extra>" + c.model + "</extra>" };
        });
        var layout = { margin: { l: 60, r: 16, t: 16, b: 48 }, yaxis: { type: "log", dtick: 1, title: { text: "RF, first axis (px, log scale)" } },
          xaxis: { title: { text: norm.checked ? "depth / network depth" : "depth (node index in graph order)" } },
          legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom" }, hovermode: "closest" };
        return Plotly.react(chart, data, themed(layout, chart), PLOT_CONFIG);
      }).then(function () {
        chart.setAttribute("data-rfz-rendered", scheme());
      }).catch(function (err) { console.warn("rfzoo compare:", err.message); });
    }
    function add() {
      var name = resolveName(input.value);
      if (name && selected.indexOf(name) < 0) selected.push(name);
      input.value = "";
      update();
    }
    box.querySelector(".rfz-compare-add").addEventListener("click", add);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") add(); });
    input.addEventListener("change", function () { if (resolveName(input.value)) add(); });
    norm.addEventListener("change", update);
    chart._rfzCompare = update;
    update();
  }

  // --- every page view ---------------------------------------------------------------------
  function onPage() {
    var root = document.querySelector("[data-md-component=content]") || document;
    setupTables(root);
    setupCompare(root);
    renderCharts(root);
  }

  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(onPage);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onPage);
  } else {
    onPage();
  }
})();
