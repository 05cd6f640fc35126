// rfzoo model pages: fetch the page's data (<stem>.page.json.gz, next to the page), draw its
// charts and its per-layer table, and keep layer anchors (#layer.name) working although the
// table arrives after the page. Runs on every page view through mkdocs-material's `document$`
// (hard loads and instant navigation alike); does nothing on pages without `.rfz-model`.
(function () {
  "use strict";

  var shared = window.rfzoo; // rfzoo.js
  var loadPlotly = shared.loadPlotly, fetchData = shared.pageData;
  var decodeHeatmap = shared.decodeHeatmap, cssVar = shared.cssVar;
  var view = null; // the model page on screen: {root, data, rows, filter}


  // --- values -------------------------------------------------------------------------------
  var DASH = "—";
  function num(v) { return v === null || v === undefined ? DASH : String(v); }
  function axes(v) {
    if (!v || !v.length || v.every(function (x) { return x === null; })) return DASH;
    return v.map(num).join("×");
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function sortValue(v) {
    if (Array.isArray(v)) v = v.length ? v[v.length - 1] : null;
    return v === null || v === undefined ? null : v;
  }

  // --- the per-layer table ------------------------------------------------------------------
  var COLUMNS = [
    ["#", function (L, i) { return i; }],
    ["node", function (L, i) { return L.name[i]; }],
    ["op", function (L, i) { return L.op[i]; }],
    ["kind", function (L, i) { return L.kind[i]; }],
    ["output", "output_size"], ["RF", "rf"], ["smallest-path RF", "rf_min"], ["jump", "jump"],
    ["center", "center"], ["eff. padding", "effective_padding"], ["border units", "border_units"],
    ["checked", function (L, i) { return L.check[i]; }],
    ["flags", function (L, i) { return L.flags[i]; }]
  ];
  var CHECK = { 1: '<span class="rfz-ok" title="gradient support equals the analytic box">✓</span>',
    0: '<span class="rfz-bad" title="gradient support differs from the analytic box">✗</span>' };

  function flagText(bits) {
    var out = [];
    if (bits & 1) out.push('<span class="rfz-flag-global" title="a global op lies on a path into this node">sees whole input</span>');
    if (bits & 2) out.push('<span class="rfz-bad">misaligned</span>');
    if (bits & 4) out.push("position-dependent");
    if (bits & 8) out.push("stage end");
    return out.join(" ");
  }

  function rowHtml(data, i) {
    var L = data.layers, name = L.name[i], ge = data.lower_bound ? "≥ " : "";
    var rf = axes(L.rf[i]), rfmin = axes(L.rf_min[i]);
    var cells = [
      '<a class="rfz-row-link" href="#' + esc(encodeURIComponent(name)) + '" title="Link to this layer">' + i + "</a>",
      "<code>" + esc(name).replace(/\./g, ".<wbr>") + "</code>", esc(L.op[i]), esc(L.kind[i]), axes(L.output_size[i]),
      rf === DASH ? rf : ge + rf, rfmin, axes(L.jump[i]), axes(L.center[i]),
      axes(L.effective_padding[i]), axes(L.border_units[i]),
      L.check[i] === null ? "" : CHECK[L.check[i]], flagText(L.flags[i])
    ];
    return '<tr id="' + esc(name) + '">' + cells.map(function (c) { return "<td>" + c + "</td>"; }).join("") + "</tr>";
  }

  function renderTable(root, data) {
    var box = root.querySelector(".rfz-layers-table");
    if (!box) return null;
    var L = data.layers, n = L.name.length;
    var head = COLUMNS.map(function (c, k) {
      var label = c[0];
      if (data.axes.length === 3 && (label === "RF" || label === "output")) label += " (T×H×W)";
      if (data.lower_bound && label === "RF") label += " (lower bound)";
      return '<th tabindex="0" class="rfz-sortable" data-col="' + k + '" title="Sort by ' + esc(c[0]) + '">' + esc(label) + "</th>";
    }).join("");
    var body = [];
    for (var i = 0; i < n; i++) body.push(rowHtml(data, i));
    box.innerHTML = '<table class="rfz-layer-table"><thead><tr>' + head + "</tr></thead><tbody>" + body.join("") + "</tbody></table>";
    var table = box.querySelector("table");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    table.querySelectorAll("th").forEach(function (th) {
      var sort = function () { sortBy(table, rows, data, +th.getAttribute("data-col"), th); };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
    var filter = root.querySelector(".rfz-layers-filter");
    var count = root.querySelector(".rfz-layers-count");
    function apply() {
      var q = (filter && filter.value || "").trim().toLowerCase(), shown = 0;
      rows.forEach(function (tr, i) {
        var ok = !q || (L.name[i] + " " + L.op[i] + " " + L.kind[i]).toLowerCase().indexOf(q) >= 0;
        tr.hidden = !ok;
        if (ok) shown++;
      });
      if (count) count.textContent = shown + " of " + n + " shown";
    }
    if (filter) filter.addEventListener("input", apply);
    apply();
    var csv = root.querySelector(".rfz-layers-csv");
    if (csv) csv.addEventListener("click", function () { downloadCsv(data); });
    return { rows: rows, filter: filter, apply: apply };
  }

  function sortBy(table, rows, data, col, th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    var get = COLUMNS[col][1], L = data.layers;
    var key = typeof get === "function" ? function (i) { return get(L, i); } : function (i) { return sortValue(L[get][i]); };
    var order = rows.map(function (tr, i) { return i; });
    order.sort(function (a, b) {
      var x = key(a), y = key(b);
      if ((x === null) !== (y === null)) return x === null ? 1 : -1; // empties last, both ways
      var c = 0;
      if (typeof x === "number" && typeof y === "number") c = x - y;
      else if (x !== null) c = String(x) < String(y) ? -1 : String(x) > String(y) ? 1 : 0;
      return c * dir || a - b;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (i) { frag.appendChild(rows[i]); });
    table.tBodies[0].appendChild(frag);
  }

  function csvCell(v) {
    if (v === null || v === undefined) return "";
    if (Array.isArray(v)) return v.map(function (x) { return x === null ? "" : x; }).join("x");
    var s = String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function downloadCsv(data) {
    var L = data.layers, keys = ["name", "op", "kind", "output_size", "rf", "rf_min", "jump", "center",
      "effective_padding", "border_units"];
    var lines = [keys.concat(["global", "aligned", "position_dependent", "checked"]).join(",")];
    for (var i = 0; i < L.name.length; i++) {
      var f = L.flags[i];
      lines.push(keys.map(function (k) { return csvCell(L[k][i]); }).concat([
        f & 1 ? "true" : "false", f & 2 ? "false" : "true", f & 4 ? "true" : "false",
        L.check[i] === null ? "" : L.check[i] ? "agrees" : "differs"]).join(","));
    }
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    a.download = data.model.replace(/[^A-Za-z0-9._-]+/g, "_") + "_layers.csv";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
  }

  // --- anchors: #layer.name scrolls to and highlights its row, once the table exists ---------
  var pending = null; // a clicked #anchor {path, hash}: material may swap the page in again and
  // its tracking rewrites the hash to the nearest heading
  function wantedHash() {
    return pending && pending.path === location.pathname ? pending.hash : location.hash;
  }
  function showTarget() {
    if (!view || !view.table) return;
    var id = decodeURIComponent(wantedHash().replace(/^#/, ""));
    var old = view.root.querySelector("tr.rfz-target");
    if (!id) return;
    var row = document.getElementById(id);
    if (!row || row.tagName !== "TR" || !view.root.contains(row)) return;
    if (old && old !== row) old.classList.remove("rfz-target");
    if (row.hidden && view.table.filter) { view.table.filter.value = ""; view.table.apply(); }
    row.classList.add("rfz-target");
    row.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", function () { pending = null; showTarget(); });
  window.addEventListener("popstate", function () { setTimeout(showTarget, 0); });
  // material's instant navigation takes a same-page anchor click itself: it pushes the URL (no
  // hashchange), swaps the page in again and its tracking rewrites the hash to the nearest
  // heading. The clicked anchor is kept until the (re-)rendered table shows it.
  document.addEventListener("click", function (ev) {
    var a = ev.target instanceof Element ? ev.target.closest("a[href*='#']") : null;
    if (!a || !view) return;
    var url = new URL(a.href, location.href);
    if (url.pathname !== location.pathname || !url.hash) return;
    var row = document.getElementById(decodeURIComponent(url.hash.slice(1)));
    if (!row || row.tagName !== "TR") return;
    pending = { path: location.pathname, hash: url.hash };
    setTimeout(showTarget, 0);
  }, true);

  // --- charts -------------------------------------------------------------------------------
  var scheme = shared.scheme, recolor = shared.recolor, themed = shared.modelLayout;
  function drawCharts(root, data) {
    var els = Array.prototype.slice.call(root.querySelectorAll(".rfz-mchart"));
    if (!els.length) return Promise.resolve();
    return loadPlotly().then(function (Plotly) {
      var sch = scheme(), map = sch === "slate" ? data.colors || {} : {};
      return Promise.all(els.map(function (el) {
        var fig = data.charts[el.getAttribute("data-rfz-chart")];
        if (!fig) return null;
        fig = recolor(fig, map);
        return Plotly.react(el, fig.data.map(decodeHeatmap), themed(fig.layout, el), shared.modelChartConfig(el)).then(function () {
          el.setAttribute("data-rfz-rendered", sch);
        });
      }));
    }).catch(function (err) { console.warn("rfzoo: charts not drawn:", err.message); });
  }

  new MutationObserver(function () {
    if (view && view.data && window.Plotly) drawCharts(view.root, view.data);
  }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });

  // --- every page view ----------------------------------------------------------------------
  function onPage() {
    var marker = document.querySelector(".rfz-model[data-rfz-data]");
    if (!marker) { view = null; return; }
    var root = document.querySelector("[data-md-component=content]") || document.body;
    var url = new URL(marker.getAttribute("data-rfz-data"), location.href).href;
    if (!pending || pending.path !== location.pathname) {
      // the hash as the page opened: the theme's tracking may rewrite it before the table is here
      pending = location.hash ? { path: location.pathname, hash: location.hash } : null;
    }
    var here = { root: root, data: null, table: null };
    view = here;
    fetchData(url).then(function (data) {
      if (view !== here) return; // the reader moved on
      here.data = data;
      here.table = renderTable(root, data);
      root.setAttribute("data-rfz-layers", "ready");
      showTarget();
      return drawCharts(root, data);
    }).catch(function (err) {
      var box = root.querySelector(".rfz-layers-table");
      if (box) box.textContent = "The per-layer table could not be loaded (" + err.message + "); the full record below holds the same numbers.";
      console.warn("rfzoo:", err.message);
    });
  }

  window.rfzoo.onEveryPage(onPage);
})();
