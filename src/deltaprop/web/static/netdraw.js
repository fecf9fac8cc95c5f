/* deltaprop netdraw.js: a fully-connected network as SVG. Shared by the explain page and the
   playground. No dependencies, no network requests.

   Deltaprop.color(v, scale) -> CSS colour on a diverging scale: blue < 0, white at 0, red > 0,
   saturated at |v| = scale.

   Deltaprop.drawNetwork(svg, spec) draws into an <svg> element:
     spec.sizes   [n_0, ..., n_L]
     spec.W       {"1": [[...]], ..., "L": [[...]]}  W^[l] of shape (n_l, n_{l-1}), keyed by
                  deltaprop's layer number l (1..L)
     spec.labels  optional {"0": "0", ...}: how each layer number is written
     spec.units   optional [{layer, kind: "A" | "delta", values: [[...]]}]: colour those
                  layers' units by column spec.sample (or the row mean when sample is "mean")
     spec.edges   optional {layer, kind: "W" | "dW", values, backward}: highlight layer's lines,
                  coloured by those values (W, or dJ/dW on a gradient step)
     spec.sample  column to show (0-based) or "mean"
   Lines: colour = sign, width = size relative to the largest |w| of their layer. */
(function () {
  "use strict";
  var D = (window.Deltaprop = window.Deltaprop || {});
  var SVGNS = "http://www.w3.org/2000/svg";

  function mix(a, b, t) {
    return Math.round(a + (b - a) * t);
  }

  D.color = function (v, scale) {
    if (!isFinite(v) || !scale) return "rgb(255,255,255)";
    var t = Math.max(-1, Math.min(1, v / scale));
    var end = t < 0 ? [33, 102, 172] : [178, 24, 43];
    var a = Math.abs(t);
    return "rgb(" + mix(255, end[0], a) + "," + mix(255, end[1], a) + "," + mix(255, end[2], a) + ")";
  };
  D.isDark = function (v, scale) {
    return scale > 0 && Math.abs(v / scale) > 0.6;
  };
  D.maxAbs = function (rows) {
    var m = 0;
    for (var i = 0; i < rows.length; i++)
      for (var j = 0; j < rows[i].length; j++) m = Math.max(m, Math.abs(rows[i][j]));
    return m;
  };
  D.format = function (x) {
    if (x === 0) return "0";
    if (!isFinite(x)) return String(x);
    var a = Math.abs(x);
    var s = a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(2);
    return s.replace("-", "\u2212");
  };

  // a unit's value in at most about 5 characters, to fit inside its circle
  D.formatShort = function (x) {
    if (x === 0) return "0";
    if (!isFinite(x)) return String(x);
    var a = Math.abs(x);
    var s = a >= 0.01 && a < 1000 ? String(Number(x.toPrecision(2))) : x.toExponential(0);
    return s.replace("-", "\u2212");
  };

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function column(values, sample) {
    return values.map(function (row) {
      if (sample === "mean") {
        var s = 0;
        for (var j = 0; j < row.length; j++) s += row[j];
        return s / row.length;
      }
      return row[Math.min(sample, row.length - 1)];
    });
  }

  D.drawNetwork = function (svg, spec) {
    var sizes = spec.sizes, L = sizes.length - 1;
    var labels = spec.labels || {};
    var sample = spec.sample === undefined ? 0 : spec.sample;
    var width = 120 * (L + 1) + 40;
    var tallest = Math.max.apply(null, sizes);
    var gap = 54, r = 17, top = 34;
    var height = top + gap * tallest + 14;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("role", "img");
    function x(l) { return 40 + (width - 80) * (L === 0 ? 0.5 : l / L); }
    function y(l, i) { return top + gap / 2 + (tallest - sizes[l]) * gap / 2 + i * gap; }

    var edges = spec.edges || null;
    var units = {};
    (spec.units || []).forEach(function (u) { units[u.layer] = u; });

    var lines = el("g", { class: "dp-edges" }, svg);
    for (var l = 1; l <= L; l++) {
      var Wl = spec.W[String(l)];
      var active = edges && edges.layer === l;
      var values = active ? edges.values : Wl;
      var scale = D.maxAbs(values) || 1;
      for (var i = 0; i < sizes[l]; i++) {
        for (var j = 0; j < sizes[l - 1]; j++) {
          var w = values[i][j];
          el("line", {
            x1: x(l - 1) + r, y1: y(l - 1, j), x2: x(l) - r, y2: y(l, i),
            stroke: w < 0 ? "#2166ac" : "#b2182b",
            "stroke-width": (0.6 + 4.4 * Math.abs(w) / scale).toFixed(2),
            "stroke-opacity": edges ? (active ? 0.9 : 0.15) : 0.7,
            "data-layer": l, "data-i": i, "data-j": j, "data-value": w,
            class: "dp-edge" + (active ? " dp-active" : "")
          }, lines);
        }
      }
    }
    var nodes = el("g", { class: "dp-units" }, svg);
    for (var l2 = 0; l2 <= L; l2++) {
      var lab = labels[String(l2)] !== undefined ? labels[String(l2)] : String(l2);
      var t = el("text", { x: x(l2), y: 16, class: "dp-layer-label" }, nodes);
      var name = l2 === 0 ? "input" : l2 === L ? "output" : "hidden";
      t.textContent = name + " [" + lab + "]";
      var u = units[l2];
      var vals = u ? column(u.values, sample) : null;
      var uscale = vals ? Math.max.apply(null, vals.map(Math.abs)) || 1 : 1;
      for (var k = 0; k < sizes[l2]; k++) {
        var fill = vals ? D.color(vals[k], uscale) : "#ffffff";
        var c = el("circle", {
          cx: x(l2), cy: y(l2, k), r: r, fill: fill,
          class: "dp-unit" + (u ? " dp-active" : ""),
          "data-layer": l2, "data-unit": k
        }, nodes);
        if (vals) {
          c.setAttribute("data-kind", u.kind);
          c.setAttribute("data-value", vals[k]);
          var tv = el("text", { x: x(l2), y: y(l2, k), class: "dp-unit-value",
            fill: D.isDark(vals[k], uscale) ? "#fff" : "#111" }, nodes);
          tv.textContent = D.formatShort(vals[k]);
          var title = el("title", {}, c);
          title.textContent = (u.kind === "delta" ? "\u03b4" : "A") + "[" + lab + "] unit " + (k + 1) + ": " + vals[k];
        }
      }
    }
    return svg;
  };
})();
