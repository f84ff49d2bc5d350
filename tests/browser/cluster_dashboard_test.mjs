// Browser test of the dashboard in cluster mode (docs/cluster.md, "Dashboards and CORS"): one etcd and two
// `itscam run` nodes on loopback (CPU, the small int8 model, 2 synthetic cameras, streaming on). The page is opened
// on the node that does NOT own camera X, so X's tile is a remote camera: its live.mp4 must be fetched from X's owner
// (another origin: preflight, then CORS; the nodes have a read token, so a redirect would lose the Authorization
// header) and its <video> must play (currentTime advances), with no CSP violation and
// no page error. Screenshot: OUT/dashboard-cluster.png. Exit 0 on success, 1 on failure, 77 without /usr/bin/etcd.
//
//   node cluster_dashboard_test.mjs --itscam BIN --shared DIR --out DIR [--chromium /usr/bin/chromium] [--keep]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { parseArgs, until } from './harness.mjs';

const args = parseArgs('cluster_dashboard_test.mjs');
const ETCD = '/usr/bin/etcd';
if (!fs.existsSync(ETCD)) { console.log(`SKIP: no ${ETCD} (apt-get install etcd-server)`); process.exit(77); }
const model = path.join(path.resolve(args.shared), 'models/yolo11n_int8_320.onnx');
if (!fs.existsSync(model)) { console.log(`SKIP: no ${model}`); process.exit(77); }
// With a read token every read needs Authorization (or ?access_token=), which a cross-origin redirect would drop: the
// page (holding the API token, good for reads too) must go to the owner itself.
const TOKEN = 'cluster-browser-token';
const READ_TOKEN = 'cluster-browser-read-token';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'itscam-cluster-browser-'));
fs.mkdirSync(args.out, { recursive: true });
const t0 = Date.now();
const log = (...m) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...m);
const procs = [];
let failed = false;
function fail(what) { failed = true; log('FAIL', what); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function start(name, cmd, argv, env = {}) {
  const logPath = path.join(work, `${name}.log`);
  const out = fs.openSync(logPath, 'w');
  const p = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', out, out], cwd: work });
  p.on('exit', (code, sig) => { p.exited = { code, sig }; });
  p.on('error', (e) => { p.exited = { error: e.message }; });
  p.logPath = logPath;
  p.name = name;
  procs.push(p);
  return p;
}
const readLog = (p) => { try { return fs.readFileSync(p.logPath, 'utf8'); } catch (_) { return ''; } };

async function startNode(name, etcdUrl) {
  const cfg = path.join(work, `${name}.yaml`);
  fs.writeFileSync(cfg, `# written by tests/browser/cluster_dashboard_test.mjs
model: ${model}
device: cpu
plan_cache_dir: ${work}/plans
server: { host: 127.0.0.1, port: 0 }
history: { enabled: false }
pipeline: { max_batch_size: 2 }
fallback: { enabled: false }
cluster: { endpoints: [${etcdUrl}], node: ${name}, lease_ttl_s: 3 }
cameras:
  - { id: cama, url: 'synthetic://320x240@5', max_fps: 5 }
  - { id: camb, url: 'synthetic://320x240@5', max_fps: 5 }
`);
  // Short GOP and the fastest preset, as in dashboard_test.mjs: the first picture comes sooner on 2 cores.
  const p = start(name, path.resolve(args.itscam), ['run', '--config', cfg, '--status-interval', '0'],
    { ITSCAM_API_TOKEN: TOKEN, ITSCAM_READ_TOKEN: READ_TOKEN, ITSCAM_STREAMING_GOP: '10',
      ITSCAM_STREAMING_PRESET: 'ultrafast' });
  const port = await until(`${name}'s HTTP port`, () => {
    if (p.exited) throw Object.assign(new Error(`${name} exited: ${JSON.stringify(p.exited)}\n${readLog(p)}`), { fatal: true });
    const m = /HTTP API on http:\/\/127\.0\.0\.1:(\d+)/.exec(readLog(p));
    return m && Number(m[1]);
  }, 30000, 100);
  return { name, proc: p, base: `http://127.0.0.1:${port}` };
}

const auth = { Authorization: `Bearer ${TOKEN}` };

async function main() {
  const client = await freePort(), peer = await freePort();
  const etcdUrl = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  start('etcd', ETCD, ['--name=t', `--data-dir=${work}/etcd-data`, `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`, `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=t=${peerUrl}`, '--log-level=warn']);
  await until('etcd /health', async () => (await (await fetch(`${etcdUrl}/health`)).text()).includes('"true"'), 15000);
  const nodes = [await startNode('c1', etcdUrl), await startNode('c2', etcdUrl)];
  // Both members registered, both cameras owned; then the page goes to a node that does not own `cam`.
  const cams = await until('both cameras owned, both nodes members', async () => {
    for (const n of nodes) {
      const perf = await (await fetch(`${n.base}/health/performance`, { headers: auth })).json();
      if (!perf.cluster || perf.cluster.may_publish !== true || (perf.cluster.members || []).length !== 2) return null;
    }
    const list = (await (await fetch(`${nodes[0].base}/api/v1/cameras`, { headers: auth })).json()).cameras;
    return list.length === 2 && list.every((c) => c.owner && c.owner_api) ? list : null;
  }, 40000, 250);
  const cam = cams[0];
  const owner = nodes.find((n) => n.name === cam.owner);
  const viewer = nodes.find((n) => n !== owner);
  if (cam.owner_api !== owner.base) throw new Error(`owner_api ${cam.owner_api}, expected ${owner.base}`);
  log(`${cam.id} runs on ${owner.name} (${owner.base}); the dashboard is opened on ${viewer.name} (${viewer.base})`);

  const browser = await chromium.launch({
    executablePath: args.chromium || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const problems = [];
    const liveRequests = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|CORS|blocked/i.test(m.text())) problems.push(m.text());
    });
    page.on('request', (r) => { if (r.url().includes(`/streams/${cam.id}/live.mp4`)) liveRequests.push(r.url()); });
    await page.goto(`${viewer.base}/?token=${TOKEN}`, { waitUntil: 'load' });
    const sel = `article[data-camera="${cam.id}"] video`;
    const t = await until(`${cam.id}'s remote tile playing`, () => page.evaluate((s) => {
      const v = document.querySelector(s);
      return v && v.readyState >= 2 && v.currentTime > 0 ? v.currentTime : null;
    }, sel), 20000, 250);
    const later = await until('its currentTime to advance by 1 s', () => page.evaluate(([s, t1]) => {
      const v = document.querySelector(s);
      return v.currentTime >= t1 + 1 ? v.currentTime : null;
    }, [sel, t]), 10000, 250);
    log(`remote tile ${cam.id}: currentTime ${t.toFixed(2)} -> ${later.toFixed(2)} s`);
    const direct = liveRequests.filter((u) => u.startsWith(`${owner.base}/`));
    if (!direct.length) fail(`live.mp4 of ${cam.id} was not fetched from its owner: ${JSON.stringify(liveRequests)}`);
    const viaViewer = liveRequests.filter((u) => u.startsWith(`${viewer.base}/`));
    if (viaViewer.length) fail(`live.mp4 of ${cam.id} was also asked of ${viewer.name}: ${JSON.stringify(viaViewer)}`);
    if (problems.length) fail(`console: ${problems.join(' | ')}`);
    await page.screenshot({ path: path.join(args.out, 'dashboard-cluster.png') });
  } finally {
    await browser.close();
  }
}

async function finish() {
  for (const p of procs.reverse()) {
    if (p.exited) continue;
    p.kill('SIGTERM');
    for (let i = 0; i < 100 && !p.exited; i++) await new Promise((r) => setTimeout(r, 100));
    if (!p.exited) p.kill('SIGKILL');
  }
  if (failed) for (const p of procs) console.log(`--- ${p.name} log ---\n${readLog(p).split('\n').slice(-25).join('\n')}`);
  if (!args.keep) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
  console.log(failed ? `\nFAIL: browser cluster dashboard test (${((Date.now() - t0) / 1000).toFixed(1)} s)`
    : `\nok: browser cluster dashboard test (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e))).finally(finish);
