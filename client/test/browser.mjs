// Headless-Chromium test of velro-batch.js, no npm packages.
//
//   node test/browser.mjs                      mock batch endpoint (test/server.mjs)
//   VELRO_TOKEN=... node test/browser.mjs --gateway http://127.0.0.1:8080 [--max 20] [--batch-path /api/batch]
//
// Starts test/server.mjs on a free port, runs
//   chromium --headless=new --no-sandbox --disable-gpu --virtual-time-budget=... --dump-dom URL
// and parses the JSON results the page writes into <pre id="velro-result">. The page
// runs the scenarios; the server counts batch requests (per X-Velro-Test header),
// which is how "3 calls in one tick -> exactly 1 batch request" is checked.
// Exit 0 with "SKIP" when no Chromium is installed (CHROMIUM=path overrides).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from './server.mjs';

if (process.env.NODE_TEST_CONTEXT) {
  // picked up by `node --test test/` (Node 20 runs every .mjs under test/): not a unit test
  process.exit(0);
}

const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const gateway = arg('--gateway');
const max = Number(arg('--max') || 20);
const batchPath = arg('--batch-path') || '/api/batch';
const TIMEOUT_MS = Number(process.env.BROWSER_TIMEOUT_MS || 60000);

const chromium = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome'].find((p) => p && existsSync(p));
if (!chromium) {
  console.log('SKIP browser test: no /usr/bin/chromium (apt-get install -y --no-install-recommends chromium)');
  process.exit(0);
}
if (gateway && !process.env.VELRO_TOKEN) {
  console.error('--gateway needs a token in env VELRO_TOKEN');
  process.exit(2);
}

const t0 = Date.now();
const srv = await startServer({ gateway, token: process.env.VELRO_TOKEN, max, batchPath });
const profile = mkdtempSync(path.join(tmpdir(), 'velro-chromium-'));
let code = 1;
try {
  const dom = await runChromium(srv.url);
  const m = /<pre id="velro-result">([\s\S]*?)<\/pre>/.exec(dom);
  if (!m) {
    console.error('no results in the dumped DOM:\n' + dom.slice(0, 2000));
  } else {
    const result = JSON.parse(m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&nbsp;/g, '\u00a0').replace(/&amp;/g, '&'));
    // server-side view, independent of the page
    result.checks.push({
      name: 'server: the one-tick scenario arrived as exactly one batch request of 3 items',
      ok: srv.stats.batches.core === 1 && srv.stats.items.core === 3,
      detail: { batches: srv.stats.batches.core, items: srv.stats.items.core },
    });
    let failed = 0;
    for (const c of result.checks) {
      if (!c.ok) failed++;
      console.log(`${c.ok ? 'ok    ' : 'FAIL  '} ${c.name}${c.ok ? '' : '  ' + JSON.stringify(c.detail)}`);
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`${result.mode} mode${gateway ? ' (' + gateway + ')' : ''}: ${result.checks.length - failed}/${result.checks.length} passed, ${secs}s; batch requests seen: ${JSON.stringify(srv.stats.batches)}`);
    code = failed || result.checks.length === 0 ? 1 : 0;
  }
} catch (e) {
  console.error(String(e && e.stack || e));
} finally {
  await srv.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);

function runChromium(url) {
  return new Promise((resolve, reject) => {
    const child = spawn(chromium, [
      '--headless=new', '--disable-gpu', '--no-sandbox', '--disable-dev-shm-usage',
      '--no-first-run', '--no-default-browser-check', '--disable-extensions',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--mute-audio', `--user-data-dir=${profile}`,
      '--virtual-time-budget=10000', '--dump-dom', url,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // only the process we started, by its handle
      reject(new Error(`chromium did not finish within ${TIMEOUT_MS} ms\n${err.slice(-2000)}`));
    }, TIMEOUT_MS);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      if (out.includes('velro-result') || status === 0) resolve(out);
      else reject(new Error(`chromium exited ${status}\n${err.slice(-2000)}`));
    });
  });
}
