// ragchaos live: draws what /api/stream sends, and sends the presenter's buttons to /api/*.
// Nothing is computed here that the report would compute differently: every figure comes
// from the server's frames; this file only lays them out.
(function () {
  "use strict";

  const WINDOW_S = 120;            // seconds of history on the charts
  const COLORS = { naive: "#D55E00", reference: "#0072B2" };
  const EXTRA = ["#009E73", "#CC79A7", "#000000"];
  const TILES = [
    ["rps", "req/s", (v) => fmt(v, 0)],
    ["p50_ms", "p50", (v) => secs(v)],
    ["p99_ms", "p99", (v) => secs(v)],
    ["error_share", "errors", (v) => pct(v)],
    ["degraded_share", "degraded", (v) => pct(v)],
    ["goodput", "within SLO/s", (v) => fmt(v, 0)],
    ["provider_429", "provider 429/s", (v) => fmt(v, 0)],
    ["attempts_per_answer", "calls/answer", (v) => fmt(v, 1)],
    ["breakers", "breakers", (v) => breakers(v)],
    ["cache_hit_rate", "cache hits", (v) => pct(v)],
    ["shed", "shed/s", (v) => fmt(v, 0)],
    ["dropped", "dropped (load)", (v) => fmt(v, 0)],
  ];

  const live = {
    apps: [], sloMs: {}, frames: [], bands: [], loadEvents: [], plan: null, notes: [], log: [],
    drawn: [],                     // {t, at}: when the frame of second t reached the screen (ms epoch)
    controls: false, load: null, report: null, source: null, charts: {},
  };
  window.ragchaosLive = live;

  function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }
  function pct(v) {
    if (v === null || v === undefined) return "–";
    const p = v * 100;
    return (p > 0 && p < 1 ? p.toFixed(1) : p.toFixed(0)) + "%";
  }
  function secs(ms) {
    if (ms === null || ms === undefined) return "–";
    return ms >= 1000 ? (ms / 1000).toFixed(1) + " s" : Math.round(ms) + " ms";
  }
  function breakers(b) {
    if (!b) return "–";
    const open = Object.entries(b).filter(([, s]) => s !== "closed");
    if (!Object.keys(b).length) return "–";
    return open.length ? open.map(([d, s]) => d + " " + s).join(", ") : "closed";
  }
  function clock(t) { return new Date(t * 1000).toLocaleTimeString([], { hour12: false }); }
  function colorOf(app, i) { return COLORS[app] || EXTRA[i % EXTRA.length]; }
  function $(id) { return document.getElementById(id); }

  // ---- state ------------------------------------------------------------------------------
  function merge(snap) {
    live.apps = snap.apps; live.sloMs = snap.slo_ms; live.bands = snap.bands;
    live.loadEvents = snap.load_events; live.plan = snap.plan; live.notes = snap.notes; live.log = snap.log;
    live.controls = snap.controls; live.load = snap.load; live.report = snap.report;
    const last = live.frames.length ? live.frames[live.frames.length - 1].t : -Infinity;
    for (const f of snap.frames) if (f.t > last) live.frames.push(f);
    if (live.frames.length > 900) live.frames.splice(0, live.frames.length - 900);
    $("status").textContent = snap.status;
  }

  // error share of an app over [from, to) epoch seconds, from the frames the page holds
  live.errorShare = function (app, from, to) {
    let req = 0, err = 0;
    const outcomes = {};
    for (const f of live.frames) {
      if (f.t < from || f.t >= to) continue;
      const a = f.apps[app];
      if (!a || a.error_share === null) continue;
      req += a.check; err += Math.round(a.error_share * a.check);
      for (const [o, n] of Object.entries(a.outcomes || {})) outcomes[o] = (outcomes[o] || 0) + n;
    }
    return { requests: req, errors: err, share: req ? err / req : null, outcomes };
  };

  // ---- drawing ------------------------------------------------------------------------------
  function buildTiles() {
    const el = $("tiles");
    el.innerHTML = "";
    el.style.gridTemplateColumns = "150px " + live.apps.map(() => "1fr").join(" ");
    el.appendChild(document.createElement("div"));
    for (const app of live.apps) {
      const h = document.createElement("div");
      h.className = "head " + app; h.textContent = app;
      el.appendChild(h);
    }
    for (const [key, label] of TILES) {
      const l = document.createElement("div");
      l.className = "label"; l.textContent = label;
      el.appendChild(l);
      for (const app of live.apps) {
        const v = document.createElement("div");
        v.className = "value"; v.dataset.app = app; v.dataset.metric = key; v.textContent = "–";
        el.appendChild(v);
      }
    }
  }

  function drawTiles(frame) {
    for (const [key, , show] of TILES) {
      for (const app of live.apps) {
        const el = document.querySelector(`.value[data-app="${app}"][data-metric="${key}"]`);
        if (!el) continue;
        const v = frame ? frame.apps[app] && frame.apps[app][key] : null;
        el.textContent = show(v);
        el.dataset.value = v === null || v === undefined ? "" : (typeof v === "object" ? JSON.stringify(v) : v);
        el.classList.toggle("bad", (key === "error_share" && v > 0.05) || (key === "dropped" && v > 0));
        el.classList.toggle("good", key === "error_share" && v === 0);
      }
    }
  }

  // fault bands, load changes and phases, drawn under the lines of every chart
  function overlay(u) {
    const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, left = u.bbox.left, right = left + u.bbox.width;
    const now = live.frames.length ? live.frames[live.frames.length - 1].t + 1 : Date.now() / 1000;
    ctx.save();
    ctx.font = `bold ${Math.round(14 * devicePixelRatio)}px DejaVu Sans, Arial, sans-serif`;
    const rowEnds = [-Infinity, -Infinity];  // two rows of labels; a label that would overlap is left out
    for (const b of live.bands) {
      const x0 = Math.max(left, u.valToPos(b.start, "x", true));
      const x1 = Math.min(right, u.valToPos(b.end || now, "x", true));
      if (x1 <= left || x0 >= right) continue;
      ctx.fillStyle = "rgba(230, 159, 0, 0.25)";
      ctx.fillRect(x0, top, Math.max(x1 - x0, 2), height);
      ctx.fillStyle = "#7a4d00";
      const who = b.targets.length === live.apps.length ? "" : " (" + b.targets.join(", ") + ")";
      const text = b.label + who, w = ctx.measureText(text).width;
      const row = rowEnds.findIndex((end) => x0 > end + 6);
      if (row >= 0 && x0 + w < right) {
        ctx.fillText(text, x0 + 4, top + 14 * devicePixelRatio * (1 + row));
        rowEnds[row] = x0 + 4 + w;
      }
    }
    ctx.strokeStyle = "#555"; ctx.lineWidth = 1;
    for (const e of live.loadEvents) {
      const x = u.valToPos(e.t, "x", true);
      if (x < left || x > right) continue;
      ctx.setLineDash([2, 3]); ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
    }
    ctx.setLineDash([]);
    let phase = null, labelEnd = -Infinity;
    ctx.fillStyle = "#333";
    for (const f of live.frames) {
      if (f.phase && f.phase !== phase) {
        const x = u.valToPos(f.t, "x", true);
        if (x >= left && x <= right) {
          ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
          if (x > labelEnd + 6) {  // a phase too short for its name keeps its line only
            ctx.fillText(f.phase, x + 3, top + height - 4);
            labelEnd = x + 3 + ctx.measureText(f.phase).width;
          }
        }
        phase = f.phase;
      }
    }
    if (u.__slo !== undefined) {
      const y = u.valToPos(u.__slo, "y", true);
      if (y >= top && y <= top + height) {
        ctx.strokeStyle = "#000"; ctx.lineWidth = 2 * devicePixelRatio; ctx.setLineDash([10, 6]);
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
        const label = "SLO " + secs(u.__slo * 1000), w = ctx.measureText(label).width;
        ctx.fillStyle = "#fff"; ctx.fillRect(right - w - 10, y - 18 * devicePixelRatio, w + 8, 16 * devicePixelRatio);
        ctx.fillStyle = "#000"; ctx.fillText(label, right - w - 6, y - 5 * devicePixelRatio);
      }
    }
    ctx.restore();
  }

  function series(thin) {
    const out = [{}];
    live.apps.forEach((app, i) => {
      out.push({ label: app, stroke: colorOf(app, i), width: 4, dash: app === "naive" ? undefined : [12, 6],
                 spanGaps: false, points: { show: false } });
      if (thin) out.push({ label: app + " " + thin, stroke: colorOf(app, i), width: 1.5,
                           dash: app === "naive" ? undefined : [6, 4], points: { show: false } });
    });
    return out;
  }

  function makeChart(id, thin, yRange) {
    const el = $(id);
    const rect = el.parentElement.getBoundingClientRect();
    const opts = {
      width: Math.max(300, Math.floor(rect.width)), height: Math.max(90, Math.floor(rect.height - 22)),
      legend: { show: false }, cursor: { show: false },
      scales: { x: { time: true }, y: { range: yRange } },
      axes: [
        { stroke: "#111", font: "15px DejaVu Sans, Arial", grid: { stroke: "#ddd" }, ticks: { stroke: "#999" },
          size: 28, space: 110, values: (u, splits) => splits.map(clock) },
        { stroke: "#111", font: "15px DejaVu Sans, Arial", size: 58, grid: { stroke: "#ddd" } },
      ],
      series: series(thin),
      hooks: { drawClear: [overlay] },
    };
    return new uPlot(opts, [[]].concat(opts.series.slice(1).map(() => [])), el);
  }

  function buildCharts() {
    for (const c of Object.values(live.charts)) c.destroy();
    live.charts = {
      errors: makeChart("chart-errors", null, (u, min, max) => [0, Math.max(10, Math.ceil(max / 10) * 10)]),
      latency: makeChart("chart-latency", "p50", (u, min, max) => [0, Math.max(max * 1.1, (sloS() || 1) * 1.3)]),
      goodput: makeChart("chart-goodput", "all", (u, min, max) => [0, Math.max(2, max * 1.15)]),
    };
    live.charts.latency.__slo = sloS();
  }

  function sloS() { const q = live.sloMs && (live.sloMs.query || Object.values(live.sloMs)[0]); return q ? q / 1000 : undefined; }

  function column(frames, app, key, scale) {
    return frames.map((f) => {
      const a = f.apps[app];
      const v = a ? a[key] : null;
      return v === null || v === undefined ? null : v * (scale || 1);
    });
  }

  function drawCharts() {
    const end = live.frames.length ? live.frames[live.frames.length - 1].t + 1 : Date.now() / 1000;
    const frames = live.frames.filter((f) => f.t >= end - WINDOW_S);
    const xs = frames.map((f) => f.t);
    const errors = [xs], latency = [xs], goodput = [xs];
    for (const app of live.apps) {
      errors.push(column(frames, app, "error_share", 100));
      latency.push(column(frames, app, "p99_ms", 0.001), column(frames, app, "p50_ms", 0.001));
      goodput.push(column(frames, app, "goodput"), column(frames, app, "rps"));
    }
    // a young session is drawn over at least a minute, not squeezed into the right edge
    const first = live.frames.length ? live.frames[0].t : end;
    const scale = { min: Math.max(end - WINDOW_S, Math.min(first, end - 60)), max: end };
    for (const [name, data] of [["errors", errors], ["latency", latency], ["goodput", goodput]]) {
      const c = live.charts[name];
      c.batch(() => { c.setData(data, false); c.setScale("x", scale); });
    }
  }

  // the newest window's notes, one line per app in its colour, then the latest events
  function drawNotes() {
    const el = $("notes");
    el.innerHTML = "";
    const newest = live.notes.length ? live.notes[live.notes.length - 1].t : null;
    const lines = [];
    const latest = live.notes.filter((n) => n.t === newest);
    for (const app of live.apps) {
      const mine = latest.filter((n) => n.app === app && n.source !== "checks");
      if (!mine.length) continue;
      const level = mine.some((n) => n.level === "bad") ? "bad" : mine.every((n) => n.level === "quiet") ? "quiet" : "good";
      lines.push({ t: newest, app, level, text: mine.map((n) => n.text).join(" · "), evidence: mine.map((n) => n.evidence).join("; ") });
    }
    const checks = latest.filter((n) => n.source === "checks");
    if (checks.length) {
      const level = checks.some((n) => n.level === "bad") ? "bad" : checks.every((n) => n.level === "good") ? "good" : "quiet";
      lines.push({ t: newest, app: null, level, text: "checks: " + checks.map((n) => n.text).join(" · "),
                   evidence: checks.map((n) => n.evidence).join("; ") });
    }
    for (const e of live.log.slice(-(checks.length ? 1 : 2)).reverse()) lines.push({ t: e.t, app: null, level: "event", text: e.text, evidence: "" });
    for (const n of lines) {
      const li = document.createElement("li");
      li.className = n.level;
      const t = document.createElement("time");
      t.textContent = clock(n.t);
      li.appendChild(t);
      if (n.app) {
        const b = document.createElement("b");
        b.textContent = n.app + ": "; b.style.color = colorOf(n.app, live.apps.indexOf(n.app));
        li.appendChild(b);
        li.dataset.app = n.app;
      }
      li.appendChild(document.createTextNode(n.text));
      li.title = n.evidence || "";
      el.appendChild(li);
    }
  }

  function drawControls() {
    const on = live.controls;
    $("load-controls").hidden = !on;
    $("fault-bar").hidden = !on;
    if (live.load && live.load.running && document.activeElement !== $("load-level")) {
      $("load-level").value = live.load.level;  // after a spike, the box says what runs
      $("load-mode").value = live.load.mode;
    }
    if (live.load) {
      $("load-now").textContent = live.load.running
        ? `running ${fmt(live.load.level, live.load.level % 1 ? 1 : 0)} ${live.load.mode === "rate" ? "req/s" : "users"}`
        : "stopped";
    }
    const active = new Set(live.bands.filter((b) => b.end === null && b.source === "button").map((b) => b.preset));
    for (const btn of document.querySelectorAll("#fault-buttons button")) btn.classList.toggle("on", active.has(btn.dataset.preset));
    const link = $("report-link");
    link.hidden = !live.report;
    if (live.report) link.href = live.report;
    const last = live.frames[live.frames.length - 1];
    $("phase").hidden = !(last && last.phase);
    if (last && last.phase) $("phase").textContent = last.phase;
  }

  let pending = false;
  function render() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const last = live.frames[live.frames.length - 1];
      drawTiles(last);
      drawCharts();
      drawNotes();
      drawControls();
      // the frame is on screen once the browser paints after this callback
      if (last) requestAnimationFrame(() => {
        if (!live.drawn.length || live.drawn[live.drawn.length - 1].t !== last.t) {
          live.drawn.push({ t: last.t, at: Date.now() });
          if (live.drawn.length > 600) live.drawn.shift();
        }
      });
    });
  }

  // ---- controls -----------------------------------------------------------------------------
  async function post(path, body) {
    const resp = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json", "X-Ragchaos-Live": "1" },
      body: JSON.stringify(body || {}),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) $("status").textContent = data.error || `${path}: ${resp.status}`;
    return data;
  }

  async function buildFaultButtons() {
    const presets = await (await fetch("/api/presets")).json();
    const box = $("fault-buttons");
    box.innerHTML = "";
    for (const p of presets) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = p.label; b.title = p.what; b.dataset.preset = p.name;
      b.id = "fault-" + p.name;
      b.addEventListener("click", () => {
        const active = live.bands.find((x) => x.end === null && x.preset === p.name && x.source === "button");
        if (active) post("/api/faults/clear", { id: active.id });
        else post("/api/faults", { preset: p.name, target: $("fault-target").value });
      });
      box.appendChild(b);
    }
    const target = $("fault-target");
    for (const app of live.apps) {
      if ([...target.options].some((o) => o.value === app)) continue;
      const o = document.createElement("option");
      o.value = app; o.textContent = app + " only";
      target.appendChild(o);
    }
  }

  function wireControls() {
    $("load-start").addEventListener("click", () =>
      post("/api/load", { level: Number($("load-level").value), mode: $("load-mode").value }));
    $("load-spike").addEventListener("click", () => post("/api/load/spike", {}));
    $("load-stop").addEventListener("click", () => post("/api/load/stop", {}));
    $("fault-clear").addEventListener("click", () => post("/api/faults/clear", {}));
  }

  // ---- the stream -----------------------------------------------------------------------------
  let backoff = 500;
  function connect() {
    const since = live.frames.length ? live.frames[live.frames.length - 1].t : "";
    const src = new EventSource("/api/stream" + (since ? "?since=" + since : ""));
    live.source = src;
    src.onmessage = (ev) => { backoff = 500; merge(JSON.parse(ev.data)); render(); };
    src.onerror = () => {
      $("status").textContent = "reconnecting…";
      // a 4xx/5xx ends an EventSource for good: make a new one, backing off
      if (src.readyState === EventSource.CLOSED) {
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    };
  }

  async function start() {
    const snap = await (await fetch("/api/state")).json();
    merge(snap);
    buildTiles();
    buildCharts();
    await buildFaultButtons();
    wireControls();
    if (live.load) { $("load-mode").value = live.load.mode; if (live.load.level) $("load-level").value = live.load.level; }
    render();
    connect();
    let resizing = null;
    window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(() => { buildCharts(); render(); }, 200); });
  }

  start().catch((e) => { $("status").textContent = "could not start: " + e; });
})();
