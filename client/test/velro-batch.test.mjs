// node --test: velro-batch.js against a fake fetch
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBatcher, VelroBatchError, VelroItemError } from '../velro-batch.js';

/** a fake fetch that records calls and answers per the batch contract */
function fakeFetch(answer = defaultAnswer) {
  const calls = [];
  const f = async (url, init) => {
    const items = JSON.parse(init.body);
    calls.push({ url, init, items });
    const r = await answer(items, calls.length);
    if (r instanceof Error) throw r;
    const { status = 200, body } = r;
    return new Response(typeof body === 'string' ? body : JSON.stringify(body),
      { status, headers: { 'Content-Type': 'application/json' } });
  };
  f.calls = calls;
  return f;
}

function defaultAnswer(items) {
  return {
    body: items.map((it) => ({
      id: it.id, status: 200, headers: { 'content-type': 'application/json' },
      body: { echo: it.endpoint, method: it.method },
    })),
  };
}

test('3 calls in one tick -> 1 fetch with 3 items, in order', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch });
  const [a, c, d] = await Promise.all([
    b.request('/api/a'), b.request('/api/b'), b.request('/api/c'),
  ]);
  assert.equal(fetch.calls.length, 1);
  assert.equal(fetch.calls[0].url, '/api/batch');
  assert.equal(fetch.calls[0].init.method, 'POST');
  assert.deepEqual(fetch.calls[0].items.map((i) => i.endpoint), ['/api/a', '/api/b', '/api/c']);
  assert.equal(a.body.echo, '/api/a');
  assert.equal(c.body.echo, '/api/b');
  assert.equal(d.body.echo, '/api/c');
  assert.equal(a.status, 200);
  assert.deepEqual(a.headers, { 'content-type': 'application/json' });
});

test('calls in different ticks -> separate batches', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch });
  await b.request('/api/a');
  await b.request('/api/b');
  assert.equal(fetch.calls.length, 2);
});

test('delayMs coalesces across awaits within the window', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch, delayMs: 5 });
  const p1 = b.request('/api/a');
  await Promise.resolve();
  await Promise.resolve();
  const p2 = b.request('/api/b');
  await Promise.all([p1, p2]);
  assert.equal(fetch.calls.length, 1);
  assert.equal(fetch.calls[0].items.length, 2);
});

test('ids: generated r1, r2... unless given; generated ids avoid caller ids', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch });
  const rs = await Promise.all([
    b.request('/api/a'), b.request('/api/b', { id: 'r2' }), b.request('/api/c'),
  ]);
  const ids = fetch.calls[0].items.map((i) => i.id);
  assert.deepEqual(ids, ['r1', 'r2', 'r3']);
  assert.deepEqual(rs.map((r) => r.id), ['r1', 'r2', 'r3']);
  await b.request('/api/d');
  assert.equal(fetch.calls[1].items[0].id, 'r4');
});

test('item fields: method, headers, body, id, dependsOn -> depends_on', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch });
  await Promise.all([
    b.request('/api/users/me', { id: 'me' }),
    b.request('/api/generations', {
      method: 'post', headers: { 'X-Trace': '1' }, body: { prompt: 'x' }, dependsOn: ['me'],
    }),
  ]);
  assert.deepEqual(fetch.calls[0].items, [
    { endpoint: '/api/users/me', method: 'GET', id: 'me' },
    { endpoint: '/api/generations', method: 'POST', headers: { 'X-Trace': '1' },
      body: { prompt: 'x' }, id: 'r1', depends_on: ['me'] },
  ]);
});

test('splitting at maxItems: 5 calls, maxItems 2 -> 3 fetches; each gets its own item', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch, maxItems: 2 });
  const rs = await Promise.all([1, 2, 3, 4, 5].map((n) => b.request(`/api/n/${n}`)));
  assert.deepEqual(fetch.calls.map((c) => c.items.length), [2, 2, 1]);
  assert.deepEqual(rs.map((r) => r.body.echo), [1, 2, 3, 4, 5].map((n) => `/api/n/${n}`));
  for (const c of fetch.calls) assert.ok(c.items.length <= 2);
});

test('splitting keeps dependsOn groups in one batch request', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch, maxItems: 3 });
  await Promise.all([
    b.request('/api/x1'),
    b.request('/api/x2'),
    b.request('/api/a', { id: 'a' }),
    b.request('/api/b', { id: 'b', dependsOn: ['a'] }),
    b.request('/api/c', { dependsOn: ['b'] }),
  ]);
  assert.deepEqual(fetch.calls.map((c) => c.items.map((i) => i.endpoint)),
    [['/api/x1', '/api/x2'], ['/api/a', '/api/b', '/api/c']]);
});

test('a dependsOn group larger than maxItems is refused locally', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch, maxItems: 2 });
  const ps = [
    b.request('/api/a', { id: 'a' }),
    b.request('/api/b', { id: 'b', dependsOn: ['a'] }),
    b.request('/api/c', { dependsOn: ['b'] }),
    b.request('/api/free'),
  ];
  const out = await Promise.allSettled(ps);
  assert.deepEqual(out.map((o) => o.status), ['rejected', 'rejected', 'rejected', 'fulfilled']);
  assert.ok(out[0].reason instanceof VelroItemError);
  assert.equal(fetch.calls.length, 1);
});

test('Authorization sent once, on the batch request; never in items', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch, headers: { Authorization: 'Bearer T' }, credentials: 'same-origin' });
  await Promise.all([b.request('/api/a'), b.request('/api/b', { headers: { 'X-A': '1' } })]);
  const { init, items } = fetch.calls[0];
  assert.equal(init.headers.Authorization, 'Bearer T');
  assert.equal(init.headers['Content-Type'], 'application/json');
  assert.equal(init.credentials, 'same-origin');
  for (const it of items) {
    for (const h of Object.keys(it.headers || {})) assert.notEqual(h.toLowerCase(), 'authorization');
  }
});

test('headers as a function are evaluated per batch request', async () => {
  const fetch = fakeFetch();
  let n = 0;
  const b = createBatcher({ fetch, headers: async () => ({ Authorization: `Bearer t${++n}` }) });
  await b.request('/api/a');
  await b.request('/api/b');
  assert.deepEqual(fetch.calls.map((c) => c.init.headers.Authorization), ['Bearer t1', 'Bearer t2']);
});

test('item Authorization/Cookie/Host headers are refused before sending', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch });
  for (const h of ['Authorization', 'cookie', 'HOST', 'Connection', 'Content-Length', 'Transfer-Encoding']) {
    await assert.rejects(b.request('/api/a', { headers: { [h]: 'x' } }), VelroItemError);
  }
  await assert.rejects(b.request('api/no-slash'), VelroItemError);
  await b.flush();
  assert.equal(fetch.calls.length, 0);
});

test('duplicate caller ids in one flush: the later one is refused', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch });
  const out = await Promise.allSettled([b.request('/api/a', { id: 'x' }), b.request('/api/b', { id: 'x' })]);
  assert.equal(out[0].status, 'fulfilled');
  assert.equal(out[1].status, 'rejected');
  assert.equal(fetch.calls[0].items.length, 1);
});

test('non-200 batch answer rejects every promise with status and server JSON', async () => {
  const fetch = fakeFetch(() => ({ status: 400, body: { error: 'endpoint must start with /', item: 1 } }));
  const b = createBatcher({ fetch });
  const out = await Promise.allSettled([b.request('/api/a'), b.request('/api/b')]);
  for (const o of out) {
    assert.equal(o.status, 'rejected');
    assert.ok(o.reason instanceof VelroBatchError);
    assert.equal(o.reason.status, 400);
    assert.deepEqual(o.reason.body, { error: 'endpoint must start with /', item: 1 });
    assert.equal(o.reason.item, 1);
  }
  assert.equal(out[0].reason, out[1].reason);
});

test('413 and 401 batch answers are batch errors', async () => {
  for (const status of [413, 401]) {
    const fetch = fakeFetch(() => ({ status, body: { error: 'x' } }));
    const b = createBatcher({ fetch });
    await assert.rejects(b.request('/api/a'), (e) => e instanceof VelroBatchError && e.status === status);
  }
});

test('transport error rejects every promise with status 0 and cause', async () => {
  const boom = new TypeError('fetch failed');
  const fetch = fakeFetch(() => boom);
  const b = createBatcher({ fetch });
  const out = await Promise.allSettled([b.request('/api/a'), b.request('/api/b')]);
  for (const o of out) {
    assert.equal(o.reason.status, 0);
    assert.equal(o.reason.cause, boom);
  }
});

test('malformed 200 answer (wrong length, non-JSON) rejects', async () => {
  let b = createBatcher({ fetch: fakeFetch(() => ({ body: [] })) });
  await assert.rejects(b.request('/api/a'), VelroBatchError);
  b = createBatcher({ fetch: fakeFetch(() => ({ body: 'not json' })) });
  await assert.rejects(b.request('/api/a'), VelroBatchError);
});

test('one failed batch of a split does not affect the other', async () => {
  const fetch = fakeFetch((items, n) => (n === 2 ? { status: 503, body: { error: 'x' } } : defaultAnswer(items)));
  const b = createBatcher({ fetch, maxItems: 1 });
  const out = await Promise.allSettled([b.request('/api/a'), b.request('/api/b')]);
  assert.deepEqual(out.map((o) => o.status), ['fulfilled', 'rejected']);
});

test('item status >= 400 resolves by default; rejectOnItemError rejects it', async () => {
  const answer = (items) => ({
    body: items.map((it, i) => (i === 0
      ? { id: it.id, status: 403, headers: {}, body: { error: 'forbidden' } }
      : { id: it.id, status: 424, headers: {}, body: { error: 'failed_dependency' } })),
  });
  let b = createBatcher({ fetch: fakeFetch(answer) });
  const [r1, r2] = await Promise.all([b.request('/api/a', { id: 'a' }), b.request('/api/b', { dependsOn: ['a'] })]);
  assert.equal(r1.status, 403);
  assert.deepEqual(r1.body, { error: 'forbidden' });
  assert.equal(r2.status, 424);

  b = createBatcher({ fetch: fakeFetch(answer), rejectOnItemError: true });
  const out = await Promise.allSettled([b.request('/api/a', { id: 'a' }), b.request('/api/b', { dependsOn: ['a'] })]);
  assert.ok(out[0].reason instanceof VelroItemError);
  assert.equal(out[0].reason.status, 403);
  assert.deepEqual(out[0].reason.body, { error: 'forbidden' });
  assert.equal(out[1].reason.status, 424);
});

test('string bodies pass through', async () => {
  const fetch = fakeFetch((items) => ({ body: items.map((it) => ({ id: it.id, status: 200, headers: {}, body: 'plain' })) }));
  const b = createBatcher({ fetch });
  assert.equal((await b.request('/api/t')).body, 'plain');
});

test('flush() sends immediately and resolves when done', async () => {
  const fetch = fakeFetch();
  const b = createBatcher({ fetch, url: '/custom/batch' });
  const p = b.request('/api/a');
  const f = b.flush();
  assert.equal(fetch.calls.length, 1); // sent synchronously by flush()
  assert.equal(fetch.calls[0].url, '/custom/batch');
  await f;
  assert.equal((await p).status, 200);
  await Promise.resolve();
  assert.equal(fetch.calls.length, 1); // the scheduled microtask found nothing
});

test('default fetch is globalThis.fetch, called unbound', async () => {
  const orig = globalThis.fetch;
  const fake = fakeFetch();
  let self = 'unset';
  globalThis.fetch = function (...args) { self = this; return fake(...args); };
  try {
    const b = createBatcher();
    await b.request('/api/a');
    assert.equal(fake.calls.length, 1);
    assert.ok(self === undefined || self === globalThis, 'fetch called unbound');
  } finally {
    globalThis.fetch = orig;
  }
});
