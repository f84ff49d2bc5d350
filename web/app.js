// itscam dashboard: plain JS, no framework, no build step; served from the binary (src/service/web_assets.*).
//
// Grid of cameras (MSE players fed by fetch() streaming of /streams/{id}/live.mp4), a per-camera view with a
// canvas overlay drawn from /streams/{id}/detections (Server-Sent Events), live metrics from /health/performance,
// alerts from /api/v1/alerts, and adding/removing cameras with a bearer token kept in sessionStorage.
// Cameras with traffic analytics get their counting lines and zones drawn over the video, with live counts per
// direction and zone occupancy / queue / congestion, from /api/v1/cameras/{id}/analytics (polled every second).
// Without the streaming endpoints (404) a tile says "no stream" and detections come from
// /api/v1/cameras/{id}/detections/latest instead.
'use strict';

const CFG = {
  metricsMs: 2000, camerasMs: 3000, alertsMs: 5000, latestMs: 1000, latestViewMs: 250,
  analyticsMs: 1000,       // live counts and zone state of the cameras shown
  analyticsRetryMs: 30000, // a camera without analytics (404) is asked again this much later
  gridPlayers: 4,          // live players in the grid: browsers allow 6 HTTP/1.1 connections per origin
  liveLagMax: 3.0,         // s behind the buffered end before jumping to the live edge
  liveLagTarget: 0.5,      // s behind the buffered end after such a jump
  keepBehind: 10,          // s of played media kept in the SourceBuffer
  trimAfter: 20,           // trim once this much played media is buffered
  maxQueuedBytes: 8 << 20, // bytes waiting for the SourceBuffer before we reconnect (far behind)
  stallMs: 10000,          // no bytes for this long: reconnect
  recordsKept: 600,        // detection records kept for time alignment
  defaultMime: 'video/mp4; codecs="avc1.42E01F"',
};
const TOKEN_KEY = 'itscam.apiToken';

// ---------- small helpers ----------
const $ = (sel, root = document) => root.querySelector(sel);
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const enc = encodeURIComponent;
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
function fmt(v, digits = 1) {
  if (!isNum(v)) return '–';
  return v.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
const fmtInt = (v) => (isNum(v) ? Math.round(v).toLocaleString() : '–');
const fmtMs = (v) => (isNum(v) ? `${fmt(v, v < 10 ? 1 : 0)} ms` : '–');
const fmtPct = (v) => (isNum(v) ? `${fmt(v * 100, 1)} %` : '–');
function fmtDuration(s) {
  if (!isNum(s)) return '–';
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return `${m}m ${Math.floor(s % 60)}s`;
}
function setText(id, text) {
  const e = typeof id === 'string' ? document.getElementById(id) : id;
  if (e && e.textContent !== text) e.textContent = text;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
// Every request carries the token when one is set: with server.read_token the reads need it too (the read token
// or the API token). A ?token= in the page's address is taken once into sessionStorage and removed from it.
function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}
(() => {
  const u = new URL(window.location.href);
  const t = u.searchParams.get('token');
  if (t === null) return;
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  u.searchParams.delete('token');
  window.history.replaceState(null, '', u.pathname + u.search + u.hash);
})();

// fetch + JSON; never throws: {ok, status, body, error}.
async function api(path, opts = {}) {
  try {
    const r = await fetch(path, { cache: 'no-store', ...opts, headers: authHeaders(opts.headers || {}) });
    let body = null;
    const ct = r.headers.get('Content-Type') || '';
    if (ct.includes('json')) body = await r.json().catch(() => null);
    else await r.text().catch(() => '');
    return { ok: r.ok, status: r.status, body, error: r.ok ? null : (body && body.error) || `HTTP ${r.status}` };
  } catch (e) {
    return { ok: false, status: 0, body: null, error: String(e && e.message ? e.message : e) };
  }
}

// Repeats fn every ms (after each run completes), while not stopped.
function every(ms, fn) {
  let timer = null, stopped = false;
  const run = async () => {
    if (stopped) return;
    try { await fn(); } catch (e) { console.warn(e); }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}

// ---------- where a camera is read ----------
// Cluster mode (docs/cluster.md): the list gives every camera's owner_api (its node's base URL). A camera running on
// another node is read straight from that node, which answers this page's origin with CORS headers (a redirect
// through this node would drop the Authorization header). Cameras of this node, and every camera without a
// cluster, keep relative URLs.
function cameraBase(id) {
  const owner = state.ownerApi.get(id);
  if (!owner) return '';
  try {
    const origin = new URL(owner).origin;
    return origin === window.location.origin ? '' : origin;
  } catch (_) {
    return '';  // not a URL: read through this node (which redirects)
  }
}
function cameraUrl(id, path) { return cameraBase(id) + path; }

// ---------- streaming capability ----------
// What the server says about a camera's stream: {status: 'ok'|'absent'|'error', info, mime}.
async function streamInfo(id, signal) {
  try {
    const r = await fetch(cameraUrl(id, `/streams/${enc(id)}`), { cache: 'no-store', signal, headers: authHeaders() });
    if (r.status === 404 || r.status === 501) return { status: 'absent' };
    if (!r.ok) return { status: 'error', error: `HTTP ${r.status}` };
    const info = await r.json().catch(() => ({}));
    // "mime" is empty until the camera's first frame has been seen (the codec string comes from the encoder).
    if (info && info.mime === '') return { status: 'waiting', info };
    return { status: 'ok', info, mime: pickMime(info) };
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    return { status: 'error', error: String(e) };
  }
}
// The MSE type from the info JSON, whatever the exact field name.
function pickMime(info) {
  if (!info || typeof info !== 'object') return CFG.defaultMime;
  for (const k of ['mime', 'mime_type', 'mimeType', 'mse_mime', 'content_type', 'type']) {
    if (typeof info[k] === 'string' && info[k].includes('codecs')) return info[k];
  }
  const codecs = info.codecs || info.codec || (info.video && (info.video.codecs || info.video.codec));
  if (typeof codecs === 'string' && /^(avc|hvc|hev|vp|av01)/.test(codecs)) return `video/mp4; codecs="${codecs}"`;
  for (const v of Object.values(info)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const m = pickMime(v);
      if (m !== CFG.defaultMime) return m;
    }
  }
  return CFG.defaultMime;
}

// ---------- MSE live player ----------
// Plays /streams/{id}/live.mp4 (fragmented MP4: init segment, then moof/mdat) through a SourceBuffer fed by
// fetch() streaming. Keeps near the live edge, trims played media (bounded memory) and reconnects with backoff.
class LivePlayer {
  constructor(video, cameraId, onStatus) {
    this.video = video;
    this.id = cameraId;
    this.onStatus = onStatus || (() => {});
    this.status = '';
    this.backoff = 1000;
    this.timer = null;
    this.ticker = null;
    this.ctrl = null;
    this.bytes = 0;
    this.info = null;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.ticker = setInterval(() => this.maintain(), 500);
    this.connect();
  }

  stop() {
    this.running = false;
    clearInterval(this.ticker);
    clearTimeout(this.timer);
    this.teardown();
    this.setStatus('stopped');
  }

  setStatus(s, detail) {
    this.status = s;
    this.onStatus(s, detail);
  }

  teardown() {
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    this.queue = [];
    this.queued = 0;
    this.sb = null;
    if (this.ms && this.ms.readyState === 'open') {
      try { this.ms.endOfStream(); } catch (_) { /* already ended */ }
    }
    this.ms = null;
    if (this.video.src) {
      this.video.removeAttribute('src');
      this.video.load();
    }
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }

  retry(ms) {
    this.teardown();
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), ms);
  }

  async connect() {
    if (!this.running) return;
    this.teardown();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    this.setStatus('connecting');
    try {
      const s = await streamInfo(this.id, ctrl.signal);
      if (ctrl.signal.aborted) return;
      if (s.status === 'absent') {
        this.setStatus('no stream');
        return this.retry(15000);  // the camera may start streaming later
      }
      if (s.status === 'waiting') {
        this.setStatus('waiting for video');
        return this.retry(2000);
      }
      if (s.status !== 'ok') throw new Error(s.error);
      this.info = s.info;
      const mime = s.mime;
      if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) {
        this.setStatus('unsupported', `this browser cannot play ${mime}`);
        return this.retry(60000);
      }
      const ms = new MediaSource();
      this.ms = ms;
      this.url = URL.createObjectURL(ms);
      this.video.src = this.url;
      await new Promise((res, rej) => {
        ms.addEventListener('sourceopen', res, { once: true });
        ctrl.signal.addEventListener('abort', () => rej(new DOMException('aborted', 'AbortError')), { once: true });
      });
      const sb = ms.addSourceBuffer(mime);
      sb.mode = 'segments';
      sb.addEventListener('updateend', () => { this.maintain(); this.pump(); });
      sb.addEventListener('error', () => this.retry(this.nextBackoff()));
      this.sb = sb;
      this.queue = [];
      this.queued = 0;
      this.seekedLive = false;
      const given = s.info && (s.info.live_url || s.info.url);
      const livePath = typeof given === 'string' && given.startsWith('/') ? given : `/streams/${enc(this.id)}/live.mp4`;
      const liveUrl = cameraUrl(this.id, livePath);
      const r = await fetch(liveUrl, { cache: 'no-store', signal: ctrl.signal, headers: authHeaders() });
      if (r.status === 404) {
        this.setStatus('no stream');
        return this.retry(15000);
      }
      if (!r.ok || !r.body) throw new Error(`live.mp4: HTTP ${r.status}`);
      this.setStatus('buffering');
      const reader = r.body.getReader();
      this.lastBytesAt = performance.now();
      for (;;) {
        const { done, value } = await reader.read();
        if (done || ctrl.signal.aborted) break;
        this.lastBytesAt = performance.now();
        this.bytes += value.byteLength;
        this.enqueue(value);
      }
      if (!ctrl.signal.aborted) {
        this.setStatus('reconnecting', 'stream ended');
        this.retry(this.nextBackoff());
      }
    } catch (e) {
      if (ctrl.signal.aborted || (e && e.name === 'AbortError')) return;
      this.setStatus('reconnecting', String(e && e.message ? e.message : e));
      this.retry(this.nextBackoff());
    }
  }

  nextBackoff() {
    const b = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 10000);
    return b;
  }

  enqueue(chunk) {
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    if (this.queued > CFG.maxQueuedBytes) {
      // The decoder cannot keep up (or the tab slept): start again at the live fragment.
      this.setStatus('reconnecting', 'too far behind');
      return this.retry(100);
    }
    this.pump();
  }

  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || !this.queue.length || !this.ms || this.ms.readyState !== 'open') return;
    // Appending many small network chunks one by one costs an updateend round trip each: merge them.
    let data;
    if (this.queue.length === 1) data = this.queue[0];
    else {
      data = new Uint8Array(this.queued);
      let o = 0;
      for (const c of this.queue) { data.set(c, o); o += c.byteLength; }
    }
    try {
      sb.appendBuffer(data);
      this.queue = [];
      this.queued = 0;
    } catch (e) {
      if (e && e.name === 'QuotaExceededError') {
        this.queue = [data];
        this.queued = data.byteLength;
        this.trim(true);
      } else {
        this.setStatus('reconnecting', String(e && e.message ? e.message : e));
        this.retry(this.nextBackoff());
      }
    }
  }

  // Removes played media so the SourceBuffer stays small (hard: keep only the last 2 s).
  trim(hard) {
    const sb = this.sb, v = this.video;
    if (!sb || sb.updating || !sb.buffered.length) return false;
    const start = sb.buffered.start(0), t = v.currentTime;
    const keep = hard ? 2 : CFG.keepBehind;
    if (t - start > (hard ? keep : CFG.trimAfter) && t - keep > start) {
      try { sb.remove(start, t - keep); return true; } catch (_) { return false; }
    }
    return false;
  }

  // Live edge, gaps, stalls, playback, trimming; runs on every append and twice a second.
  maintain() {
    const sb = this.sb, v = this.video;
    if (!sb || !this.ms || this.ms.readyState !== 'open') return;
    if (this.lastBytesAt && performance.now() - this.lastBytesAt > CFG.stallMs) {
      this.setStatus('reconnecting', 'stalled');
      return this.retry(100);
    }
    const b = sb.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1), t = v.currentTime;
    let inRange = false, nextStart = null;
    for (let i = 0; i < b.length; i++) {
      if (t >= b.start(i) && t < b.end(i)) inRange = true;
      if (b.start(i) > t && nextStart === null) nextStart = b.start(i);
    }
    if (!this.seekedLive || end - t > CFG.liveLagMax) {
      // First data, or too far behind: jump near the live edge (within the last buffered range).
      v.currentTime = Math.max(b.start(b.length - 1), end - CFG.liveLagTarget);
      this.seekedLive = true;
    } else if (!inRange && nextStart !== null) {
      v.currentTime = nextStart + 0.01;  // a gap (a skipped fragment): hop over it
    }
    if (v.paused && v.readyState >= 2) v.play().catch(() => {});
    if (!sb.updating) this.trim(false);
    if (v.readyState >= 2 && !v.paused) {
      this.backoff = 1000;
      if (this.status !== 'live') this.setStatus('live');
    }
    this.lag = end - v.currentTime;
  }
}

// ---------- detections ----------
// Detection records for one camera: SSE /streams/{id}/detections when it exists, else polling
// /api/v1/cameras/{id}/detections/latest. Keeps recent records for aligning them with the video by pts.
class DetectionFeed {
  constructor(cameraId, { sse = true, pollMs = CFG.latestMs, onRecord } = {}) {
    this.id = cameraId;
    this.useSse = sse;
    this.pollMs = pollMs;
    this.onRecord = onRecord || (() => {});
    this.records = [];
    this.mode = '';
    this.count = 0;
  }

  start() {
    this.stopped = false;
    if (this.useSse && window.EventSource) this.openSse();
    else this.startPolling();
  }

  stop() {
    this.stopped = true;
    if (this.es) this.es.close();
    this.es = null;
    if (this.stopPoll) this.stopPoll();
    this.stopPoll = null;
    clearTimeout(this.sseRetry);
  }

  openSse() {
    // EventSource cannot send headers: the server takes the token as ?access_token= on /streams/* only.
    const q = token() ? `?access_token=${encodeURIComponent(token())}` : '';
    const es = new EventSource(cameraUrl(this.id, `/streams/${enc(this.id)}/detections${q}`));
    this.es = es;
    let got = false;
    const onMsg = (ev) => {
      got = true;
      if (this.mode !== 'sse') { this.mode = 'sse'; if (this.stopPoll) { this.stopPoll(); this.stopPoll = null; } }
      try { this.add(JSON.parse(ev.data)); } catch (_) { /* keep-alive or foreign event */ }
    };
    es.addEventListener('message', onMsg);
    es.addEventListener('detections', onMsg);
    es.addEventListener('detection', onMsg);
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // 404 (no streaming) or a non-SSE answer: poll instead, and try SSE again later.
        es.close();
        if (this.es === es) this.es = null;
        if (this.stopped) return;
        this.startPolling();
        this.sseRetry = setTimeout(() => { if (!this.stopped && !this.es) this.openSse(); }, got ? 2000 : 30000);
      }
    });
  }

  startPolling() {
    if (this.stopPoll || this.stopped) return;
    this.mode = 'poll';
    let lastFrame = null;
    this.stopPoll = every(this.pollMs, async () => {
      const r = await api(cameraUrl(this.id, `/api/v1/cameras/${enc(this.id)}/detections/latest`));
      if (r.ok && r.body && r.body.frame !== lastFrame) {
        lastFrame = r.body.frame;
        this.add(r.body);
      }
    });
  }

  add(rec) {
    // An event may carry one record, or wrap it ({record: {...}} / {detections: [...]}).
    if (rec && rec.record && typeof rec.record === 'object') rec = rec.record;
    if (!rec || !Array.isArray(rec.detections)) return;
    rec._recv = performance.now();
    this.records.push(rec);
    if (this.records.length > CFG.recordsKept) this.records.splice(0, this.records.length - CFG.recordsKept);
    this.count++;
    this.onRecord(rec);
  }

  latest() { return this.records.length ? this.records[this.records.length - 1] : null; }
}

// The media time of a record: an explicit stream timestamp when the server gives one, else the frame's pts.
function recordTime(r) {
  for (const k of ['media_time', 'video_time', 'stream_time', 'pts_s', 'pts']) if (isNum(r[k])) return r[k];
  return null;
}

// Draws the boxes of the record that matches what the video shows.
class Overlay {
  constructor(canvas, video, feed) {
    this.canvas = canvas;
    this.video = video;
    this.feed = feed;
    this.ctx = canvas.getContext('2d');
    this.offset = null;    // record time - video time, when estimated
    this.sync = 'latest';
    this.enabled = true;
    this.drawn = null;
    this.analytics = null;  // the camera's /analytics answer: lines and zones drawn under the boxes
  }

  start() {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.draw();
      this.raf = requestAnimationFrame(loop);
    };
    this.raf = requestAnimationFrame(loop);
  }

  stop() {
    this.stopped = true;
    cancelAnimationFrame(this.raf);
    this.clear();
  }

  clear() { this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height); }

  // Learns how record times map onto the video timeline when a record arrives (called by the feed).
  observe(rec, bufferedEnd) {
    const rt = recordTime(rec);
    if (rt === null || !isNum(bufferedEnd) || bufferedEnd <= 0) return;
    const d = rt - bufferedEnd;
    if (Math.abs(d) < 3) { this.offset = 0; return; }  // same clock: detections arrive with their fragment
    if (this.offset === null || Math.abs(d - this.offset) > 5) this.offset = d;  // first guess or the clip looped
    else this.offset += 0.1 * (d - this.offset);
  }

  pick() {
    const recs = this.feed.records;
    if (!recs.length) return null;
    const v = this.video;
    const playing = v && v.readyState >= 2 && v.videoWidth > 0;
    if (!playing || this.offset === null) {
      this.sync = 'latest';
      const last = recs[recs.length - 1];
      return performance.now() - last._recv < 3000 ? last : null;
    }
    const target = v.currentTime + this.offset;
    // The newest record at or before the shown frame (with half a frame of slack), if recent enough.
    let best = null;
    for (let i = recs.length - 1; i >= 0; i--) {
      const rt = recordTime(recs[i]);
      if (rt !== null && rt <= target + 0.02) { best = recs[i]; break; }
    }
    if (best && target - recordTime(best) < 1.0) {
      this.sync = this.offset === 0 ? 'pts' : 'pts (estimated offset)';
      return best;
    }
    this.sync = 'latest';
    const last = recs[recs.length - 1];
    return performance.now() - last._recv < 3000 ? last : null;
  }

  draw() {
    const c = this.canvas, ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(c.clientWidth * dpr), h = Math.round(c.clientHeight * dpr);
    if (!w || !h) return;
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    ctx.clearRect(0, 0, w, h);
    const rec = this.enabled && this.feed ? this.pick() : null;
    this.drawn = rec;
    const an = this.enabled ? this.analytics : null;
    if (!rec && !an) return;
    // The frame as the <video> shows it (object-fit: contain), or the record's frame size without video.
    const v = this.video;
    const fw = (rec && rec.width) || (an && an.width) || (v && v.videoWidth) || 16;
    const fh = (rec && rec.height) || (an && an.height) || (v && v.videoHeight) || 9;
    const scale = Math.min(w / fw, h / fh);
    const ox = (w - fw * scale) / 2, oy = (h - fh * scale) / 2;
    const font = Math.max(11, Math.round(12 * dpr));
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    ctx.lineWidth = Math.max(2, Math.round(2 * dpr));
    ctx.textBaseline = 'top';
    if (an) drawAnalytics(ctx, an, ox, oy, scale, font, dpr);
    if (!rec) return;
    for (const d of rec.detections) {
      if (!Array.isArray(d.box) || d.box.length < 4) continue;
      const [x1, y1, x2, y2] = d.box;
      const x = ox + x1 * scale, y = oy + y1 * scale, bw = (x2 - x1) * scale, bh = (y2 - y1) * scale;
      const color = classColor(d.class_id);
      ctx.strokeStyle = color;
      ctx.strokeRect(x, y, bw, bh);
      const label = detLabel(d);
      const tw = ctx.measureText(label).width + 6;
      const ty = y - font - 4 >= 0 ? y - font - 4 : y;
      ctx.fillStyle = color;
      ctx.fillRect(x, ty, tw, font + 4);
      ctx.fillStyle = '#000';
      ctx.fillText(label, x + 3, ty + 2);
    }
  }
}

function labelOf(d) { return d.class || d.name || `class ${d.class_id}`; }

// "car #12 0.87" (the track id when the camera tracks, the speed when it is calibrated: "car #12 0.87 48 km/h").
function detLabel(d) {
  const parts = [labelOf(d)];
  if (isNum(d.track_id) && d.track_id > 0) parts.push(`#${d.track_id}`);
  if (isNum(d.score)) parts.push(d.score.toFixed(2));
  if (isNum(d.speed_kmh)) parts.push(`${Math.round(d.speed_kmh)} km/h`);
  return parts.join(' ');
}

const CONGESTION_COLORS = { free: '#3ccf7a', slow: '#f0b429', queued: '#ef5350' };

// A label on a dark box at (x, y), kept inside the canvas.
function tag(ctx, text, x, y, font, color) {
  const tw = ctx.measureText(text).width + 8;
  const cx = Math.max(0, Math.min(x, ctx.canvas.width - tw));
  const cy = Math.max(0, Math.min(y, ctx.canvas.height - font - 6));
  ctx.fillStyle = 'rgba(10, 12, 16, .78)';
  ctx.fillRect(cx, cy, tw, font + 6);
  ctx.fillStyle = color;
  ctx.fillText(text, cx + 4, cy + 3);
}

// Counting lines (with an arrow towards "forward") and zones (tinted by congestion), with their live figures.
// Geometry is in source pixels; (ox, oy, scale) map it onto the canvas like the boxes.
function drawAnalytics(ctx, an, ox, oy, scale, font, dpr) {
  const P = (p) => [ox + p[0] * scale, oy + p[1] * scale];
  const ok = (p) => Array.isArray(p) && p.length >= 2 && isNum(p[0]) && isNum(p[1]);
  for (const z of an.zones || []) {
    if (!Array.isArray(z.polygon) || z.polygon.length < 3 || !z.polygon.every(ok)) continue;
    const color = CONGESTION_COLORS[z.congestion] || '#4fa3ff';
    ctx.beginPath();
    z.polygon.forEach((p, i) => { const [x, y] = P(p); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
    ctx.closePath();
    ctx.globalAlpha = 0.18;
    ctx.fillStyle = color;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    ctx.strokeStyle = color;
    ctx.stroke();
    ctx.setLineDash([]);
    const top = z.polygon.reduce((a, p) => (p[1] < a[1] ? p : a));
    const [tx, ty] = P(top);
    const figures = isNum(z.occupancy) ? ` · ${z.occupancy} in · queue ${z.queue} · ${z.congestion}` : '';
    tag(ctx, `${z.name}${figures}`, tx, ty + 2, font, color);
  }
  for (const l of an.lines || []) {
    if (!ok(l.a) || !ok(l.b)) continue;
    const [ax, ay] = P(l.a), [bx, by] = P(l.b);
    ctx.strokeStyle = '#ffd400';
    ctx.lineWidth = Math.max(2, Math.round(3 * dpr));
    ctx.beginPath();
    ctx.moveTo(ax, ay);
    ctx.lineTo(bx, by);
    ctx.stroke();
    // "forward" crosses from the left of a->b to its right (y down): the arrow points along the right normal.
    const len = Math.hypot(bx - ax, by - ay) || 1;
    const nx = -(by - ay) / len, ny = (bx - ax) / len;
    const mx = (ax + bx) / 2, my = (ay + by) / 2, k = 22 * dpr;
    ctx.beginPath();
    ctx.moveTo(mx, my);
    ctx.lineTo(mx + nx * k, my + ny * k);
    ctx.lineTo(mx + nx * k * 0.6 - ny * k * 0.3, my + ny * k * 0.6 + nx * k * 0.3);
    ctx.stroke();
    const c = l.counts || {};
    const counted = (dir) => (isNum(c[dir]) ? c[dir] : 0);
    const text = `${l.name}: ${l.forward} ${counted(l.forward)} · ${l.backward} ${counted(l.backward)}`;
    tag(ctx, text, mx + 6, my - font - 10, font, '#ffd400');
  }
  ctx.lineWidth = Math.max(2, Math.round(2 * dpr));
}

// Polls a camera's /analytics while it is shown; a camera without analytics (404) is asked again much later.
class AnalyticsPoller {
  constructor(id, onData) {
    this.id = id;
    this.onData = onData;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    const tick = async () => {
      if (this.stopped) return;
      let next = CFG.analyticsMs;
      try {
        const r = await api(cameraUrl(this.id, `/api/v1/cameras/${enc(this.id)}/analytics`));
        if (this.stopped) return;
        if (r.ok && r.body) this.onData(r.body);
        else {
          this.onData(null);
          if (r.status === 404) next = CFG.analyticsRetryMs;
        }
      } catch (e) {
        next = CFG.analyticsMs * 5;
      }
      if (!this.stopped) this.timer = setTimeout(tick, next);
    };
    tick();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

function classColor(id) {
  const hue = ((isNum(id) ? id : 0) * 47 + 190) % 360;
  return `hsl(${hue} 95% 58%)`;
}

// ---------- grid ----------
const state = {
  cameras: new Map(),   // id -> tile
  ownerApi: new Map(),  // id -> its owner node's base URL (cluster mode; cameraBase)
  view: 'grid',
  viewId: null,
  perf: null,
};

function tileStatus(tile, s, detail) {
  tile.status.textContent = s === 'live' ? '' : s + (detail ? ` — ${detail}` : '');
  tile.status.hidden = s === 'live';
  tile.root.dataset.stream = s;
  // Without a stream, still show detections: boxes on a blank frame from the latest-detections endpoint.
  if (s === 'no stream' || s === 'unsupported') startTileDetections(tile);
  else if (s === 'live') stopTileDetections(tile);
}

function startTileDetections(tile) {
  if (tile.feed) return;
  tile.feed = new DetectionFeed(tile.id, { sse: false, pollMs: CFG.latestMs });
  tile.overlay.feed = tile.feed;
  tile.feed.onRecord = (rec) => {
    setText(tile.dets, `${rec.detections.length} detections`);
  };
  tile.feed.start();
}

// The boxes stop (the live video has them burned in); the lines and zones stay.
function stopTileDetections(tile) {
  if (tile.feed) tile.feed.stop();
  tile.feed = null;
  tile.overlay.feed = null;
  setText(tile.dets, '');
}

// Lines and zones of a tile while its player runs.
function startTileAnalytics(tile) {
  if (tile.analytics) return;
  tile.analytics = new AnalyticsPoller(tile.id, (a) => { tile.overlay.analytics = a; });
  tile.analytics.start();
}

function stopTileAnalytics(tile) {
  if (tile.analytics) tile.analytics.stop();
  tile.analytics = null;
  tile.overlay.analytics = null;
}

function makeTile(cam) {
  const video = el('video', { muted: true, playsinline: true, autoplay: true });
  video.muted = true;
  const canvas = el('canvas', { class: 'overlay' });
  const status = el('div', { class: 'badge', text: '…' });
  const stateEl = el('span', { class: 'pill' });
  const stats = el('span', { class: 'tile-stats' });
  const dets = el('span', { class: 'tile-dets muted' });
  const tile = { id: cam.id, video, canvas, status, stateEl, stats, dets, player: null, feed: null, analytics: null };
  tile.overlay = new Overlay(canvas, null, null);
  tile.overlay.start();
  const remove = el('button', {
    class: 'remove', type: 'button', title: `Remove camera ${cam.id}`, 'aria-label': `Remove camera ${cam.id}`,
    text: '✕', onclick: () => removeCamera(cam.id),
  });
  tile.root = el('article', { class: 'tile', dataset: { camera: cam.id } },
    el('header', {}, el('a', { href: `#/camera/${enc(cam.id)}`, class: 'cam-name', text: cam.id }), stateEl, remove),
    el('a', { href: `#/camera/${enc(cam.id)}`, class: 'player', 'aria-label': `Open camera ${cam.id}` },
      video, canvas, status),
    el('footer', {}, stats, dets));
  return tile;
}

function updateTile(tile, cam) {
  const s = cam.stats || {};
  // Cluster mode (docs/cluster.md): every camera of the cluster is listed with its owner node; one running on
  // another node has no state here.
  const where = cam.owner ? ` · ${cam.owner}` : '';
  setText(tile.stateEl, cam.state ? `${cam.state}${where}` : (cam.owner ? `on ${cam.owner}` : '?'));
  tile.stateEl.className = `pill state-${(cam.state || '').replace(/[^a-z_]/g, '')}`;
  const p99 = s.latency && s.latency.p99_ms;
  setText(tile.stats, `${fmt(s.fps)} fps · p99 ${fmtMs(p99)} · dropped ${fmtInt(s.frames_dropped)}`);
}

// Live players only for the first few tiles of the grid, and none while one camera is open.
function syncPlayers() {
  let n = 0;
  for (const tile of state.cameras.values()) {
    const want = state.view === 'grid' && n < CFG.gridPlayers;
    n++;
    if (want && !tile.player) {
      tile.player = new LivePlayer(tile.video, tile.id, (s, d) => tileStatus(tile, s, d));
      tile.player.start();
      startTileAnalytics(tile);
    } else if (!want && tile.player) {
      tile.player.stop();
      tile.player = null;
      stopTileDetections(tile);
      stopTileAnalytics(tile);
      tileStatus(tile, 'paused', state.view === 'grid' ? 'open to watch' : '');
    } else if (!want && tile.root.dataset.stream === undefined) {
      tileStatus(tile, 'paused', 'open to watch');
    }
  }
}

async function refreshCameras() {
  const r = await api('/api/v1/cameras');
  if (!r.ok || !r.body || !Array.isArray(r.body.cameras)) return;
  const seen = new Set();
  const grid = $('#grid');
  for (const cam of r.body.cameras) {
    seen.add(cam.id);
    if (typeof cam.owner_api === 'string' && cam.owner_api) state.ownerApi.set(cam.id, cam.owner_api);
    else state.ownerApi.delete(cam.id);
    let tile = state.cameras.get(cam.id);
    if (!tile) {
      tile = makeTile(cam);
      state.cameras.set(cam.id, tile);
      grid.append(tile.root);
    }
    updateTile(tile, cam);
    if (state.view === 'camera' && state.viewId === cam.id) updateCameraView(cam);
  }
  for (const [id, tile] of state.cameras) {
    if (seen.has(id)) continue;
    state.ownerApi.delete(id);
    if (tile.player) tile.player.stop();
    stopTileDetections(tile);
    stopTileAnalytics(tile);
    tile.overlay.stop();
    tile.root.remove();
    state.cameras.delete(id);
  }
  setText('camera-count', `(${state.cameras.size})`);
  $('#grid-empty').hidden = state.cameras.size > 0;
  syncPlayers();
}

// ---------- per-camera view ----------
let cv = null;  // {id, player, feed, overlay, stop}

function openCameraView(id) {
  closeCameraView();
  state.view = 'camera';
  state.viewId = id;
  syncPlayers();  // free the grid's connections first
  $('#grid-view').hidden = true;
  $('#camera-view').hidden = false;
  setText('cv-title', id);
  for (const sel of ['#cv-detections', '#cv-stats', '#cv-stream']) $(sel).replaceChildren();
  const video = $('#cv-video');
  video.muted = true;
  const status = $('#cv-status');
  const view = { id };
  view.player = new LivePlayer(video, id, (s, d) => {
    status.textContent = s === 'live' ? '' : s + (d ? ` — ${d}` : '');
    status.hidden = s === 'live';
    $('#camera-view').dataset.stream = s;
    if (s === 'live' || s === 'no stream') renderStreamInfo(view.player.info, s);
    // The streaming server puts fragments (tfdt) and detection events ("pts") on one timeline: no offset.
    if (s === 'live' && view.player.info && view.player.info.events_url && view.overlay.offset === null) view.overlay.offset = 0;
  });
  view.feed = new DetectionFeed(id, {
    sse: true, pollMs: CFG.latestViewMs,
    onRecord: (rec) => {
      const sb = view.player.sb;
      if (sb && sb.buffered.length) view.overlay.observe(rec, sb.buffered.end(sb.buffered.length - 1));
    },
  });
  view.overlay = new Overlay($('#cv-overlay'), video, view.feed);
  view.overlay.enabled = $('#cv-show-overlay').checked;
  $('#cv-traffic-panel').hidden = true;
  view.analytics = new AnalyticsPoller(id, (a) => {
    view.overlay.analytics = a;
    renderTraffic(a);
  });
  view.analytics.start();
  view.player.start();
  view.feed.start();
  view.overlay.start();
  view.stopUi = every(250, () => renderCameraViewLive(view));
  view.stopStreams = every(5000, () => refreshStreamStats(view));
  cv = view;
  api(cameraUrl(id, `/api/v1/cameras/${enc(id)}`)).then((r) => {
    if (r.ok && r.body) updateCameraView(r.body);
    else if (r.status === 404) setText('cv-state', 'not found');
  });
}

function closeCameraView() {
  if (!cv) return;
  cv.player.stop();
  cv.feed.stop();
  cv.overlay.stop();
  cv.analytics.stop();
  cv.stopUi();
  cv.stopStreams();
  cv = null;
}

function renderCameraViewLive(view) {
  const rec = view.overlay.drawn || view.feed.latest();
  const list = $('#cv-detections');
  const key = rec ? `${rec.frame}` : '';
  if (list.dataset.frame !== key) {
    list.dataset.frame = key;
    const items = rec ? rec.detections.slice().sort((a, b) => (b.score || 0) - (a.score || 0)).slice(0, 50) : [];
    list.replaceChildren(...items.map((d) => {
      const sw = el('span', { class: 'swatch' });
      sw.style.background = classColor(d.class_id);
      return el('li', { class: 'det-label' }, sw,
        el('span', { text: detLabel(d) }));
    }));
    setText('cv-det-count', rec ? `(${rec.detections.length} in frame ${rec.frame}, via ${view.feed.mode})` : '');
  }
  const v = view.player.video;
  setText('cv-sync', view.overlay.enabled ? `overlay sync: ${view.overlay.sync}` : '');
  setText('cv-live', view.player.status === 'live'
    ? `t=${fmt(v.currentTime, 2)} s · ${fmt(view.player.lag, 2)} s behind live · ${fmt(view.player.bytes / 1e6, 1)} MB received`
    : '');
}

// The camera view's traffic panel: counts per line and direction, and each zone's state.
function renderTraffic(a) {
  const panel = $('#cv-traffic-panel');
  panel.hidden = !a;
  if (!a) return;
  const pairs = [['active tracks', fmtInt(a.active_tracks)]];
  for (const l of a.lines || []) {
    const c = l.counts || {};
    pairs.push([`line ${l.name}`, `${l.forward} ${fmtInt(c[l.forward] || 0)} · ${l.backward} ${fmtInt(c[l.backward] || 0)}`]);
  }
  for (const z of a.zones || []) {
    const speed = isNum(z.mean_speed_kmh) ? ` · ${fmt(z.mean_speed_kmh)} km/h` : '';
    pairs.push([`zone ${z.name}`, `${fmtInt(z.occupancy)} in · queue ${fmtInt(z.queue)} · ${z.congestion || '–'}${speed}`]);
  }
  kv($('#cv-traffic'), pairs);
}

function updateCameraView(cam) {
  setText('cv-state', cam.state || '');
  const s = cam.stats || {};
  const lat = s.latency || {};
  kv($('#cv-stats'), [
    ['url', cam.url || '–'], ['size', s.width ? `${s.width}×${s.height}` : '–'], ['fps', fmt(s.fps)],
    ['latency p50 / p95 / p99', `${fmtMs(lat.p50_ms)} / ${fmtMs(lat.p95_ms)} / ${fmtMs(lat.p99_ms)}`],
    ['captured / processed', `${fmtInt(s.frames_captured)} / ${fmtInt(s.frames_processed)}`],
    ['dropped / skipped', `${fmtInt(s.frames_dropped)} / ${fmtInt(s.frames_skipped)}`],
    ['reconnects / errors', `${fmtInt(s.reconnects)} / ${fmtInt(s.errors)}`],
    ['last error', s.last_error || '—'],
  ]);
}

function kv(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
}

function flatPairs(obj, prefix = '', out = []) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v) && out.length < 40) flatPairs(v, key, out);
    else if (out.length < 40) out.push([key, Array.isArray(v) ? listText(v) : isNum(v) ? fmt(v, 2) : String(v)]);
  }
  return out;
}

// An array in one line: objects by their name and a few numbers (renditions), scalars as they are.
function listText(a) {
  return a.map((x) => {
    if (!x || typeof x !== 'object') return String(x);
    const bits = [];
    if (x.width && x.height) bits.push(`${x.width}×${x.height}`);
    for (const k of ['bitrate_kbps', 'viewers', 'crf', 'qp']) if (isNum(x[k])) bits.push(`${k.replace('_kbps', '')} ${fmt(x[k], k === 'bitrate_kbps' ? 0 : 1)}${k === 'bitrate_kbps' ? ' kbps' : ''}`);
    return `${x.name || x.id || '?'}${bits.length ? ` (${bits.join(', ')})` : ''}`;
  }).join('; ') || '—';
}

function renderStreamInfo(info, status) {
  if (status === 'no stream') return kv($('#cv-stream'), [['stream', 'not available (no /streams endpoint)']]);
  if (info) kv($('#cv-stream'), flatPairs(info));
}

// Per-stream numbers (bitrate, rendition...) from /api/v1/streams when the server has it.
async function refreshStreamStats(view) {
  if (!view.player || view.player.status !== 'live') return;
  const r = await api('/api/v1/streams');
  if (!r.ok || !r.body) return;
  const list = Array.isArray(r.body) ? r.body : r.body.streams || r.body.cameras || [];
  const mine = Array.isArray(list) ? list.find((s) => s && (s.camera_id === view.id || s.id === view.id || s.camera === view.id)) : null;
  if (mine) kv($('#cv-stream'), flatPairs(mine));
}

// ---------- metrics ----------
async function refreshMetrics() {
  const r = await api('/health/performance');
  const conn = $('#conn');
  if (!r.ok || !r.body) {
    conn.textContent = r.status ? `performance: ${r.error}` : 'server unreachable';
    conn.className = 'conn bad';
    return;
  }
  conn.textContent = '';
  conn.className = 'conn';
  const p = r.body;
  state.perf = p;
  const health = $('#health');
  health.textContent = p.status || '?';
  health.className = `pill status-${p.status === 'healthy' ? 'ok' : 'bad'}`;
  const st = p.stages || {};
  const trio = (s) => (s ? `${fmtMs(s.p50_ms)} / ${fmtMs(s.p95_ms)} / ${fmtMs(s.p99_ms)}` : '–');
  setText('m-fps', fmt(p.fps));
  setText('m-inference', st.inference ? trio(st.inference) : `p99 ${fmtMs(p.inference_latency_p99)}`);
  setText('m-e2e', st.e2e ? trio(st.e2e) : `p99 ${fmtMs(p.e2e_latency_p99)}`);
  setText('m-processed', fmtInt(p.frames_processed));
  setText('m-dropped', `${fmtInt(p.frames_dropped)} / ${fmtInt(p.frames_skipped)} / ${fmtInt(p.frames_failed)}`);
  setText('m-pool', fmtPct(p.memory_pool_efficiency));
  const circuit = $('#m-circuit');
  setText(circuit, p.circuit_breaker_state || '–');
  circuit.className = `circuit-${p.circuit_breaker_state || 'unknown'}`;
  setText('m-gpu', p.gpu_utilization === null || p.gpu_utilization === undefined ? 'n/a' : fmtPct(p.gpu_utilization));
  setText('m-uptime', fmtDuration(p.uptime_s));
  $('#m-reasons').replaceChildren(...(p.reasons || []).map((x) => el('li', { text: x })));
  const tbody = $('#m-cameras tbody');
  tbody.replaceChildren(...(p.cameras || []).map((c) => el('tr', { dataset: { camera: c.id } },
    el('td', { text: c.id }), el('td', { text: c.state || '' }), el('td', { text: fmt(c.fps) }),
    el('td', { text: fmtMs(c.e2e_latency_p50) }), el('td', { text: fmtMs(c.e2e_latency_p99) }),
    el('td', { text: fmtInt(c.frames_dropped) }))));
}

// ---------- alerts ----------
async function refreshAlerts() {
  const r = await api('/api/v1/alerts');
  if (!r.ok || !r.body) return;
  const active = Array.isArray(r.body.alerts) ? r.body.alerts : [];
  const ul = $('#alerts-active');
  if (!active.length) {
    ul.replaceChildren(el('li', { class: 'muted', text: r.body.note || 'no active alerts' }));
  } else {
    ul.replaceChildren(...active.map((a) => el('li', { class: `alert sev-${a.severity} st-${a.state}` },
      el('strong', { text: `${a.severity} · ${a.rule}` }), el('span', { class: 'pill', text: a.state }),
      el('div', { class: 'msg', text: a.message || '' }),
      el('div', { class: 'muted', text: `value ${fmt(a.value, 2)} · threshold ${fmt(a.threshold, 2)}` }))));
  }
  setText('alerts-count', active.length ? `(${active.length})` : '');
  const recent = Array.isArray(r.body.recent) ? r.body.recent.slice(-30).reverse() : [];
  $('#alerts-recent').replaceChildren(...recent.map((t) => el('li', { class: `sev-${t.severity}` },
    el('time', { text: (t.at || '').replace('T', ' ').replace(/\.\d+Z$/, 'Z') }),
    el('span', { text: ` ${t.rule}: ${t.previous_state} → ${t.state}` }))));
}

// ---------- add / remove ----------
function needToken() {
  if (token()) return false;
  showMsg('Enter the API token (top right) first.', true);
  $('#token').focus();
  return true;
}

function showMsg(text, bad) {
  const m = $('#manage-msg');
  m.textContent = text;
  m.className = `msg ${bad ? 'bad' : 'ok'}`;
}

async function addCamera(ev) {
  ev.preventDefault();
  if (needToken()) return;
  const f = ev.target;
  const body = { id: f.id.value.trim(), url: f.url.value.trim() };
  if (f.max_fps.value !== '') body.max_fps = Number(f.max_fps.value);
  if (f.loop.checked) body.loop = true;
  const r = await api('/api/v1/cameras', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token()}` },
    body: JSON.stringify(body),
  });
  if (r.ok) {
    showMsg(`Camera ${body.id} added.`, false);
    f.reset();
    refreshCameras();
  } else {
    showMsg(`Could not add ${body.id}: ${r.error}`, true);
  }
}

async function removeCamera(id) {
  if (needToken()) return;
  if (!window.confirm(`Remove camera ${id}?`)) return;
  const r = await api(`/api/v1/cameras/${enc(id)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token()}` } });
  if (r.ok) {
    showMsg(`Camera ${id} removed.`, false);
    if (state.viewId === id) location.hash = '#/';
    refreshCameras();
  } else {
    showMsg(`Could not remove ${id}: ${r.error}`, true);
  }
}

function initToken() {
  const show = () => setText('token-state', token() ? 'token set (this tab only)' : 'no token');
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('#token').value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    $('#token').value = '';
    show();
  });
  $('#token-forget').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); show(); });
  show();
}

// ---------- routing ----------
function route() {
  const m = /^#\/camera\/(.+)$/.exec(location.hash);
  if (m) {
    const id = decodeURIComponent(m[1]);
    if (!cv || cv.id !== id) openCameraView(id);
    return;
  }
  closeCameraView();
  state.view = 'grid';
  state.viewId = null;
  $('#camera-view').hidden = true;
  $('#grid-view').hidden = false;
  syncPlayers();
}

function init() {
  initToken();
  $('#add-form').addEventListener('submit', addCamera);
  $('#cv-show-overlay').addEventListener('change', (ev) => { if (cv) cv.overlay.enabled = ev.target.checked; });
  window.addEventListener('hashchange', route);
  every(CFG.metricsMs, refreshMetrics);
  every(CFG.alertsMs, refreshAlerts);
  every(CFG.camerasMs, refreshCameras);
  route();
}

document.addEventListener('DOMContentLoaded', init);
