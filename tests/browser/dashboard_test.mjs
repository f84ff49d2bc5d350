// Browser end-to-end test of the dashboard (web/, served by `itscam run` at /): headless Debian chromium driven
// by playwright-core. Starts the service on a free port with the real model and a looping real clip, then checks
// in the browser: the page loads under its Content-Security-Policy without errors, the metrics panel shows numbers,
// the camera tile is there, alerts render, a camera can be added and removed with the API token; and
//   - with the streaming endpoints (/streams/{id}): a <video> element's currentTime advances (H.264 through Media
//     Source Extensions) and detection boxes/labels are drawn over it from the SSE stream;
//   - without them (404): the tile says "no stream" and boxes/labels are still drawn from detections/latest.
// Screenshots go to OUT/dashboard.png (camera view) and OUT/dashboard-grid.png. Exit 0 on success, 1 on failure.
//
//   node dashboard_test.mjs --itscam BIN --shared DIR --out DIR [--chromium /usr/bin/chromium] [--keep]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { parseArgs, until } from './harness.mjs';

const args = parseArgs('dashboard_test.mjs');
const TOKEN = 'browser-test-token';
const CAMERA = 'loop';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'itscam-browser-'));
fs.mkdirSync(args.out, { recursive: true });
const shot = path.join(args.out, 'dashboard.png');
const gridShot = path.join(args.out, 'dashboard-grid.png');

const log = (...m) => console.log(`[${(process.uptime()).toFixed(1)}s]`, ...m);
let server = null, browser = null, failed = false;
const checks = [];
function ok(name, detail = '') { checks.push(`ok   ${name}${detail ? `: ${detail}` : ''}`); log('ok', name, detail); }
function fail(name, detail = '') { failed = true; checks.push(`FAIL ${name}${detail ? `: ${detail}` : ''}`); log('FAIL', name, detail); }
async function check(name, fn) {
  try {
    const d = await fn();
    ok(name, typeof d === 'string' ? d : '');
    return true;
  } catch (e) {
    fail(name, e && e.message ? e.message.split('\n')[0] : String(e));
    return false;
  }
}

// ---------- the service ----------
function startServer() {
  const shared = path.resolve(args.shared);
  const clip = path.join(shared, 'data/videos/urban_road_cctv_360p.mp4');
  const config = `# written by tests/browser/dashboard_test.mjs
model: ${path.join(shared, 'models/yolo11n.onnx')}
server: { port: 0, allow_file_cameras: true }  # the test adds a clip through the dashboard
history: { path: ${path.join(work, 'history.db')} }
pipeline: { max_batch_size: 1 }
fallback: { enabled: false }
cameras:
  - id: ${CAMERA}
    url: ${clip}
    loop: true
    max_fps: 5
    analytics:  # the clip is 640x360: a line across the road and a zone over it
      lines: [{ name: mid, a: [0, 200], b: [640, 200], forward: down, backward: up }]
      zones: [{ name: road, polygon: [[20, 150], [620, 150], [620, 350], [20, 350]] }]
`;
  fs.writeFileSync(path.join(work, 'config.yaml'), config);
  const out = fs.openSync(path.join(work, 'itscam.log'), 'w');
  // Short GOP and the fastest preset (streaming builds that know them; others ignore the variables): the first
  // picture comes sooner and the 2-core CI machine is spared.
  const env = { ...process.env, ITSCAM_API_TOKEN: TOKEN, ITSCAM_STREAMING_GOP: '10', ITSCAM_STREAMING_PRESET: 'ultrafast' };
  server = spawn(args.itscam, ['run', '--config', path.join(work, 'config.yaml'), '--status-interval', '0'],
    { env, stdio: ['ignore', out, out], cwd: work });
  server.on('exit', (code, sig) => { server.exited = { code, sig }; });
  server.on('error', (e) => { server.exited = { error: e.message }; });  // say, no such binary
}
const serverLog = () => { try { return fs.readFileSync(path.join(work, 'itscam.log'), 'utf8'); } catch (_) { return ''; } };

async function stopServer() {
  if (!server || server.exited) return;
  server.kill('SIGINT');
  for (let i = 0; i < 100 && !server.exited; i++) await new Promise((r) => setTimeout(r, 100));
  if (!server.exited) { fail('itscam exits on SIGINT', 'still running after 10 s'); server.kill('SIGKILL'); }
}

async function main() {
  startServer();
  const port = await until('the HTTP port', () => {
    if (server.exited) throw Object.assign(new Error(`itscam exited: ${JSON.stringify(server.exited)}\n${serverLog()}`), { fatal: true });
    const m = /HTTP API on http:\/\/127\.0\.0\.1:(\d+)/.exec(serverLog());
    return m && Number(m[1]);
  }, 30000, 100);
  const base = `http://127.0.0.1:${port}`;
  log('itscam on', base);
  await until('/health/ready', async () => {
    if (server.exited) throw Object.assign(new Error(`itscam exited: ${JSON.stringify(server.exited)}`), { fatal: true });
    return (await fetch(`${base}/health/ready`)).status === 200;
  }, 180000, 500);
  ok('service ready');

  browser = await chromium.launch({
    executablePath: args.chromium || '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: CI runs as root. Autoplay: the players start muted without a user gesture anyway.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'],
  });
  log('chromium', browser.version());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const pageErrors = [], cspViolations = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    if (m.type() === 'error' && !/status of 404|status of 503/.test(m.text())) log('console.error:', m.text());
  });
  page.on('dialog', (d) => d.accept());

  // ---- the page and its headers ----
  const resp = await page.goto(`${base}/`, { waitUntil: 'load' });
  await check('GET / serves the dashboard', async () => {
    if (resp.status() !== 200) throw new Error(`status ${resp.status()}`);
    const h = resp.headers();
    if (!/^text\/html/.test(h['content-type'] || '')) throw new Error(`content-type ${h['content-type']}`);
    if (!/script-src 'self'/.test(h['content-security-policy'] || '')) throw new Error('no strict Content-Security-Policy');
    if (!/no-cache/.test(h['cache-control'] || '')) throw new Error(`cache-control ${h['cache-control']}`);
    if ((await page.title()).indexOf('itscam') < 0) throw new Error(`title ${await page.title()}`);
    return h['content-security-policy'];
  });
  await check('only embedded files are served', async () => {
    for (const p of ['/app.js', '/style.css']) {
      const r = await page.request.get(`${base}${p}`);
      if (r.status() !== 200) throw new Error(`${p}: ${r.status()}`);
    }
    for (const p of ['/..%2f..%2fetc/passwd', '/web/app.js', '/index.htm', '/app.js/', '/%2e%2e/CMakeLists.txt']) {
      const r = await page.request.get(`${base}${p}`);
      if (r.status() !== 404) throw new Error(`${p}: ${r.status()}, expected 404`);
    }
  });

  // ---- metrics, camera tile, alerts ----
  await check('metrics panel shows numbers', async () => {
    const fps = await until('fps > 0 in the metrics panel', async () => {
      const t = await page.textContent('#m-fps');
      return Number.parseFloat(t) > 0 ? t : null;
    }, 60000);
    const inf = await page.textContent('#m-inference');
    const e2e = await page.textContent('#m-e2e');
    const pool = await page.textContent('#m-pool');
    const circuit = await page.textContent('#m-circuit');
    if (!/\d+(\.\d+)? ms/.test(inf)) throw new Error(`inference latency '${inf}'`);
    if (!/\d+(\.\d+)? ms/.test(e2e)) throw new Error(`e2e latency '${e2e}'`);
    if (!/\d+(\.\d+)? %/.test(pool)) throw new Error(`pool efficiency '${pool}'`);
    if (!/^(closed|half_open|open)$/.test(circuit.trim())) throw new Error(`circuit '${circuit}'`);
    return `fps ${fps}, inference ${inf}, e2e ${e2e}, pool ${pool}, circuit ${circuit}`;
  });
  await check('camera tile present', async () => {
    await page.waitForSelector(`.tile[data-camera="${CAMERA}"]`, { timeout: 15000 });
    return await page.textContent(`.tile[data-camera="${CAMERA}"] header`);
  });
  await check('alerts panel renders', async () => {
    await page.waitForSelector('#alerts-active li', { timeout: 15000 });
    return `${await page.locator('#alerts-active li').count()} entries`;
  });

  // ---- add and remove a camera with the token ----
  await check('add and remove a camera with the API token', async () => {
    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type=submit]');
    const clip = path.join(path.resolve(args.shared), 'data/videos/intersection_cctv_480p.mp4');
    await page.fill('#add-form input[name=id]', 'added_cam');
    await page.fill('#add-form input[name=url]', clip);
    await page.fill('#add-form input[name=max_fps]', '1');
    await page.check('#add-form input[name=loop]');
    await page.click('#add-form button[type=submit]');
    await page.waitForSelector('.tile[data-camera="added_cam"]', { timeout: 15000 });
    const added = await page.request.get(`${base}/api/v1/cameras/added_cam`);
    if (added.status() !== 200) throw new Error(`GET added camera: ${added.status()}`);
    await page.click('.tile[data-camera="added_cam"] button.remove');
    await page.waitForSelector('.tile[data-camera="added_cam"]', { state: 'detached', timeout: 15000 });
    const gone = await page.request.get(`${base}/api/v1/cameras/added_cam`);
    if (gone.status() !== 404) throw new Error(`removed camera still answers ${gone.status()}`);
    return (await page.textContent('#manage-msg')).trim();
  });

  // ---- video and overlay ----
  const info = await page.request.get(`${base}/streams/${CAMERA}`);
  const streaming = info.status() !== 404;
  log(streaming ? `streaming endpoints present (/streams/${CAMERA}: ${info.status()})` : 'no streaming endpoints (404)');
  const mseH264 = await page.evaluate(() => !!window.MediaSource && MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01F"'));
  log('MediaSource H.264 (avc1.42E01F) supported:', mseH264);

  if (streaming) {
    await check('grid tile plays live video', async () => {
      const t = await until('the grid video to play', () => page.evaluate((id) => {
        const v = document.querySelector(`.tile[data-camera="${id}"] video`);
        return v && v.readyState >= 2 && v.currentTime > 0 ? v.currentTime : null;
      }, CAMERA), 60000);
      return `currentTime ${t.toFixed(2)} s`;
    });
    await page.screenshot({ path: gridShot });
  } else {
    await check('tile shows "no stream" without the streaming endpoints', async () => {
      await until('the "no stream" badge', async () => /no stream/.test(await page.textContent(`.tile[data-camera="${CAMERA}"] .badge`)), 20000);
    });
    await page.screenshot({ path: gridShot });
  }

  await page.goto(`${base}/#/camera/${CAMERA}`);
  await page.waitForSelector('#camera-view:not([hidden])');
  if (streaming) {
    await check('video currentTime advances (H.264 over MSE)', async () => {
      const first = await until('the camera video to play', () => page.evaluate(() => {
        const v = document.getElementById('cv-video');
        return v.readyState >= 2 && v.currentTime > 0 ? { t: v.currentTime, at: performance.now() } : null;
      }), 60000);
      const later = await until('currentTime to advance by 2 s', () => page.evaluate((t0) => {
        const v = document.getElementById('cv-video');
        return v.currentTime >= t0 + 2 ? v.currentTime : null;
      }, first.t), 30000);
      const q = await page.evaluate(() => {
        const v = document.getElementById('cv-video');
        const pq = v.getVideoPlaybackQuality();
        return { w: v.videoWidth, h: v.videoHeight, frames: pq.totalVideoFrames, dropped: pq.droppedVideoFrames, err: v.error && v.error.message };
      });
      if (q.err) throw new Error(`media error ${q.err}`);
      if (!(q.w > 0 && q.frames > 0)) throw new Error(`no decoded frames: ${JSON.stringify(q)}`);
      return `${first.t.toFixed(2)} s -> ${later.toFixed(2)} s, ${q.w}x${q.h}, ${q.frames} frames decoded, ${q.dropped} dropped`;
    });
  } else {
    await check('camera view says "no stream"', async () => {
      await until('"no stream"', async () => /no stream/.test(await page.textContent('#cv-status')), 20000);
    });
  }
  await check('detection boxes and labels are drawn', async () => {
    const labels = await until('detection labels', async () => {
      const n = await page.locator('#cv-detections li').count();
      return n > 0 ? n : null;
    }, 30000);
    const pixels = await until('boxes on the overlay canvas', () => page.evaluate(() => {
      const c = document.getElementById('cv-overlay');
      if (!c.width || !c.height) return null;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n > 50 ? n : null;
    }), 20000);
    const via = await page.textContent('#cv-det-count');
    if (streaming && !/via sse/.test(via)) throw new Error(`detections not from the SSE stream: '${via}'`);
    const sync = await page.textContent('#cv-sync');
    return `${labels} labels (${(await page.locator('#cv-detections li').first().textContent()).trim()}, ...), ${pixels} overlay pixels, ${via.trim()}, ${sync.trim()}`;
  });
  await check('traffic analytics: lines, zones and track ids', async () => {
    const text = await until('the traffic panel', async () => {
      const hidden = await page.evaluate(() => document.getElementById('cv-traffic-panel').hidden);
      const t = hidden ? '' : await page.textContent('#cv-traffic');
      return /line mid/.test(t) && /zone road/.test(t) ? t : null;
    }, 20000);
    // The counting line is drawn in yellow (#ffd400) over the video.
    const yellow = await until('the counting line on the overlay', () => page.evaluate(() => {
      const c = document.getElementById('cv-overlay');
      if (!c.width || !c.height) return null;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 240 && d[i + 1] > 195 && d[i + 1] < 230 && d[i + 2] < 40 && d[i + 3] > 200) n++;
      return n > 100 ? n : null;
    }), 10000);
    const tracked = await until('a label with a track id', async () => {
      const labels = await page.locator('#cv-detections li').allTextContents();
      return labels.find((l) => /#\d+/.test(l)) || null;
    }, 30000);
    return `${text.replace(/\s+/g, ' ').slice(0, 80)}; ${yellow} line pixels; '${tracked.trim()}'`;
  });
  await page.waitForTimeout(500);
  await page.screenshot({ path: shot });
  log('screenshots:', shot, gridShot);

  await check('no page errors and no CSP violations', async () => {
    if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join(' | ')}`);
    if (cspViolations.length) throw new Error(`CSP: ${cspViolations.join(' | ')}`);
  });
}

const watchdog = setTimeout(() => {
  fail('test finished in time', '300 s');
  finish();
}, 300000);

let finishing = false;
async function finish() {
  if (finishing) return;
  finishing = true;
  clearTimeout(watchdog);
  try { if (browser) await browser.close(); } catch (_) { /* already gone */ }
  await stopServer();
  console.log(`\n${checks.join('\n')}`);
  if (failed) console.log(`\n--- itscam log (${work}) ---\n${serverLog().split('\n').slice(-40).join('\n')}`);
  if (!args.keep) fs.rmSync(work, { recursive: true, force: true });
  console.log(failed ? '\nFAIL: browser dashboard test' : '\nok: browser dashboard test');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => fail('test run', e && e.stack ? e.stack : String(e))).finally(finish);
