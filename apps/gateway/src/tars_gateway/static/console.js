// tars console: workers, live bus, turn waterfalls and push-to-talk, over two WebSockets.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_LINES = 500;
  const state = { token: "", paused: false, lines: [], turns: new Map(), health: {} };
  const stats = { busMessages: 0, turnsSeen: 0, audioReceivedS: 0, audioScheduledEnd: 0, audioChunks: 0,
                  lastReply: "", lastTranscript: "", talkReady: false, busReady: false, errors: [] };
  window.tars = { stats, state };

  function wsUrl(path) { return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path; }
  function fmtTime(ts) { const d = new Date(ts * 1000); return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0"); }
  function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]); }

  // -- token ---------------------------------------------------------------------------------
  function loadToken() {
    const m = location.hash.match(/token=([^&]+)/);
    if (m) { localStorage.setItem("tarsToken", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
    return localStorage.getItem("tarsToken") || "";
  }
  $("login").addEventListener("submit", (e) => {
    e.preventDefault(); localStorage.setItem("tarsToken", $("token").value.trim()); start();
  });

  // -- live bus -----------------------------------------------------------------------------
  function connectBus() {
    const ws = new WebSocket(wsUrl("/ws/bus"));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ token: state.token }));
    ws.onmessage = (ev) => {
      const text = typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data);
      const item = JSON.parse(text);
      if (item.kind === "error") { showLogin(item.error); return; }
      if (item.kind === "hello") {
        stats.busReady = true; setConn(true); renderHealth(item.health);
        for (const t of item.turns.reverse()) upsertTurn(t);
      } else if (item.kind === "health") renderHealth(item.health);
      else if (item.kind === "turn") upsertTurn(item.turn);
      else addLine(item);
    };
    ws.onclose = (ev) => { setConn(false); stats.busReady = false; if (ev.code !== 4401) setTimeout(connectBus, 1500); };
  }
  function setConn(on) { const c = $("conn"); c.textContent = on ? "connected" : "disconnected"; c.className = "pill " + (on ? "on" : "off"); }
  function showLogin(reason) { $("login").hidden = false; stats.errors.push(reason); setConn(false); }

  function summary(data) {
    if (!data || typeof data !== "object") return "";
    return Object.entries(data).filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length))
      .map(([k, v]) => k + "=" + (typeof v === "string" ? JSON.stringify(v.length > 60 ? v.slice(0, 60) + "…" : v) : JSON.stringify(v)))
      .join(" ").slice(0, 400);
  }
  function addLine(item) {
    stats.busMessages += 1;
    const text = item.kind === "raw" ? `${item.topic} (not a tars envelope) ${item.raw}` :
      `${item.topic} ${item.type} ${item.source} c:${(item.correlation_id || "").slice(0, 8)} @${item.site_id || "-"} ${summary(item.data)}`;
    state.lines.push({ item, text });
    if (state.lines.length > MAX_LINES) state.lines.shift();
    if (!state.paused && visible(item, text)) {
      const div = document.createElement("div");
      div.className = "line";
      div.dataset.type = item.type || "raw";
      div.innerHTML = `<span class="t">${fmtTime(item.ts || Date.now() / 1000)}</span> <span class="topic">${esc(item.topic)}</span> ` +
        `${esc(item.type || "")} <span class="cid">c:${esc((item.correlation_id || "").slice(0, 8))}</span> @${esc(item.site_id || "-")} ${esc(summary(item.data))}`;
      const bus = $("bus"); const stick = bus.scrollTop + bus.clientHeight >= bus.scrollHeight - 20;
      bus.appendChild(div);
      while (bus.childElementCount > MAX_LINES) bus.removeChild(bus.firstChild);
      if (stick) bus.scrollTop = bus.scrollHeight;
    }
  }
  function visible(item, text) {
    if ($("hide-hb").checked && item.type === "system.heartbeat") return false;
    const f = $("filter").value.trim().toLowerCase();
    return !f || text.toLowerCase().includes(f);
  }
  function rerender() {
    $("bus").innerHTML = ""; const keep = state.lines; state.lines = [];
    const paused = state.paused; state.paused = false; stats.busMessages -= keep.length;
    for (const l of keep) addLine(l.item);
    state.paused = paused;
  }
  $("filter").addEventListener("input", rerender);
  $("hide-hb").addEventListener("change", rerender);
  $("pause").addEventListener("click", () => { state.paused = !state.paused; $("pause").textContent = state.paused ? "resume" : "pause"; if (!state.paused) rerender(); });

  // -- workers ------------------------------------------------------------------------------
  function renderHealth(health) {
    state.health = health;
    const rows = Object.entries(health).map(([name, w]) => {
      const hb = w.heartbeat || {};
      const seen = hb.ts ? Math.round(Date.now() / 1000 - hb.ts) + " s ago" : "";
      return `<tr data-worker="${esc(name)}"><td>${esc(name)}</td><td><span class="pill ${esc(w.state)}">${esc(w.state)}</span></td>` +
        `<td>${esc(w.version || "")}</td><td>${hb.lag_p99_ms != null ? hb.lag_p99_ms.toFixed(1) + " ms" : ""}</td>` +
        `<td>${hb.rss_mb != null ? hb.rss_mb + " MB" : ""}</td><td>${hb.errors != null ? hb.errors : ""}</td><td class="muted">${seen}</td></tr>`;
    });
    $("workers").querySelector("tbody").innerHTML = rows.join("");
  }

  // -- turns --------------------------------------------------------------------------------
  function upsertTurn(turn) {
    if (!state.turns.has(turn.correlation_id)) stats.turnsSeen += 1;
    state.turns.set(turn.correlation_id, turn);
    let el = document.querySelector(`.turn[data-cid="${turn.correlation_id}"]`);
    if (!el) {
      el = document.createElement("div"); el.className = "turn"; el.dataset.cid = turn.correlation_id;
      $("turns").prepend(el);
      while ($("turns").childElementCount > 12) $("turns").removeChild($("turns").lastChild);
    }
    const total = Math.max(turn.total_ms, 1);
    const rows = turn.stages.map((s) => {
      const left = (s.offset_ms - s.duration_ms) / total * 100, width = s.duration_ms / total * 100;
      return `<div class="row stage" data-stage="${esc(s.name)}"><span>${esc(s.name)}</span><div class="track">` +
        `<div class="bar" style="left:${left.toFixed(2)}%;width:${Math.max(width, 0.3).toFixed(2)}%"></div></div>` +
        `<span class="num">+${s.offset_ms.toFixed(0)} ms</span></div>`;
    }).join("");
    el.innerHTML = `<div class="title"><span class="cid muted">${esc(turn.correlation_id.slice(0, 8))}</span>` +
      `<span>@${esc(turn.site || "-")}</span><b>${esc(turn.text || "…")}</b><span>→ ${esc(turn.reply || "")}</span>` +
      `<span class="muted">${esc(turn.path || "")} ${esc(turn.reason || "")} ${turn.total_ms.toFixed(0)} ms</span></div><div class="wf">${rows}</div>`;
  }

  // -- push to talk -------------------------------------------------------------------------
  let talkWs = null, ctx = null, mic = null, proc = null, talking = false, playhead = 0;
  function connectTalk() {
    talkWs = new WebSocket(wsUrl("/ws/talk"));
    talkWs.binaryType = "arraybuffer";
    talkWs.onopen = () => talkWs.send(JSON.stringify({ token: state.token }));
    talkWs.onmessage = (ev) => {
      if (typeof ev.data !== "string") { play(ev.data); return; }
      const msg = JSON.parse(ev.data);
      if (msg.type === "ready") { stats.talkReady = true; $("ptt").disabled = false; $("talk-state").textContent = `site ${msg.site}: hold the button (or the space bar) and speak`; }
      else if (msg.type === "transcript") { stats.lastTranscript = msg.text; $("heard").textContent = msg.text; }
      else if (msg.type === "result") { stats.lastReply = msg.reply; $("reply").textContent = msg.reply; }
      else if (msg.type === "turn") { $("talk-state").textContent = "listening… (turn " + msg.correlation_id.slice(0, 8) + ")"; }
      else if (msg.type === "audio_end") { $("talk-state").textContent = "reply played"; }
    };
    talkWs.onclose = (ev) => { stats.talkReady = false; $("ptt").disabled = true; if (ev.code !== 4401) setTimeout(connectTalk, 1500); };
  }
  function audioContext() {
    if (!ctx) ctx = new AudioContext({ sampleRate: 16000 });
    if (ctx.state === "suspended") ctx.resume();
    return ctx;
  }
  async function press() {
    if (talking || !talkWs || talkWs.readyState !== 1) return;
    talking = true; $("ptt").classList.add("talking"); $("ptt").textContent = "release to send";
    const ac = audioContext();
    if (!mic) mic = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    talkWs.send(JSON.stringify({ type: "press" }));
    const src = ac.createMediaStreamSource(mic);
    proc = ac.createScriptProcessor(2048, 1, 1);
    proc.onaudioprocess = (e) => {
      if (!talking) return;
      const f = e.inputBuffer.getChannelData(0), out = new Int16Array(f.length);
      for (let i = 0; i < f.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(f[i] * 32767)));
      talkWs.send(out.buffer);
    };
    src.connect(proc); proc.connect(ac.destination);
    proc._src = src;
  }
  function release() {
    if (!talking) return;
    talking = false; $("ptt").classList.remove("talking"); $("ptt").textContent = "hold to talk";
    if (proc) { proc._src.disconnect(); proc.disconnect(); proc = null; }
    talkWs.send(JSON.stringify({ type: "release" }));
    $("talk-state").textContent = "thinking…";
  }
  function play(buf) {
    const ac = audioContext();
    const rate = new DataView(buf).getUint32(0, true);
    const pcm = new Int16Array(buf.slice(4));
    if (!pcm.length) return;
    const ab = ac.createBuffer(1, pcm.length, rate), ch = ab.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
    const node = ac.createBufferSource(); node.buffer = ab; node.connect(ac.destination);
    playhead = Math.max(playhead, ac.currentTime + 0.05);
    node.start(playhead); playhead += ab.duration;
    stats.audioReceivedS += ab.duration; stats.audioChunks += 1; stats.audioScheduledEnd = playhead;
    $("talk-state").textContent = "speaking…";
  }
  window.tars.press = press; window.tars.release = release;
  window.tars.audioTime = () => (ctx ? ctx.currentTime : 0);
  const ptt = $("ptt");
  ptt.addEventListener("mousedown", press); ptt.addEventListener("touchstart", press);
  for (const e of ["mouseup", "mouseleave", "touchend"]) ptt.addEventListener(e, release);
  document.addEventListener("keydown", (e) => { if (e.code === "Space" && e.target.tagName !== "INPUT" && !e.repeat) { e.preventDefault(); press(); } });
  document.addEventListener("keyup", (e) => { if (e.code === "Space" && e.target.tagName !== "INPUT") release(); });

  function start() {
    state.token = loadToken();
    if (!state.token) { showLogin("no token"); return; }
    $("login").hidden = true;
    connectBus(); connectTalk();
  }
  start();
})();
