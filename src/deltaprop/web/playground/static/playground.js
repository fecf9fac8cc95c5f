// deltaprop playground: the page. It talks to its own server over one websocket; the server
// trains (deltaprop's Network and optimisers) and sends frames, this script draws them.
// No request goes anywhere else; no library is loaded.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const FIELDS = ["dataset", "samples", "noise", "test_fraction", "seed", "hidden", "activation",
    "output", "loss", "optimizer", "lr", "batch_size", "alpha", "speed"];
  const INTS = new Set(["samples", "seed", "batch_size", "speed"]);
  const FLOATS = new Set(["noise", "test_fraction", "lr", "alpha"]);

  const state = {
    ws: null, playing: false, stepMode: false, data: null, frame: null, history: null,
    settings: null, limits: null, colourBy: "activation", step: null, stepper: null,
  };
  window.playground = state; // for tests and the curious: the latest frame, data and step

  // --- colours --------------------------------------------------------------------------------
  const POS = [8, 119, 189], NEG = [232, 113, 10], MID = [245, 245, 245];
  function mix(a, b, t) { return a.map((v, i) => Math.round(v + (b[i] - v) * t)); }
  function classColour(p) { // p = P(label 1) in [0, 1]: orange (0) .. white .. blue (1)
    const c = p >= 0.5 ? mix(MID, POS, (p - 0.5) * 1.3) : mix(MID, NEG, (0.5 - p) * 1.3);
    return c;
  }
  function fmt(v, digits = 4) {
    if (v === null || v === undefined) return "–";
    if (!isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(digits - 1);
    return Number(v.toPrecision(digits)).toString();
  }
  function el(ns, name, attrs, parent) {
    const e = ns ? document.createElementNS(ns, name) : document.createElement(name);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // --- messages -------------------------------------------------------------------------------
  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
  }
  function clearError() { $("error").hidden = true; $("error").textContent = ""; }
  function send(msg) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      showError("not connected to the playground server: reload the page once it runs again");
      return;
    }
    state.ws.send(JSON.stringify(msg));
  }

  function connect() {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    state.ws = ws;
    ws.onopen = () => { $("conn").textContent = "connected"; $("conn").className = "conn ok"; };
    ws.onclose = (e) => {
      $("conn").textContent = `disconnected (${e.code})`;
      $("conn").className = "conn bad";
      setPlaying(false);
      if (e.code === 1009) showError("the connection closed: a message was too large (reload the page)");
      else if (e.code !== 1000 && e.code !== 1001) showError(`the connection to the playground server closed (code ${e.code}): reload the page`);
    };
    ws.onmessage = (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch (err) { showError("unreadable message from the server"); return; }
      const handler = HANDLERS[msg.type];
      if (handler) handler(msg);
    };
  }

  const HANDLERS = {
    hello(msg) {
      state.limits = msg.limits;
      for (const [name, options] of Object.entries(msg.choices)) {
        const sel = $(name);
        sel.innerHTML = "";
        for (const o of options) el(null, "option", { value: o }, sel).textContent = o.replace(/_/g, " ");
      }
      $("samples").max = msg.limits.max_samples; $("samples").min = msg.limits.min_samples;
      $("batch_size").max = msg.limits.max_batch_size;
      $("speed").max = msg.limits.max_steps_per_second;
      $("seed").max = msg.limits.max_seed;
      showSettings(msg.settings);
    },
    data(msg) {
      state.data = msg;
      state.history = { step: msg.history.step.slice(), train: msg.history.train.slice(), test: msg.history.test.slice() };
      showSettings(msg.settings);
      $("view-title").textContent = msg.kind === "classification" ? "Decision boundary" : "Fitted curve";
      $("view").setAttribute("aria-label", msg.kind === "classification" ? "decision boundary over the data" : "fitted curve over the data");
      $("stat-acc-box").hidden = msg.kind !== "classification";
      $("view-legend").textContent = msg.kind === "classification"
        ? "Background: the network's output ŷ over the plane (orange 0 … blue 1). Dots: training samples; rings: test samples."
        : "Line: the network's output ŷ(x). Dots: training samples; rings: test samples.";
      for (const b of document.querySelectorAll('[data-export="view"]')) b.textContent = `${msg.kind === "classification" ? "boundary" : "curve"} ${b.dataset.format.toUpperCase()}`;
    },
    frame(msg) {
      state.frame = msg;
      const h = state.history;
      if (h && (!h.step.length || msg.step > h.step[h.step.length - 1])) {
        h.step.push(msg.step); h.train.push(msg.train_cost); h.test.push(msg.test_cost);
        if (h.step.length > 600) for (const k of ["step", "train", "test"]) h[k] = h[k].filter((_, i) => i % 2 === 0 || i === h[k].length - 1);
      } else if (h && h.step.length && msg.step === h.step[h.step.length - 1]) {
        h.train[h.train.length - 1] = msg.train_cost; h.test[h.test.length - 1] = msg.test_cost;
      }
      drawAll();
    },
    settings(msg) { // lr or speed changed: training goes on
      showSettings(msg.settings);
      if (state.data) state.data.settings = msg.settings;
    },
    step(msg) { state.step = msg; renderStep(msg); },
    paused() { setPlaying(false); },
    error(msg) { showError(msg.message); },
    model(msg) {
      const bytes = Uint8Array.from(atob(msg.data), (c) => c.charCodeAt(0));
      download(new Blob([bytes], { type: "application/octet-stream" }), msg.filename);
    },
    pong() {},
  };

  // --- controls -------------------------------------------------------------------------------
  function showSettings(s) {
    state.settings = s;
    for (const f of FIELDS) {
      const input = $(f);
      if (!input || document.activeElement === input) continue;
      input.value = f === "hidden" ? s.hidden.join(",") : s[f];
      const out = $(`${f}-out`);
      if (out) out.textContent = s[f];
    }
  }
  function readSettings() {
    const s = {};
    for (const f of FIELDS) {
      const v = $(f).value.trim();
      if (f === "hidden") s.hidden = v === "" ? [] : v.split(/[\s,]+/).filter((t) => t !== "").map((t) => (/^-?\d+$/.test(t) ? parseInt(t, 10) : t));
      else if (INTS.has(f)) s[f] = /^-?\d+$/.test(v) ? parseInt(v, 10) : v;
      else if (FLOATS.has(f)) s[f] = v !== "" && isFinite(Number(v)) ? Number(v) : v;
      else s[f] = v;
    }
    return s;
  }
  function configure() {
    clearError();
    const s = readSettings();
    if (s.loss === "binary_cross_entropy" && s.output !== "sigmoid") {
      // the only pairing rule: help the user instead of refusing when the output was changed
      if (document.activeElement === $("output")) { s.loss = "mse"; $("loss").value = "mse"; }
      else if (document.activeElement === $("loss")) { s.output = "sigmoid"; $("output").value = "sigmoid"; }
    }
    send({ type: "configure", settings: s });
  }
  function setPlaying(on) {
    state.playing = on;
    $("play").textContent = on ? "⏸ pause" : "▶ play";
  }
  function play() {
    clearError();
    if (state.playing) { send({ type: "pause" }); setPlaying(false); }
    else { send({ type: "play" }); setPlaying(true); }
  }
  function oneStep() {
    clearError();
    setPlaying(false);
    if (!state.stepMode) { $("stepmode").checked = true; setStepMode(true); }
    send({ type: "step" });
  }
  function setStepMode(on) {
    state.stepMode = on;
    $("stepper").hidden = !on;
    if (on && state.playing) { send({ type: "pause" }); setPlaying(false); }
  }

  // --- drawings -------------------------------------------------------------------------------
  function drawAll() {
    const f = state.frame, d = state.data;
    if (!f || !d) return;
    $("stat-step").textContent = f.step;
    $("stat-epoch").textContent = f.epoch;
    $("stat-train").textContent = fmt(f.train_cost);
    $("stat-test").textContent = fmt(f.test_cost);
    $("stat-acc").textContent = f.accuracy && f.accuracy.test !== null ? `${(100 * f.accuracy.test).toFixed(1)} %` : "–";
    drawView(f, d);
    drawCost();
    drawNet(f, d);
    drawGradNorms(f);
    const dead = f.dead_relu.map((v, i) => (v === null ? null : `layer ${i + 1}: ${(100 * v).toFixed(0)} %`)).filter((t) => t);
    $("dead").textContent = dead.length ? `dead ReLUs (zero on every training sample): ${dead.join(", ")}` : "";
  }

  const heat = document.createElement("canvas");
  function viewTransform(d, W, H) {
    const [x0, x1, y0, y1] = d.domain;
    return { x: (x) => ((x - x0) / (x1 - x0)) * W, y: (y) => H - ((y - y0) / (y1 - y0)) * H };
  }
  function drawView(f, d) {
    const c = $("view"), ctx = c.getContext("2d"), W = c.width, H = c.height;
    ctx.clearRect(0, 0, W, H);
    const T = viewTransform(d, W, H);
    if (d.kind === "classification") {
      const G = f.view.grid, raw = atob(f.view.values);
      heat.width = G; heat.height = G;
      const hctx = heat.getContext("2d"), img = hctx.createImageData(G, G);
      for (let i = 0; i < G * G; i++) {
        const col = classColour(raw.charCodeAt(i) / 255);
        img.data[4 * i] = col[0]; img.data[4 * i + 1] = col[1]; img.data[4 * i + 2] = col[2]; img.data[4 * i + 3] = 255;
      }
      hctx.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heat, 0, 0, W, H);
      for (const [part, filled] of [["train", true], ["test", false]]) {
        const X = d[part].X, Y = d[part].Y[0];
        for (let i = 0; i < Y.length; i++) {
          ctx.beginPath(); ctx.arc(T.x(X[0][i]), T.y(X[1][i]), 3.5, 0, 2 * Math.PI);
          const col = Y[i] > 0.5 ? "rgb(8,119,189)" : "rgb(232,113,10)";
          if (filled) { ctx.fillStyle = col; ctx.fill(); ctx.strokeStyle = "#fff"; ctx.lineWidth = 1; ctx.stroke(); }
          else { ctx.strokeStyle = "#111"; ctx.lineWidth = 1.5; ctx.fillStyle = col; ctx.fill(); ctx.stroke(); }
        }
      }
    } else {
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
      ctx.strokeStyle = "#e4e7ec"; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(0, T.y(0)); ctx.lineTo(W, T.y(0)); ctx.stroke();
      for (const [part, filled] of [["train", true], ["test", false]]) {
        const X = d[part].X[0], Y = d[part].Y[0];
        for (let i = 0; i < Y.length; i++) {
          ctx.beginPath(); ctx.arc(T.x(X[i]), T.y(Y[i]), 3, 0, 2 * Math.PI);
          if (filled) { ctx.fillStyle = "rgba(8,119,189,0.55)"; ctx.fill(); }
          else { ctx.strokeStyle = "#111"; ctx.lineWidth = 1.2; ctx.stroke(); }
        }
      }
      ctx.strokeStyle = "rgb(232,113,10)"; ctx.lineWidth = 2.5; ctx.beginPath();
      f.view.x.forEach((x, i) => { const px = T.x(x), py = T.y(f.view.y[i]); if (i) ctx.lineTo(px, py); else ctx.moveTo(px, py); });
      ctx.stroke();
    }
  }
  function viewSVG() {
    const f = state.frame, d = state.data, W = 400, H = 400, T = viewTransform(d, W, H);
    const parts = [`<svg xmlns="${SVGNS}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`];
    if (d.kind === "classification") {
      drawView(f, d); // fills the heat canvas
      parts.push(`<image href="${heat.toDataURL("image/png")}" x="0" y="0" width="${W}" height="${H}" preserveAspectRatio="none"/>`);
      for (const [part, ring] of [["train", false], ["test", true]]) {
        const X = d[part].X, Y = d[part].Y[0];
        for (let i = 0; i < Y.length; i++) {
          parts.push(`<circle cx="${T.x(X[0][i]).toFixed(1)}" cy="${T.y(X[1][i]).toFixed(1)}" r="3.5" fill="${Y[i] > 0.5 ? "#0877bd" : "#e8710a"}" stroke="${ring ? "#111" : "#fff"}"/>`);
        }
      }
    } else {
      parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
      for (const [part, ring] of [["train", false], ["test", true]]) {
        const X = d[part].X[0], Y = d[part].Y[0];
        for (let i = 0; i < Y.length; i++) {
          parts.push(ring ? `<circle cx="${T.x(X[i]).toFixed(1)}" cy="${T.y(Y[i]).toFixed(1)}" r="3" fill="none" stroke="#111"/>`
            : `<circle cx="${T.x(X[i]).toFixed(1)}" cy="${T.y(Y[i]).toFixed(1)}" r="3" fill="#0877bd" fill-opacity="0.55"/>`);
        }
      }
      const pts = f.view.x.map((x, i) => `${T.x(x).toFixed(1)},${T.y(f.view.y[i]).toFixed(1)}`).join(" ");
      parts.push(`<polyline points="${pts}" fill="none" stroke="#e8710a" stroke-width="2.5"/>`);
    }
    parts.push("</svg>");
    return parts.join("\n");
  }

  function drawCost() {
    const svg = $("cost"), h = state.history;
    svg.innerHTML = "";
    const W = 400, H = 160, L = 46, R = 8, Tp = 8, B = 22;
    const vals = h.train.concat(h.test).filter((v) => v !== null && v > 0 && isFinite(v));
    el(SVGNS, "rect", { x: 0, y: 0, width: W, height: H, fill: "#fff" }, svg);
    if (!vals.length) return;
    let lo = Math.log10(Math.min(...vals)), hi = Math.log10(Math.max(...vals));
    if (hi - lo < 0.5) { lo -= 0.25; hi += 0.25; }
    const s0 = h.step[0], s1 = Math.max(h.step[h.step.length - 1], s0 + 1);
    const X = (s) => L + ((s - s0) / (s1 - s0)) * (W - L - R);
    const Y = (v) => Tp + (1 - (Math.log10(v) - lo) / (hi - lo)) * (H - Tp - B);
    el(SVGNS, "line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }, svg);
    el(SVGNS, "line", { x1: L, y1: Tp, x2: L, y2: H - B, stroke: "#999" }, svg);
    for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
      el(SVGNS, "line", { x1: L, y1: Y(10 ** e), x2: W - R, y2: Y(10 ** e), stroke: "#eee" }, svg);
      el(SVGNS, "text", { x: L - 4, y: Y(10 ** e) + 4, "text-anchor": "end", "font-size": 10, fill: "#555" }, svg).textContent = `1e${e}`;
    }
    el(SVGNS, "text", { x: W - R, y: H - 6, "text-anchor": "end", "font-size": 10, fill: "#555" }, svg).textContent = `step ${s1}`;
    el(SVGNS, "text", { x: L, y: H - 6, "font-size": 10, fill: "#555" }, svg).textContent = `${s0}`;
    for (const [key, dash, colour] of [["train", "", "#2a5bd7"], ["test", "5 3", "#e8710a"]]) {
      const pts = [];
      h[key].forEach((v, i) => { if (v !== null && v > 0 && isFinite(v)) pts.push(`${X(h.step[i]).toFixed(1)},${Y(v).toFixed(1)}`); });
      if (pts.length) el(SVGNS, "polyline", { points: pts.join(" "), fill: "none", stroke: colour, "stroke-width": 1.8, "stroke-dasharray": dash, "data-series": key }, svg);
    }
  }

  function drawNet(f, d) {
    // the explain page's component: units as circles, weights as lines (colour = sign, width =
    // size), units coloured by their mean activation or mean δ over the last batch
    const L = d.sizes.length - 1, W = {}, labels = {}, units = [];
    for (let l = 1; l <= L; l++) W[String(l)] = f.W[l - 1];
    for (let l = 0; l <= L; l++) labels[String(l)] = String(l);
    const delta = state.colourBy === "delta";
    for (let l = delta ? 1 : 0; l <= L; l++) {
      const v = delta ? f.unit_delta[l] : f.unit_activation[l];
      if (v) units.push({ layer: l, kind: delta ? "delta" : "A", values: v.map((x) => [x]) });
    }
    window.Deltaprop.drawNetwork($("net"), { sizes: d.sizes, W: W, labels: labels, units: units, sample: 0 });
  }

  function drawGradNorms(f) {
    const svg = $("gradnorms"), g = f.grad_norms, W = 520, H = 110;
    svg.innerHTML = "";
    el(SVGNS, "rect", { x: 0, y: 0, width: W, height: H, fill: "#fff" }, svg);
    const logs = g.map((v) => (v > 0 ? Math.log10(v) : null)).filter((v) => v !== null);
    const lo = logs.length ? Math.min(...logs) - 1 : -1, hi = logs.length ? Math.max(...logs) : 0;
    const bw = Math.min(70, (W - 60) / g.length - 8);
    g.forEach((v, i) => {
      const t = v > 0 ? (Math.log10(v) - lo) / Math.max(hi - lo, 1e-9) : 0;
      const h = 4 + t * (H - 40), x = 40 + i * (bw + 8);
      el(SVGNS, "rect", { x: x, y: H - 18 - h, width: bw, height: h, fill: "#2a5bd7", "data-layer": i + 1, "data-value": v }, svg);
      el(SVGNS, "text", { x: x + bw / 2, y: H - 5, "text-anchor": "middle", "font-size": 10 }, svg).textContent = `W[${i + 1}]`;
      el(SVGNS, "text", { x: x + bw / 2, y: H - 22 - h, "text-anchor": "middle", "font-size": 9, fill: "#333" }, svg).textContent = fmt(v, 2);
    });
    el(SVGNS, "text", { x: 4, y: 12, "font-size": 9, fill: "#777" }, svg).textContent = "log scale";
  }

  // --- step mode: the explain page's stepper on this step's batch ------------------------
  function renderStep(msg) {
    const root = $("stepper-root"), at = state.stepper ? state.stepper.index() : 0;
    root.innerHTML = "";
    const ex = msg.explain;
    $("step-title").textContent = `Step mode: step ${msg.step}, a batch of m = ${msg.m} samples`;
    const alpha = state.data && state.data.settings.alpha;
    $("step-note").textContent = `Samples ${msg.indices.map((i) => i + 1).join(", ")} of the training set, standardised as the network sees them.`
      + (alpha ? ` With L2 (α = ${alpha}), ∂J/∂W includes αW and J the penalty (α/2)Σ‖W‖².` : "");
    state.stepper = window.Deltaprop.stepper(root, ex, { keyboard: false, hash: false });
    state.stepper.go(at);
  }

  // --- exports --------------------------------------------------------------------------------
  function download(blob, name) {
    const a = el(null, "a", { href: URL.createObjectURL(blob), download: name });
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
  }
  function svgText(id) {
    const svg = $(id).cloneNode(true);
    svg.setAttribute("xmlns", SVGNS);
    const style = document.createElementNS(SVGNS, "style");
    style.textContent = "text{font-family:system-ui,sans-serif}.dp-unit{stroke:#333;stroke-width:1}"
      + ".dp-layer-label{font-size:12px;fill:#5b6470;text-anchor:middle}"
      + ".dp-unit-value{font-size:10px;text-anchor:middle;dominant-baseline:central}";
    svg.insertBefore(style, svg.firstChild);
    const vb = svg.getAttribute("viewBox").split(" ");
    svg.setAttribute("width", vb[2]); svg.setAttribute("height", vb[3]);
    return new XMLSerializer().serializeToString(svg);
  }
  function svgToPng(text, name) {
    const img = new Image();
    img.onload = () => {
      const c = document.createElement("canvas");
      c.width = img.width * 2; c.height = img.height * 2;
      const ctx = c.getContext("2d"); ctx.scale(2, 2); ctx.drawImage(img, 0, 0);
      c.toBlob((b) => download(b, name), "image/png");
    };
    img.src = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
  }
  function exportFigure(which, format) {
    if (!state.frame) return;
    const name = `playground-${which === "view" ? (state.data.kind === "classification" ? "boundary" : "curve") : which}.${format}`;
    if (which === "view") {
      if (format === "png") $("view").toBlob((b) => download(b, name), "image/png");
      else download(new Blob([viewSVG()], { type: "image/svg+xml" }), name);
      return;
    }
    const text = svgText(which);
    if (format === "svg") download(new Blob([text], { type: "image/svg+xml" }), name);
    else svgToPng(text, name);
  }

  // --- wiring ---------------------------------------------------------------------------------
  function init() {
    for (const f of FIELDS) {
      const input = $(f);
      input.addEventListener("change", configure);
      if (input.type === "range") input.addEventListener("input", () => { const o = $(`${f}-out`); if (o) o.textContent = input.value; });
    }
    $("play").addEventListener("click", play);
    $("step").addEventListener("click", oneStep);
    $("reset").addEventListener("click", () => { clearError(); send({ type: "reset" }); });
    $("stepmode").addEventListener("change", (e) => setStepMode(e.target.checked));
    $("export-model").addEventListener("click", () => { clearError(); send({ type: "export" }); });
    for (const b of document.querySelectorAll("[data-export]")) b.addEventListener("click", () => exportFigure(b.dataset.export, b.dataset.format));
    for (const r of document.querySelectorAll('input[name="colour"]')) r.addEventListener("change", (e) => { state.colourBy = e.target.value; drawAll(); });
    $("csv").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (!file) return;
      clearError();
      if (file.size > 256 * 1024) { showError("the CSV file is larger than 256 KiB"); e.target.value = ""; return; }
      file.text().then((text) => { send({ type: "upload", csv: text }); setPlaying(false); e.target.value = ""; });
    });
    document.addEventListener("keydown", (e) => {
      const t = e.target;
      if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
      if (e.key === " ") { e.preventDefault(); play(); }
      else if (e.key === "s") oneStep();
      else if (e.key === "r") send({ type: "reset" });
      else if (state.stepMode && state.stepper && e.key === "ArrowRight") { e.preventDefault(); state.stepper.next(); }
      else if (state.stepMode && state.stepper && e.key === "ArrowLeft") { e.preventDefault(); state.stepper.prev(); }
      else if (state.stepMode && state.stepper && e.key === "Home") { e.preventDefault(); state.stepper.go(0); }
      else if (state.stepMode && state.stepper && e.key === "End") { e.preventDefault(); state.stepper.go(1e9); }
    });
    connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
