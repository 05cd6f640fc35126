// rfzoo model pages, "Trained vs random-init ERF": draw one stage's pretrained and random-init
// heat maps side by side (figures in the page data, charts.trained), switch both with the
// stage picker, and keep their zoom in step so the same pixels are compared. Uses the shared
// helpers of rfzoo.js (window.rfzoo) and the page data rfzoo-model.js fetches (one fetch).
(function () {
  "use strict";

  var shared = window.rfzoo;
  var KEYS = ["pretrained", "random"];

  var scheme = shared.scheme, recolor = shared.recolor, themed = shared.modelLayout;

  // the stage the picker shows, whenever it was picked (also before the maps could be drawn)
  function stageIndex(view) {
    var i = view.select ? +view.select.value : view.spec.stages.length - 1;
    return i >= 0 && i < view.spec.stages.length ? i : view.spec.stages.length - 1;
  }

  function draw(Plotly, view) {
    var map = scheme() === "slate" ? view.data.colors || {} : {};
    var index = stageIndex(view), node = view.spec.stages[index];
    return Promise.all(KEYS.map(function (key) {
      var el = view.frames[key], fig = view.spec[key][index];
      if (!el || !fig) return null;
      fig = recolor(fig, map);
      el.setAttribute("aria-label", "Heat map of the effective RF of " + node + ", " +
        (key === "random" ? "random init" : "pretrained") + " weights.");
      return Plotly.react(el, fig.data.map(shared.decodeHeatmap), themed(fig.layout, el), shared.modelChartConfig(el)).then(function () {
        el.setAttribute("data-rfz-rendered", scheme());
      });
    }));
  }

  // zooming or panning one map applies the same axis ranges to the other
  function linkZoom(Plotly, view) {
    var busy = false;
    KEYS.forEach(function (key) {
      var el = view.frames[key], other = view.frames[KEYS[1 - KEYS.indexOf(key)]];
      if (!el || !other || el._rfzLinked) return;
      el._rfzLinked = true;
      el.on("plotly_relayout", function (ev) {
        if (busy) return;
        var update = {};
        Object.keys(ev).forEach(function (k) { if (/^[xy]axis\.(range|autorange)/.test(k)) update[k] = ev[k]; });
        if (!Object.keys(update).length) return;
        busy = true;
        Plotly.relayout(other, update).then(function () { busy = false; }, function () { busy = false; });
      });
    });
  }

  var current = null;

  function onPage() {
    var box = document.querySelector(".rfz-trained");
    var marker = document.querySelector(".rfz-model[data-rfz-data]");
    current = null;
    if (!box || !marker) return;
    var view = { frames: {}, data: null, spec: null, select: box.querySelector(".rfz-trained-stage") };
    KEYS.forEach(function (key) { view.frames[key] = box.querySelector('[data-rfz-trained="' + key + '"]'); });
    current = view;
    // listen at once: a stage picked while the data or plotly.js loads is the one drawn
    if (view.select) view.select.addEventListener("change", function () {
      if (view.spec && window.Plotly) draw(window.Plotly, view);
    });
    var url = new URL(marker.getAttribute("data-rfz-data"), location.href).href;
    Promise.all([shared.pageData(url), shared.loadPlotly()]).then(function (res) {
      if (current !== view) return null; // the reader moved on
      view.data = res[0];
      view.spec = (res[0].charts || {}).trained;
      if (!view.spec) return null;
      var Plotly = res[1];
      return draw(Plotly, view).then(function () { linkZoom(Plotly, view); });
    }).catch(function (err) { console.warn("rfzoo: trained ERF maps not drawn:", err.message); });
  }

  new MutationObserver(function () {
    if (current && current.spec && window.Plotly) draw(window.Plotly, current);
  }).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });

  shared.onEveryPage(onPage);
})();
