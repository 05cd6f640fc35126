// rfzoo search: typing a model's exact name puts its page first.
//
// material's search (lunr) makes every query term a prefix and scores rare words higher, so
// "resnet50" ranks resnet50t, resnet50s and resnet50d above resnet50, and a long name's page can
// fall behind pages that match a few of its words. No index boost fixes that: the exact name and
// its longer relatives match the same prefix. So the results are reordered where material gets
// them, before it draws any: this script wraps the search worker (material 9 has no hook for a
// custom transform or worker) and moves the pages named exactly by the query to the top, in the
// whole result list (not only the rows drawn so far). Everything else keeps lunr's order.
//
// Loaded before material's bundle (rfzoo/site/theme/main.html), which creates the worker.
(function () {
  "use strict";

  var Native = window.Worker;
  if (typeof Native !== "function") return;
  var QUERY = 2, RESULT = 3; // material's SearchMessageType
  var MODEL_PAGE = /^models\/([^/]+)\/([^/]+?)(?:\/|\.html)$/;

  function plain(html) {
    return String(html || "").replace(/<[^>]*>/g, "").trim().toLowerCase();
  }

  // 0: "source/name"; 1: torchvision's page of a bare name (as compare resolves it); 2: another
  // library's page of that name; 3: a page whose title is the query; 4: not named by the query
  function rank(article, query) {
    var path = String(article.location || "").split("#")[0];
    var m = MODEL_PAGE.exec(path);
    if (m) {
      var source = m[1].toLowerCase(), name = m[2].toLowerCase();
      if (query === source + "/" + name) return 0;
      if (query === name) return source === "torchvision" ? 1 : 2;
    }
    return plain(article.title) === query ? 3 : 4;
  }

  function exactFirst(items, raw) {
    var query = String(raw || "").trim().replace(/\s+/g, " ").toLowerCase();
    if (!query || !Array.isArray(items)) return;
    var ranked = items.map(function (group, i) {
      return { group: group, i: i, r: group && group[0] ? rank(group[0], query) : 4 };
    });
    if (!ranked.some(function (x) { return x.r < 4; })) return;
    ranked.sort(function (a, b) { return a.r - b.r || a.i - b.i; });
    for (var k = 0; k < ranked.length; k++) items[k] = ranked[k].group;
  }

  function isSearchWorker(url) {
    return /\/workers\/search\.[^/]*\.js(\?|$)/.test(new URL(String(url), location.href).pathname);
  }

  function Worker(url, options) {
    var worker = options === undefined ? new Native(url) : new Native(url, options);
    if (!isSearchWorker(url)) return worker;
    var queries = []; // sent, not answered yet: the worker answers each query once, in order
    var post = worker.postMessage;
    worker.postMessage = function (msg) {
      if (msg && msg.type === QUERY) queries.push(msg.data);
      return post.apply(worker, arguments);
    };
    // registered before material's own listener: the result is in order when material reads it
    worker.addEventListener("message", function (ev) {
      var msg = ev.data;
      if (msg && msg.type === RESULT) {
        var query = queries.shift();
        if (msg.data) exactFirst(msg.data.items, query);
      }
    });
    return worker;
  }
  Worker.prototype = Native.prototype;
  window.Worker = Worker;
})();
