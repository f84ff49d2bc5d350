// What the browser tests (dashboard_test.mjs, cluster_dashboard_test.mjs) share: their command line and polling.

// --itscam BIN --shared DIR --out DIR [--chromium PATH] [--keep]: {itscam, shared, out, ...}; exits 2 with the usage
// line when a required one is missing.
export function parseArgs(script, required = ['itscam', 'shared', 'out']) {
  const args = {};
  for (let i = 2; i < process.argv.length; i++) {
    const a = process.argv[i];
    if (!a.startsWith('--')) continue;
    const next = process.argv[i + 1];
    if (next === undefined || next.startsWith('--')) args[a.slice(2)] = true;
    else { args[a.slice(2)] = next; i++; }
  }
  for (const k of required) {
    if (!args[k]) { console.error(`usage: node ${script} --itscam BIN --shared DIR --out DIR (missing --${k})`); process.exit(2); }
  }
  return args;
}

// fn() every stepMs until it returns something truthy (returned), or throws after timeoutMs naming `what` and the
// last error. An error with .fatal set ends the wait at once.
export async function until(what, fn, timeoutMs, stepMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { if (e.fatal) throw e; last = e; }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}
