// A tiny HTTP server for the headless-Chromium test (no npm packages).
//
//   GET  /                 the test page (runs the scenario, writes JSON results into the DOM)
//   GET  /velro-batch.js   the library under test
//   GET  /__stats          batch requests seen, counted per X-Velro-Test header value
//   POST /api/batch        mock mode: a MOCK batch endpoint per INTERFACE.md "Batch"
//   *    /api/...          mock mode: mock item endpoints (/api/echo/..., /api/status/NNN)
//                          gateway mode: reverse-proxied to the gateway (same origin, no CORS)
//
// Standalone:  node test/server.mjs [--port 8099] [--gateway http://127.0.0.1:8080]
//              (token for gateway mode: env VELRO_TOKEN), then open the printed URL.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LIB = path.join(HERE, '..', 'velro-batch.js');
const FORBIDDEN = new Set([ // as src/velro_batch.c
  'authorization', 'cookie', 'host', 'connection', 'keep-alive',
  'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect',
]);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * @param {{port?: number, host?: string, gateway?: string, token?: string,
 *          batchPath?: string, max?: number}} [opts]
 */
export async function startServer({
  port = 0, host = '127.0.0.1', gateway, token, batchPath = '/api/batch', max = 20,
} = {}) {
  const mode = gateway ? 'gateway' : 'mock';
  const stats = { batches: {}, items: {}, total: 0 };
  const config = {
    mode, batchPath, max,
    token: mode === 'mock' ? 'mock-token' : (token || ''),
  };

  function count(req, nitems) {
    const tag = String(req.headers['x-velro-test'] || '-');
    stats.batches[tag] = (stats.batches[tag] || 0) + 1;
    stats.items[tag] = (stats.items[tag] || 0) + nitems;
    stats.total += 1;
  }

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      if (req.method === 'GET' && url.pathname === '/') {
        return send(res, 200, 'text/html; charset=utf-8', page(config));
      }
      if (req.method === 'GET' && url.pathname === '/velro-batch.js') {
        return send(res, 200, 'text/javascript; charset=utf-8', await readFile(LIB));
      }
      if (req.method === 'GET' && url.pathname === '/__stats') {
        return json(res, 200, stats);
      }
      if (url.pathname === '/favicon.ico') return send(res, 204, 'text/plain', '');
      if (mode === 'gateway' && url.pathname.startsWith('/api/')) {
        return proxy(req, res, gateway, url.pathname === batchPath ? (n) => count(req, n) : null);
      }
      if (mode === 'mock' && url.pathname === batchPath) {
        if (req.method !== 'POST') return json(res, 405, { error: 'method not allowed' });
        const raw = await readBody(req);
        let items = null;
        try { items = JSON.parse(raw); } catch { /* below */ }
        count(req, Array.isArray(items) ? items.length : 0);
        return mockBatch(req, res, items, max, batchPath);
      }
      return json(res, 404, { error: 'not found' });
    } catch (e) {
      if (!res.headersSent) json(res, 500, { error: String(e && e.message || e) });
      else res.destroy();
    }
  });

  await new Promise((resolve) => server.listen(port, host, resolve));
  const { port: p } = server.address();
  return {
    server, stats, mode,
    url: `http://${host}:${p}/`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}
function json(res, status, obj) {
  send(res, status, 'application/json', JSON.stringify(obj));
}
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---- gateway mode: reverse proxy /api/ to the gateway ----------------------

function proxy(req, res, gateway, onBatch) {
  const target = new URL(req.url, gateway);
  const headers = { ...req.headers, host: target.host };
  const up = http.request(target, { method: req.method, headers }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) json(res, 502, { error: `gateway unreachable: ${e.message}` });
    else res.destroy();
  });
  if (onBatch) {
    // count the items on the way through
    readBody(req).then((raw) => {
      let n = 0;
      try { const a = JSON.parse(raw); if (Array.isArray(a)) n = a.length; } catch { /* not JSON */ }
      onBatch(n);
      up.end(raw);
    });
  } else {
    req.pipe(up);
  }
}

// ---- mock mode: the batch contract -------------------------------------------

function mockBatch(req, res, items, max, batchPath) {
  const auth = req.headers.authorization || '';
  const m = /^Bearer\s+(\S+)$/.exec(auth);
  if (!m) {
    res.setHeader('WWW-Authenticate', 'Bearer realm="velro"');
    return json(res, 401, { error: 'invalid_token', error_description: 'no token' });
  }
  const user = m[1];
  const bad = (error, item) => json(res, 400, item === undefined ? { error } : { error, item });

  if (!Array.isArray(items)) return bad('batch must be a JSON array');
  if (items.length === 0) return bad('empty batch');
  if (items.length > max) return json(res, 413, { error: `more than ${max} items` });

  const ids = new Map();
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (!it || typeof it !== 'object' || Array.isArray(it)) return bad('item must be an object', i);
    if (typeof it.endpoint !== 'string' || !it.endpoint.startsWith('/')) return bad('endpoint must start with /', i);
    if (it.endpoint.split('?')[0] === batchPath) return bad('endpoint is the batch endpoint', i);
    const method = String(it.method ?? 'GET').toUpperCase();
    if (!METHODS.has(method)) return bad('bad method', i);
    if (it.headers != null) {
      if (typeof it.headers !== 'object' || Array.isArray(it.headers)) return bad('headers must be an object', i);
      for (const [k, v] of Object.entries(it.headers)) {
        if (FORBIDDEN.has(k.toLowerCase())) return bad(`header ${k} not allowed`, i);
        if (typeof v !== 'string') return bad('header values must be strings', i);
      }
    }
    if ((method === 'GET' || method === 'HEAD') && it.body !== undefined) return bad('GET/HEAD with a body', i);
    if (it.id != null) {
      if (typeof it.id !== 'string') return bad('id must be a string', i);
      if (ids.has(it.id)) return bad('duplicate id', i);
      ids.set(it.id, i);
    }
  }
  const deps = items.map(() => []);
  for (let i = 0; i < items.length; i++) {
    const d = items[i].depends_on;
    if (d == null) continue;
    if (!Array.isArray(d)) return bad('depends_on must be an array', i);
    for (const id of d) {
      if (!ids.has(id)) return bad('unknown id in depends_on', i);
      deps[i].push(ids.get(id));
    }
  }
  // cycles (DFS)
  const state = items.map(() => 0);
  const cyclic = (i) => {
    if (state[i] === 1) return true;
    if (state[i] === 2) return false;
    state[i] = 1;
    for (const j of deps[i]) if (cyclic(j)) return true;
    state[i] = 2;
    return false;
  };
  for (let i = 0; i < items.length; i++) if (cyclic(i)) return bad('dependency cycle', i);

  // run "concurrently": each item waits for its dependencies only
  const results = new Array(items.length);
  const run = (i) => (results[i] ??= (async () => {
    const before = await Promise.all(deps[i].map(run));
    const it = items[i];
    if (before.some((r) => r.status >= 400)) {
      return { status: 424, headers: { 'content-type': 'application/json' }, body: { error: 'failed_dependency' } };
    }
    await new Promise((r) => setTimeout(r, 1));
    return mockItem(it, user);
  })());
  Promise.all(items.map((_, i) => run(i))).then((out) => {
    json(res, 200, out.map((r, i) => ({ id: items[i].id ?? null, ...r })));
  });
}

function mockItem(it, user) {
  const method = String(it.method ?? 'GET').toUpperCase();
  const [p] = it.endpoint.split('?');
  const st = /^\/api\/status\/(\d{3})$/.exec(p);
  if (st) {
    const status = Number(st[1]);
    return { status, headers: { 'content-type': 'application/json' }, body: { error: `status ${status}` } };
  }
  if (p.startsWith('/api/text/')) {
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: p.slice('/api/text/'.length) };
  }
  if (p.startsWith('/api/echo/')) {
    return {
      status: 200,
      headers: { 'content-type': 'application/json', 'x-mock': '1' },
      body: { uri: p, method, user, headers: it.headers || {}, body: it.body ?? null },
    };
  }
  return { status: 404, headers: { 'content-type': 'application/json' }, body: { error: 'not found' } };
}

// ---- the page ---------------------------------------------------------------------

function page(config) {
  // </script> cannot occur: JSON.stringify of our own config, '<' escaped anyway
  const cfg = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>velro-batch browser test</title></head>
<body><p id="status">running</p>
<script type="module">
import { createBatcher, VelroBatchError } from '/velro-batch.js';
const CFG = ${cfg};
const checks = [];
const check = (name, ok, detail) => checks.push({ name, ok: !!ok, detail });
const auth = CFG.token ? { Authorization: 'Bearer ' + CFG.token } : {};
const mk = (tag, extra = {}) => createBatcher({
  url: CFG.batchPath, headers: { ...auth, 'X-Velro-Test': tag }, ...extra,
});

async function main() {
  // 1. three concurrent calls in one tick -> one batch request, own items
  {
    const b = mk('core');
    const endpoints = ['/api/echo/one', '/api/echo/two', '/api/echo/three'];
    const rs = await Promise.all(endpoints.map((e) => b.request(e)));
    const stats = await (await fetch('/__stats')).json();
    check('core: exactly one batch request', stats.batches.core === 1, stats.batches.core);
    check('core: 3 items in it', stats.items.core === 3, stats.items.core);
    check('core: ids r1..r3', rs.map((r) => r.id).join() === 'r1,r2,r3', rs.map((r) => r.id));
    if (CFG.mode === 'mock') {
      check('core: each promise got its own item',
        rs.every((r, i) => r.status === 200 && r.body && r.body.uri === endpoints[i]),
        rs.map((r) => [r.status, r.body && r.body.uri]));
      check('core: items carry the batch credentials',
        rs.every((r) => r.body.user === CFG.token), rs.map((r) => r.body.user));
    } else {
      check('core: each promise got an item answer',
        rs.every((r) => Number.isInteger(r.status)), rs.map((r) => r.status));
      check('core: each promise got its own item (by uri when the backend echoes it)',
        rs.every((r, i) => !(r.body && typeof r.body === 'object' && 'uri' in r.body) || r.body.uri === endpoints[i]),
        rs.map((r) => [r.status, r.body]));
    }
    check('core: response headers present', rs.every((r) => r.headers && typeof r.headers === 'object'), rs[0].headers);
  }

  // 2. more than the server's max: split client-side into ceil(n/20)
  {
    const b = mk('split', { maxItems: CFG.max });
    const n = CFG.max + 5;
    const rs = await Promise.all(Array.from({ length: n }, (_, i) => b.request('/api/echo/s' + i)));
    const stats = await (await fetch('/__stats')).json();
    check('split: ' + n + ' calls -> 2 batch requests', stats.batches.split === 2, stats.batches.split);
    check('split: every call answered', rs.length === n && rs.every((r) => Number.isInteger(r.status)));
  }

  // 3. a client maxItems above the server's max: 413 rejects every promise
  {
    const b = mk('too-many', { maxItems: CFG.max + 1 });
    const out = await Promise.allSettled(Array.from({ length: CFG.max + 1 }, (_, i) => b.request('/api/echo/t' + i)));
    check('413: every promise rejected with VelroBatchError status 413',
      out.every((o) => o.status === 'rejected' && o.reason instanceof VelroBatchError && o.reason.status === 413),
      out[0].reason && { status: out[0].reason.status, body: out[0].reason.body });
  }

  if (CFG.mode === 'mock') {
    // 4. item errors resolve; dependsOn failures come back as 424
    const b = mk('deps');
    const [a, c, t] = await Promise.all([
      b.request('/api/status/404', { id: 'a' }),
      b.request('/api/echo/after', { dependsOn: ['a'] }),
      b.request('/api/text/hello', { method: 'get' }),
    ]);
    check('deps: 404 item resolves', a.status === 404 && a.id === 'a', a);
    check('deps: dependent of a failed item is 424', c.status === 424, c);
    check('deps: string body', t.body === 'hello', t.body);

    // 5. no credentials: 401 rejects all
    const nb = createBatcher({ url: CFG.batchPath, headers: { 'X-Velro-Test': 'noauth' } });
    const out = await Promise.allSettled([nb.request('/api/echo/x'), nb.request('/api/echo/y')]);
    check('401: batch without Authorization rejects every promise',
      out.every((o) => o.status === 'rejected' && o.reason.status === 401), out.map((o) => o.reason && o.reason.status));
  }
}

main().catch((e) => check('uncaught', false, String(e && e.stack || e))).finally(() => {
  const pre = document.createElement('pre');
  pre.id = 'velro-result';
  pre.textContent = JSON.stringify({ mode: CFG.mode, checks });
  document.body.appendChild(pre);
  document.getElementById('status').textContent = 'done';
  document.title = 'done';
});
</script>
</body></html>
`;
}

// standalone
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
    && !process.env.NODE_TEST_CONTEXT) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
  const s = await startServer({
    port: Number(arg('--port') || 8099),
    gateway: arg('--gateway'),
    token: process.env.VELRO_TOKEN,
    batchPath: arg('--batch-path') || '/api/batch',
    max: Number(arg('--max') || 20),
  });
  console.log(`${s.mode} mode: open ${s.url}`);
}
