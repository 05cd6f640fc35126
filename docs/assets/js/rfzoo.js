// rfzoo site behaviour: charts (plotly, loaded on demand), sortable and filterable tables whose
// state is kept in the address, family charts, the compare page, instant navigation on any host. Runs on every page view: on hard load and after mkdocs-material's
// instant navigation, through material's `document$` observable.
(function () {
  "use strict";

  var PLOTLY_FILE = "../vendor/plotly/plotly-cartesian-4.1.1.min.js";
  // this script's own URL locates the vendored plotly.js wherever the site is hosted
  var PLOTLY_URL = new URL(PLOTLY_FILE, document.currentScript.src).href;
  var plotlyLoading = null;

  function loadPlotly() {
    if (window.Plotly) {
      keepPlotlyCss(); // put plotly's stylesheet back if a navigation took it (see below)
      return Promise.resolve(window.Plotly);
    }
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

  // plotly.js puts its stylesheet (<style id="plotly.js-style-global">, which positions the
  // plot's layers and its toolbar) in <head> once, when it loads, with rules inserted through
  // the CSSOM (not in the element's text). Material's instant navigation removes every <head>
  // element the next page's HTML lacks, so after one navigation the maps were drawn without
  // it: colour bar, axis titles, RF box and legend pushed out of the frame, the toolbar
  // unstyled. The rules are copied while the sheet is there and put back as text when it is
  // gone; the sheet is page-wide, so every chart on the page benefits.
  var PLOTLY_CSS = "plotly.js-style-global", plotlyCssText = "";
  function keepPlotlyCss() {
    var el = document.getElementById(PLOTLY_CSS);
    if (el && el.sheet && el.sheet.cssRules.length) {
      plotlyCssText = Array.prototype.map.call(el.sheet.cssRules, function (r) { return r.cssText; }).join("\n");
    } else if (!el && plotlyCssText) {
      el = document.createElement("style");
      el.id = PLOTLY_CSS;
      el.textContent = plotlyCssText;
      document.head.appendChild(el);
    }
  }
  new MutationObserver(keepPlotlyCss).observe(document.head, { childList: true });

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

  // Model pages' charts. A heat map's y axis runs down (image rows) through a range set by
  // hand: plotly's autoscale (its double-click and toolbar button) would turn it upside down,
  // so double-click returns to the initial view and the autoscale button is left out. Phones
  // get no toolbar over the legend (pinch and tap still zoom and hover).
  function modelChartConfig(el) {
    var small = el.clientWidth && el.clientWidth < 560;
    return { responsive: true, displaylogo: false, displayModeBar: small ? false : "hover",
      doubleClick: "reset", modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"] };
  }

  function draw(Plotly, el) {
    var fig = figureOf(el);
    if (!fig) return Promise.resolve();
    if (fig.curves) fig = familyFigure(el, fig);
    var data = (fig.data || []).map(decodeHeatmap);
    return Plotly.react(el, data, themed(fig.layout, el), PLOT_CONFIG).then(function () {
      el.setAttribute("data-rfz-rendered", scheme());
      if (fig.layout && fig.layout.sliders && !el._rfzClick) clickToStep(Plotly, el);
      if (el._rfzHrefs && !el._rfzClick) {
        el._rfzClick = true;
        el.on("plotly_click", function (ev) {
          var pt = ev.points && ev.points[0];
          if (pt && el._rfzHrefs[pt.curveNumber]) follow(new URL(el._rfzHrefs[pt.curveNumber], location.href).href);
        });
      }
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

  // the dark scheme swaps a figure's light colours for the page data's `colors` map
  function recolor(value, map) {
    if (typeof value === "string") return map[value] || value;
    if (Array.isArray(value)) return value.map(function (v) { return recolor(v, map); });
    if (value && typeof value === "object") {
      var out = {};
      Object.keys(value).forEach(function (k) { out[k] = recolor(value[k], map); });
      return out;
    }
    return value;
  }

  // a model page's chart layout in the current scheme (narrow screens: slimmer margins)
  function modelLayout(layout, el) {
    var fg = cssVar("--md-default-fg-color", "#333"), grid = cssVar("--md-default-fg-color--lightest", "#ddd");
    var out = JSON.parse(JSON.stringify(layout || {}));
    out.paper_bgcolor = "rgba(0,0,0,0)";
    out.plot_bgcolor = "rgba(0,0,0,0)";
    out.font = Object.assign({ color: fg, size: 12 }, out.font || {});
    out.autosize = true;
    ["xaxis", "yaxis"].forEach(function (ax) {
      out[ax] = Object.assign({}, out[ax], { gridcolor: grid, linecolor: grid, zerolinecolor: grid });
    });
    out.hoverlabel = { namelength: -1 };
    if (el && el.clientWidth && el.clientWidth < 560) {
      out.margin = Object.assign({}, out.margin, { l: Math.min((out.margin || {}).l || 40, 44), r: 6 });
    }
    return out;
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

  // --- tables: sort by header click, filter by text and selects, state in the address -------
  // The catalog has 1,500 rows: keys are read once per column, rows are moved in one fragment,
  // and nothing touches the DOM when no filter is set.
  var STATE_KEYS = ["q", "source", "status", "task", "verified", "sort", "dir"];

  function cellKey(td) {
    var raw = td.hasAttribute("data-sort") ? td.getAttribute("data-sort") : td.textContent.trim();
    var num = parseFloat(raw);
    return { empty: raw === "" || raw === "—", num: isNaN(num) || !/^-?[\d.]/.test(raw) ? null : num, text: raw.toLowerCase() };
  }

  // A table's rows live in table._rfz: all rows (in the page's order), the current order and the
  // rows that pass the filter. Only `limit` of those are in the DOM: a lazy table (its rows in a
  // <template>, the catalog) draws WINDOW rows and more as the reader scrolls near the end.
  var WINDOW = 150;

  function tableState(table) {
    if (!table._rfz) {
      var tpl = document.getElementById(table.id + "-rows");
      var trs = Array.prototype.slice.call(tpl ? tpl.content.querySelectorAll("tr") : table.tBodies[0].rows);
      var rows = trs.map(function (tr, i) { return { tr: tr, i: i, keys: {} }; });
      table._rfz = { rows: rows, order: rows, visible: rows, lazy: !!tpl, limit: tpl ? WINDOW : Infinity,
        sort: null, dir: 1, more: table.parentElement.querySelector(".rfz-more") };
    }
    return table._rfz;
  }

  // put the first `limit` visible rows in the DOM (append only the new ones when growing)
  function drawRows(table, grow) {
    var st = tableState(table), body = table.tBodies[0];
    var upto = Math.min(st.limit, st.visible.length);
    var frag = document.createDocumentFragment();
    var from = grow ? body.rows.length : 0;
    for (var i = from; i < upto; i++) frag.appendChild(st.visible[i].tr);
    if (!grow) body.textContent = "";
    body.appendChild(frag);
    if (st.more) {
      var left = st.visible.length - upto;
      st.more.hidden = left <= 0;
      st.more.textContent = "Show " + Math.min(left, WINDOW * 2) + " more (" + left + " not drawn yet)";
    }
  }

  function setupMore(table) {
    var st = tableState(table);
    if (!st.more || st.more._rfz) return;
    st.more._rfz = true;
    function grow() {
      if (st.limit >= st.visible.length) return;
      st.limit += WINDOW * 2;
      drawRows(table, true);
    }
    st.more.addEventListener("click", grow);
    if (window.IntersectionObserver) { // scrolling near the end draws the next rows
      new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) grow();
      }, { rootMargin: "1200px 0px" }).observe(st.more);
    }
  }

  function headers(table) { return Array.prototype.slice.call(table.tHead.rows[0].cells); }

  function sortTable(table, col, dir) {
    var st = tableState(table);
    var ths = headers(table);
    ths.forEach(function (h) { h.removeAttribute("aria-sort"); });
    if (col >= 0) ths[col].setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    st.sort = col >= 0 ? col : null;
    st.dir = dir;
    var rows = st.rows.slice();
    if (col >= 0) {
      rows.forEach(function (r) { if (!(col in r.keys)) r.keys[col] = cellKey(r.tr.cells[col]); });
      rows.sort(function (a, b) {
        var ka = a.keys[col], kb = b.keys[col];
        if (ka.empty !== kb.empty) return ka.empty ? 1 : -1; // empties last, both ways
        var c = 0;
        if (ka.num !== null && kb.num !== null) c = ka.num - kb.num;
        else c = ka.text < kb.text ? -1 : ka.text > kb.text ? 1 : 0;
        return c * dir || a.i - b.i;
      });
    }
    st.order = rows;
    refilter(table);
  }

  // the visible rows: the current order through the table's filter (table._rfzMatch)
  function refilter(table) {
    var st = tableState(table);
    var match = table._rfzMatch;
    st.visible = match ? st.order.filter(match) : st.order;
    if (st.lazy) st.limit = WINDOW;
    drawRows(table, false);
    if (table._rfzCount) table._rfzCount(st.visible.length, st.rows.length);
  }

  function readState() {
    var p = new URLSearchParams(location.search), out = {};
    STATE_KEYS.forEach(function (k) { out[k] = p.get(k) || ""; });
    return out;
  }

  function writeState(update) {
    var p = new URLSearchParams(location.search);
    Object.keys(update).forEach(function (k) {
      if (update[k]) p.set(k, update[k]); else p.delete(k);
    });
    var q = p.toString();
    var url = location.pathname + (q ? "?" + q : "") + location.hash;
    if (url !== location.pathname + location.search + location.hash) history.replaceState(history.state, "", url);
  }

  function setupSortable(table, keepState) {
    if (table._rfzSortable) return;
    table._rfzSortable = true;
    var ths = headers(table);
    if (tableState(table).lazy) { drawRows(table, false); setupMore(table); }
    function byHeader(col) {
      var st = tableState(table);
      var dir = st.sort === col ? -st.dir : 1;
      sortTable(table, col, dir);
      if (keepState) writeState({ sort: ths[col].getAttribute("data-key") || String(col), dir: dir === 1 ? "asc" : "desc" });
    }
    ths.forEach(function (th, col) {
      th.tabIndex = 0;
      th.classList.add("rfz-sortable");
      if (!th.title) th.title = "Sort by " + th.textContent;
      th.addEventListener("click", function () { byHeader(col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); byHeader(col); }
      });
    });
    if (keepState) {
      var s = readState();
      var col = -1;
      ths.forEach(function (th, i) { if (s.sort && th.getAttribute("data-key") === s.sort) col = i; });
      if (col >= 0) sortTable(table, col, s.dir === "desc" ? -1 : 1);
    }
  }

  function setupFilter(box, table, keepState) {
    if (box._rfzFilter) return;
    box._rfzFilter = true;
    var text = box.querySelector(".rfz-filter");
    var selects = Array.prototype.slice.call(box.querySelectorAll(".rfz-filter-select"));
    var count = box.querySelector(".rfz-count");
    if (text) text.setAttribute("autocomplete", "off"); // the address, not the browser, restores it
    table._rfzCount = function (shown, total) {
      if (count) count.textContent = shown + " of " + total + " shown";
    };
    function matcher() {
      var q = (text ? text.value : "").trim().toLowerCase();
      var attrs = selects.filter(function (s) { return s.value; })
        .map(function (s) { return ["data-" + s.getAttribute("data-col"), s.value]; });
      if (!q && !attrs.length) return null;
      return function (r) {
        if (q) {
          if (r.text === undefined) { // name, source, family and task, read once
            var c = r.tr.cells, t = "";
            for (var k = 0; k < Math.min(4, c.length); k++) t += c[k].textContent + " ";
            r.text = (t + (r.tr.getAttribute("data-family") || "")).toLowerCase();
          }
          if (r.text.indexOf(q) < 0) return false;
        }
        for (var a = 0; a < attrs.length; a++) if (r.tr.getAttribute(attrs[a][0]) !== attrs[a][1]) return false;
        return true;
      };
    }
    function apply() {
      table._rfzMatch = matcher();
      refilter(table);
    }
    function changed() {
      apply();
      if (!keepState) return;
      var update = { q: text ? text.value.trim() : "" };
      selects.forEach(function (s) { update[s.getAttribute("data-col")] = s.value; });
      writeState(update);
    }
    if (keepState) {
      var s = readState();
      if (text) text.value = s.q;
      selects.forEach(function (sel) {
        var v = s[sel.getAttribute("data-col")] || "";
        sel.value = Array.prototype.some.call(sel.options, function (o) { return o.value === v; }) ? v : "";
      });
    }
    if (text) text.addEventListener("input", changed);
    selects.forEach(function (s) { s.addEventListener("change", changed); });
    if (keepState || (text && text.value) || selects.some(function (s) { return s.value; })) apply();
    else table._rfzCount(tableState(table).visible.length, tableState(table).rows.length);
  }

  function setupTables(root) {
    // the first sortable table of a page keeps its order and filter in the address
    var tables = root.querySelectorAll("table[data-rfz-sortable]");
    tables.forEach(function (t, i) { setupSortable(t, i === 0); });
    root.querySelectorAll(".rfz-filters").forEach(function (box) {
      var table = document.getElementById(box.getAttribute("data-table"));
      if (table) setupFilter(box, table, table === tables[0]);
    });
    root.querySelectorAll("details.rfz-layers").forEach(function (d) {
      var table = d.querySelector("table");
      if (table) setupFilter(d, table, false);
    });
  }

  // --- RF-against-depth curves: family charts (embedded) and the compare page (fetched) ------
  var PALETTE = ["#3f51b5", "#e91e63", "#009688", "#ff9800", "#9c27b0", "#795548", "#00bcd4",
    "#8bc34a", "#607d8b", "#f44336"];
  var curveCache = {};

  // curves: [{model, depth, x, y, text?}]; hrefs (optional): a page per curve, opened on click
  function curvesFigure(curves, normalize) {
    var many = curves.length > 12;
    var data = curves.map(function (c, i) {
      var x = normalize ? c.x.map(function (v) { return +(v / Math.max(c.depth - 1, 1)).toFixed(4); }) : c.x;
      return { type: "scatter", mode: many ? "lines" : "lines+markers", name: c.model, x: x, y: c.y, text: c.text,
        line: { shape: "hv", width: many ? 1.5 : 2, color: PALETTE[i % PALETTE.length] }, marker: { size: 4 },
        hovertemplate: (c.text ? "%{text}<br>" : "depth %{x}<br>") + "RF %{y}<extra>" + c.model + "</extra>" };
    });
    var layout = { margin: { l: 60, r: 16, t: 16, b: 48 }, yaxis: { type: "log", dtick: 1, title: { text: "RF, first spatial axis (px, log scale)" } },
      xaxis: { title: { text: normalize ? "depth / network depth" : "depth (node index in graph order)" } },
      showlegend: !many, legend: { orientation: "h", x: 0, y: 1.0, yanchor: "bottom" }, hovermode: "closest" };
    return { data: data, layout: layout };
  }

  function familyFigure(el, spec) {
    var curves = spec.curves.map(function (c) { return { model: c[0], depth: c[1], x: c[2], y: c[3] }; });
    el._rfzHrefs = spec.curves.map(function (c) { return c[4]; });
    return curvesFigure(curves, false);
  }

  // open a page the way a click on a link does (instant navigation when it applies)
  function follow(href) {
    var a = document.createElement("a");
    a.href = href;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function setupCompare(root) {
    var box = root.querySelector(".rfz-compare");
    if (!box || box._rfzCompare) return;
    box._rfzCompare = true;
    var config = JSON.parse(box.querySelector(":scope > script").textContent)[0];
    var known = {}, bare = {};
    config.models.forEach(function (m) {
      known[m.toLowerCase()] = m;
      var b = m.slice(m.indexOf("/") + 1).toLowerCase();
      if (!(b in bare) || m.indexOf("torchvision/") === 0) bare[b] = m; // a bare name: torchvision's first
    });
    var input = box.querySelector(".rfz-compare-input");
    var chips = box.querySelector(".rfz-compare-chips");
    var norm = box.querySelector(".rfz-compare-normalize");
    var chart = box.querySelector(".rfz-compare-chart");
    var error = box.querySelector(".rfz-compare-error");
    var options = box.querySelector("datalist");
    var unknown = [];
    var selected = [];
    fromHash().forEach(function (n) {
      var m = resolveName(n);
      if (m) { if (selected.indexOf(m) < 0) selected.push(m); } else if (n) unknown.push(n);
    });
    if (!selected.length && !unknown.length) selected = config["default"].slice();

    function fromHash() {
      var h = location.hash.replace(/^#/, "");
      try { h = decodeURIComponent(h); } catch (e) { /* keep it raw */ }
      return h ? h.split(",").map(function (s) { return s.trim(); }) : [];
    }
    function resolveName(q) {
      q = q.trim().toLowerCase();
      return known[q] || bare[q] || null;
    }
    function curveUrl(name) {
      return new URL(config.paths[name] || "curves/" + name + ".json", location.href);
    }
    function fetchCurve(name) {
      if (!curveCache[name]) {
        curveCache[name] = fetch(curveUrl(name)).then(function (r) {
          if (!r.ok) throw new Error("no data for " + name);
          return r.json();
        });
        curveCache[name].catch(function () { delete curveCache[name]; });
      }
      return curveCache[name];
    }
    function showErrors() {
      error.hidden = !unknown.length;
      error.textContent = unknown.map(function (n) { return "unknown model: " + n; }).join("; ");
    }
    function update() {
      var hash = "#" + selected.concat(unknown).join(",");
      if (hash !== location.hash) history.replaceState(history.state, "", location.pathname + location.search + hash);
      showErrors();
      chips.innerHTML = "";
      selected.forEach(function (name, i) {
        var li = document.createElement("li");
        li.style.borderColor = PALETTE[i % PALETTE.length];
        li.textContent = name + " ";
        var rm = document.createElement("button");
        rm.type = "button";
        rm.textContent = "×";
        rm.title = "Remove " + name;
        rm.setAttribute("aria-label", "Remove " + name);
        rm.addEventListener("click", function () { selected.splice(selected.indexOf(name), 1); update(); });
        li.appendChild(rm);
        chips.appendChild(li);
      });
      Promise.all([loadPlotly()].concat(selected.map(fetchCurve))).then(function (res) {
        var fig = curvesFigure(res.slice(1), norm.checked);
        return res[0].react(chart, fig.data, themed(fig.layout, chart), PLOT_CONFIG);
      }).then(function () {
        chart.setAttribute("data-rfz-rendered", scheme());
      }).catch(function (err) { console.warn("rfzoo compare:", err.message); });
    }
    function add() {
      var q = input.value.trim();
      if (!q) return;
      var name = resolveName(q);
      unknown = unknown.filter(function (n) { return n !== q; });
      if (!name) unknown.push(q);
      else if (selected.indexOf(name) < 0) selected.push(name);
      input.value = "";
      update();
    }
    input.addEventListener("focus", function () { // 1,500 options: built when first needed
      if (options.childElementCount) return;
      var frag = document.createDocumentFragment();
      config.models.forEach(function (m) { var o = document.createElement("option"); o.value = m; frag.appendChild(o); });
      options.appendChild(frag);
    });
    box.querySelector(".rfz-compare-add").addEventListener("click", add);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") add(); });
    input.addEventListener("change", function () { if (resolveName(input.value)) add(); });
    norm.addEventListener("change", update);
    chart._rfzCompare = update;
    update();
  }

  // --- instant navigation on any host and port ---------------------------------------------
  // material intercepts a click only when the link, with the page's protocol and hostname, is in
  // sitemap.xml: never when the site is served on another port or path than site_url (a local
  // preview, `mkdocs serve -a :8001`), or built without site_url. Links material leaves to the
  // browser that stay inside this site go through its own location$ the same way.
  var SITE_ROOT = (function () {
    try {
      var cfg = JSON.parse(document.getElementById("__config").textContent);
      if ((cfg.features || []).indexOf("navigation.instant") < 0) return null;
      return new URL(cfg.base.replace(/\/?$/, "/"), location.href).href;
    } catch (e) { return null; }
  })();

  function instantFallback(ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    var loc = window.location$;
    if (!SITE_ROOT || location.protocol === "file:" || !loc || typeof loc.next !== "function") return;
    var a = ev.target instanceof Element ? ev.target.closest("a[href]") : null;
    if (!a || a.target || a.hasAttribute("download")) return;
    var url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.href.indexOf(SITE_ROOT) !== 0) return;
    if (!/(\/|\.html)$/.test(url.pathname)) return; // a page, not a download
    if (url.pathname === location.pathname) return; // same page: the browser handles anchors
    ev.preventDefault();
    history.replaceState({ x: window.scrollX, y: window.scrollY }, "");
    history.pushState(null, "", url.href);
    loc.next(url);
  }
  window.addEventListener("click", instantFallback);

  // --- every page view ---------------------------------------------------------------------
  function onPage() {
    var root = document.querySelector("[data-md-component=content]") || document;
    setupTables(root);
    setupCompare(root);
    renderCharts(root);
  }

  // --- shared with rfzoo-model.js and rfzoo-units.js (loaded after this file) ---------------
  var pageDataCache = {};

  // gzip unless a server already inflated it (Content-Encoding): the magic bytes 1f 8b decide
  function inflate(buf) {
    var bytes = new Uint8Array(buf);
    if (bytes.length > 1 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      return new Response(new Blob([buf]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    }
    return Promise.resolve(new TextDecoder().decode(bytes));
  }

  // one fetch and parse per page data file, whichever script asks first
  function pageData(url) {
    if (!pageDataCache[url]) {
      pageDataCache[url] = fetch(url).then(function (r) {
        if (!r.ok) throw new Error("page data: HTTP " + r.status);
        return r.arrayBuffer();
      }).then(inflate).then(JSON.parse);
      pageDataCache[url].catch(function () { delete pageDataCache[url]; });
    }
    return pageDataCache[url];
  }

  // every page view: hard loads and material's instant navigation alike
  function onEveryPage(fn) {
    if (window.document$ && typeof window.document$.subscribe === "function") {
      window.document$.subscribe(fn);
    } else if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  window.rfzoo = {
    loadPlotly: loadPlotly, modelChartConfig: modelChartConfig, pageData: pageData, decodeHeatmap: decodeHeatmap, cssVar: cssVar,
    onEveryPage: onEveryPage, scheme: scheme, recolor: recolor, modelLayout: modelLayout,
  };
  onEveryPage(onPage);
})();
