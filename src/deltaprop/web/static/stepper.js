/* deltaprop stepper.js: matrices as tables and the step-by-step view. Needs netdraw.js (for
   Deltaprop.color, Deltaprop.format and, when a drawing is wanted, Deltaprop.drawNetwork).

   Deltaprop.matrixTable(item) -> <figure> holding a caption (item.label_mathml or item.text,
     and the shape) and a <table>; each cell has data-i, data-j and data-value (the exact
     number, as JSON gives it) and its background on the diverging scale of that matrix.
     item: {id, text, label_mathml?, shape: [r, c], values: [[...]], rows?: [...], cols?: [...]}

   Deltaprop.stepper(root, data, options) builds the view inside root and returns
     {go(k), next(), prev(), index(), setSample(s), destroy()} (destroy removes the key
     listener; a new stepper on the same root destroys the previous one).
     data.steps: [{id, phase, layer, title, equation_mathml?, numbers: [[item, ...], ...],
                   units, edges, note}]  (the "steps" of `deltaprop explain --json`, with
                   MathML added by deltaprop.web.mathml)
     data.network: {sizes, layer_labels, m}; data.W: {"1": [[...]], ...}
     options.keyboard (default true): ArrowRight/ArrowDown/PageDown/Space = next,
       ArrowLeft/ArrowUp/PageUp = previous, Home/End = first/last.
     options.hash (default true): the step id is kept in location.hash. */
(function () {
  "use strict";
  var D = (window.Deltaprop = window.Deltaprop || {});

  function h(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  D.matrixTable = function (item) {
    var fig = h("figure", { class: "dp-matrix", "data-id": item.id });
    var cap = h("figcaption", {}, fig);
    var label = h("span", { class: "dp-label" }, cap);
    if (item.label_mathml) label.innerHTML = item.label_mathml;
    else label.textContent = item.text;
    h("span", { class: "dp-shape" }, cap, item.shape[0] + "\u00d7" + item.shape[1]);
    var scroll = h("div", { class: "dp-scroll" }, fig);  // a wide matrix scrolls, the page does not
    var table = h("table", { class: "dp-mat" }, scroll);
    var scale = D.maxAbs(item.values);
    if (item.cols) {
      var hr = h("tr", {}, h("thead", {}, table));
      if (item.rows) h("th", {}, hr);
      item.cols.forEach(function (c) { h("th", { scope: "col" }, hr, String(c)); });
    }
    var body = h("tbody", {}, table);
    item.values.forEach(function (row, i) {
      var tr = h("tr", {}, body);
      if (item.rows) h("th", { scope: "row" }, tr, String(item.rows[i]));
      row.forEach(function (v, j) {
        var td = h("td", { "data-i": i, "data-j": j, "data-value": JSON.stringify(v), title: String(v) }, tr, D.format(v));
        td.style.background = D.color(v, scale);
        if (D.isDark(v, scale)) td.className = "dp-dark";
      });
    });
    return fig;
  };

  D.stepper = function (root, data, options) {
    options = options || {};
    var steps = data.steps, net = data.network;
    var index = 0, sample = 0;

    var main = h("main", { class: "dp-main" }, root);
    var figure = h("div", { class: "dp-figure" }, main);
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("aria-label", "the network: units as circles, weights as lines");
    figure.appendChild(svg);
    var samples = h("div", { class: "dp-samples", role: "group", "aria-label": "sample shown on the units" }, figure);
    h("span", {}, samples, "units show sample:");
    var sampleButtons = [];
    var choices = [];
    for (var s = 0; s < net.m; s++) choices.push(s);
    choices.push("mean");
    choices.forEach(function (c) {
      var b = h("button", { type: "button", "data-sample": String(c) }, samples, c === "mean" ? "mean" : String(c + 1));
      b.addEventListener("click", function () { api.setSample(c); });
      sampleButtons.push(b);
    });
    var legend = h("div", { class: "dp-legend" }, figure);
    var details = h("details", { class: "dp-steps" }, figure);
    h("summary", {}, details, "all steps");
    var list = h("ol", { class: "dp-steplist" }, details);
    steps.forEach(function (st, k) {
      var li = h("li", { "data-step-id": st.id }, list);
      var b = h("button", { type: "button" }, li, st.title);
      b.addEventListener("click", function () { api.go(k); });
    });

    var panel = h("section", { class: "dp-step", "aria-live": "polite" }, main);
    var controls = h("nav", { class: "dp-controls", "aria-label": "steps" }, root);
    var first = h("button", { type: "button", "data-action": "first", title: "first step (Home)" }, controls, "first");
    var prev = h("button", { type: "button", "data-action": "prev", title: "previous step (\u2190)" }, controls, "\u2190 previous");
    var next = h("button", { type: "button", "data-action": "next", title: "next step (\u2192)" }, controls, "next \u2192");
    var progress = h("span", { class: "dp-progress" }, controls);
    h("span", { class: "dp-hint" }, controls, "keys: \u2190 \u2192, Home, End");
    first.addEventListener("click", function () { api.go(0); });
    prev.addEventListener("click", function () { api.prev(); });
    next.addEventListener("click", function () { api.next(); });

    function renderItem(item, line) {
      if (item.matrix) line.appendChild(D.matrixTable(item.matrix));
      else if (item.op !== undefined) {
        var o = h("span", { class: "dp-op" }, line);
        if (item.mathml) o.innerHTML = item.mathml; else o.textContent = item.op;
      } else if (item.text !== undefined) h("span", { class: "dp-text" }, line, item.text);
      else if (item.group_open) h("span", { class: "dp-op" }, line, "(");
      else if (item.group_close) h("span", { class: "dp-op" }, line, ")");
    }

    function draw() {
      var st = steps[index];
      if (D.drawNetwork) {
        // data.W is keyed by the layers' labels (the exercise numbering shifts them by one);
        // the drawing wants deltaprop's numbers 1..L
        var W = {};
        for (var l = 1; l < net.sizes.length; l++) {
          var key = net.layer_labels ? net.layer_labels[String(l)] : String(l);
          W[String(l)] = data.W[key];
        }
        D.drawNetwork(svg, {
          sizes: net.sizes, W: W, labels: net.layer_labels,
          units: st.units || [], edges: st.edges || null, sample: sample
        });
      }
      var kinds = (st.units || []).map(function (u) {
        var lab = net.layer_labels[String(u.layer)];
        return (u.kind === "delta" ? "\u03b4" : "A") + "[" + lab + "]";
      });
      var text = "Lines: weights (red > 0, blue < 0, width = size)";
      if (st.edges && st.edges.kind === "dW") text = "Highlighted lines: \u2202J/\u2202W[" + net.layer_labels[String(st.edges.layer)] + "] (red > 0, blue < 0)";
      else if (st.edges && st.edges.backward) text = "Highlighted lines: W[" + net.layer_labels[String(st.edges.layer)] + "], used transposed: the error flows right to left";
      if (kinds.length) text += ". Units: " + kinds.join(", ") + (sample === "mean" ? " (mean over the batch)" : " of sample " + (sample + 1));
      legend.textContent = text + ".";
      sampleButtons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-sample") === String(sample))); });
    }

    function render() {
      var st = steps[index];
      panel.innerHTML = "";
      panel.setAttribute("data-step-id", st.id);
      var title = h("h2", {}, panel);
      h("span", { class: "dp-phase " + st.phase }, title, st.phase);
      title.appendChild(document.createTextNode(st.title));
      var eq = h("div", { class: "dp-equation" }, panel);
      if (st.equation_mathml) eq.innerHTML = st.equation_mathml; else eq.textContent = st.equation_text || "";
      (st.numbers || []).forEach(function (items) {
        var line = h("div", { class: "dp-line" }, panel);
        items.forEach(function (item) { renderItem(item, line); });
      });
      if (st.note) h("p", { class: "dp-note" }, panel, st.note);
      progress.textContent = "step " + (index + 1) + " of " + steps.length;
      first.disabled = prev.disabled = index === 0;
      next.disabled = index === steps.length - 1;
      Array.prototype.forEach.call(list.children, function (li, k) {
        if (k === index) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
      });
      draw();
      if (options.hash !== false && window.history && history.replaceState) {
        try { history.replaceState(null, "", "#" + st.id); } catch (e) { /* file:// in some browsers */ }
      }
      if (options.onStep) options.onStep(st, index);
    }

    var api = {
      go: function (k) { index = Math.max(0, Math.min(steps.length - 1, k)); render(); },
      next: function () { api.go(index + 1); },
      prev: function () { api.go(index - 1); },
      index: function () { return index; },
      setSample: function (s) { sample = s; draw(); },
      destroy: function () {
        document.removeEventListener("keydown", onKey);
        if (root._dpStepperDestroy === api.destroy) root._dpStepperDestroy = null;
      }
    };

    function onKey(e) {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      var tag = (e.target && e.target.tagName) || "";
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
      var k = e.key;
      if (k === "ArrowRight" || k === "ArrowDown" || k === "PageDown" || (k === " " && tag !== "BUTTON")) { api.next(); e.preventDefault(); }
      else if (k === "ArrowLeft" || k === "ArrowUp" || k === "PageUp") { api.prev(); e.preventDefault(); }
      else if (k === "Home") { api.go(0); e.preventDefault(); }
      else if (k === "End") { api.go(steps.length - 1); e.preventDefault(); }
    }
    if (options.keyboard !== false) document.addEventListener("keydown", onKey);
    // a second stepper on the same root replaces the first (its key listener goes with it)
    if (root._dpStepperDestroy) root._dpStepperDestroy();
    root._dpStepperDestroy = api.destroy;
    var start = 0;
    if (options.hash !== false && location.hash) {
      var want = location.hash.slice(1);
      steps.forEach(function (st, k) { if (st.id === want) start = k; });
    }
    api.go(start);
    return api;
  };
})();
