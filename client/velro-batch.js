/**
 * velro-batch: a dependency-free client for the velro gateway's batch
 * endpoint (`velro_batch`, see INTERFACE.md "Batch").
 *
 * Works in browsers and in Node >= 18 (global fetch). No build step.
 *
 * Coalescing rule ("tick"): the first request() after an idle period
 * schedules a flush with queueMicrotask(); every request() made before that
 * microtask runs joins the same flush. In practice: all calls made
 * synchronously in the same task (e.g. inside one event handler, or the
 * arguments of one Promise.all([...])) go out together. A call made after
 * an `await` usually lands in a later flush. Pass `delayMs` (a number) to
 * use a setTimeout(delayMs) window instead (a macrotask), which also catches
 * calls made across awaits that resolve within that window.
 *
 * A flush sends ONE POST per at most `maxItems` items; bigger flushes are
 * split into several batch requests, sent concurrently. Items linked by
 * dependsOn are kept in the same batch request.
 *
 * @module velro-batch
 */

/**
 * Item headers the gateway refuses (400 for the whole batch): credentials
 * (items carry the batch request's own) and hop-by-hop/framing headers.
 * Refused here, per item, before sending.
 */
const FORBIDDEN_ITEM_HEADERS = new Set([
  'authorization', 'cookie', 'host', 'connection', 'keep-alive',
  'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'expect',
]);

/**
 * Error for a whole batch request: a transport failure (status 0, `cause`
 * set), a non-200 answer (status and the server's JSON error in `body`,
 * e.g. {"error":"...","item":2}) or an answer that breaks the contract.
 * Every promise of that batch request is rejected with the same instance.
 */
export class VelroBatchError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, body?: any, item?: number, cause?: any}} [info]
   */
  constructor(message, { status = 0, body = null, item, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'VelroBatchError';
    /** HTTP status of the batch answer, 0 for a transport error. */
    this.status = status;
    /** The server's error body (parsed JSON when possible, else text). */
    this.body = body;
    /** Index of the offending item within that batch request, if the server named one. */
    this.item = item;
  }
}

/**
 * Error for one item, used only with `rejectOnItemError: true` (status >= 400)
 * and for items refused locally before sending (status 0).
 */
export class VelroItemError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, headers?: object, body?: any, id?: string}} [info]
   */
  constructor(message, { status = 0, headers = {}, body = null, id } = {}) {
    super(message);
    this.name = 'VelroItemError';
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.id = id;
  }
}

/**
 * @typedef {object} BatcherOptions
 * @property {string} [url='/api/batch'] the batch endpoint
 * @property {number} [maxItems=20] items per batch request (the server's `max`)
 * @property {Function} [fetch=globalThis.fetch] fetch implementation
 * @property {object|Function} [headers={}] headers of the batch request itself
 *   (e.g. {Authorization: 'Bearer ...'}), or a (possibly async) function
 *   returning them, called once per batch request (token refresh)
 * @property {string} [credentials] fetch `credentials` ('include', 'same-origin', ...)
 * @property {boolean} [rejectOnItemError=false] reject a caller's promise
 *   with a VelroItemError when its item's status is >= 400
 * @property {number} [delayMs] when set, coalesce over setTimeout(delayMs)
 *   instead of a microtask
 */

/**
 * @typedef {object} RequestOptions
 * @property {string} [method='GET']
 * @property {object} [headers] item headers (not Authorization, Cookie or Host)
 * @property {any} [body] a JSON value, sent as the item's `body`
 * @property {string} [id] the item's id; needed for others to depend on it
 * @property {string[]} [dependsOn] ids (caller-given) of items that must run first
 */

/**
 * @typedef {object} ItemResult
 * @property {number} status the item's HTTP status (424 when a dependency failed)
 * @property {object} headers the item's response headers
 * @property {any} body parsed JSON, or a string
 * @property {string} id the item's id (caller-given or generated)
 */

/**
 * Creates a batcher.
 * @param {BatcherOptions} [options]
 * @returns {{request: (endpoint: string, opts?: RequestOptions) => Promise<ItemResult>,
 *            flush: () => Promise<void>}}
 */
export function createBatcher({
  url = '/api/batch',
  maxItems = 20,
  fetch: fetchImpl,
  headers = {},
  credentials,
  rejectOnItemError = false,
  delayMs,
} = {}) {
  if (!Number.isInteger(maxItems) || maxItems < 1) {
    throw new TypeError('maxItems must be a positive integer');
  }
  // called unbound: window.fetch throws "Illegal invocation" with another `this`
  const doFetch = fetchImpl || ((...args) => globalThis.fetch(...args));

  /** @type {{item: object, callerId: (string|undefined), resolve: Function, reject: Function}[]} */
  let queue = [];
  let scheduled = false;
  let seq = 0;

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    const run = () => { scheduled = false; flush(); };
    if (typeof delayMs === 'number') setTimeout(run, delayMs);
    else queueMicrotask(run);
  }

  /**
   * Queues one item; resolves with its own answer.
   * @param {string} endpoint path starting with '/', may carry a query string
   * @param {RequestOptions} [opts]
   * @returns {Promise<ItemResult>}
   */
  function request(endpoint, { method, headers: itemHeaders, body, id, dependsOn } = {}) {
    if (typeof endpoint !== 'string' || !endpoint.startsWith('/')) {
      return Promise.reject(new VelroItemError('endpoint must be a path starting with "/"'));
    }
    if (itemHeaders) {
      for (const name of Object.keys(itemHeaders)) {
        if (FORBIDDEN_ITEM_HEADERS.has(name.toLowerCase())) {
          return Promise.reject(new VelroItemError(
            `item header "${name}" is not allowed (credentials come from the batch request; no hop-by-hop headers)`, { id }));
        }
      }
    }
    if (id != null && typeof id !== 'string') {
      return Promise.reject(new VelroItemError('id must be a string'));
    }
    if (dependsOn != null && (!Array.isArray(dependsOn) || dependsOn.some((d) => typeof d !== 'string'))) {
      return Promise.reject(new VelroItemError('dependsOn must be an array of ids', { id }));
    }
    const item = { endpoint, method: (method || 'GET').toUpperCase() };
    if (itemHeaders && Object.keys(itemHeaders).length) item.headers = { ...itemHeaders };
    if (body !== undefined) item.body = body;
    if (id != null) item.id = id;
    if (dependsOn && dependsOn.length) item.depends_on = [...dependsOn];
    return new Promise((resolve, reject) => {
      queue.push({ item, callerId: id ?? undefined, resolve, reject });
      schedule();
    });
  }

  /**
   * Sends everything queued now (without waiting for the tick). Resolves
   * when those batch requests have settled (each caller's promise carries
   * its own outcome; flush() itself never rejects).
   * @returns {Promise<void>}
   */
  function flush() {
    const pending = queue;
    queue = [];
    if (!pending.length) return Promise.resolve();

    // ids: duplicates within one flush are refused locally (the server
    // would refuse the whole batch); generated ids avoid caller ids
    const taken = new Set();
    const entries = [];
    for (const e of pending) {
      if (e.callerId !== undefined) {
        if (taken.has(e.callerId)) {
          e.reject(new VelroItemError(`duplicate id "${e.callerId}" in one batch`, { id: e.callerId }));
          continue;
        }
        taken.add(e.callerId);
      }
      entries.push(e);
    }
    for (const e of entries) {
      if (e.item.id === undefined) {
        let gen;
        do gen = `r${++seq}`; while (taken.has(gen));
        taken.add(gen);
        e.item.id = gen;
      }
    }

    const sends = chunk(entries).map(send);
    return Promise.all(sends).then(() => {});
  }

  /**
   * Splits entries into batch requests of at most maxItems, keeping every
   * dependsOn-connected group together and the original order inside each.
   */
  function chunk(entries) {
    // union-find over ids present in this flush
    const parent = entries.map((_, i) => i);
    const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
    const byId = new Map(entries.map((e, i) => [e.item.id, i]));
    entries.forEach((e, i) => {
      for (const dep of e.item.depends_on || []) {
        const j = byId.get(dep);
        if (j !== undefined) parent[find(i)] = find(j);
      }
    });
    const groups = new Map(); // root -> indexes, in order of first appearance
    entries.forEach((_, i) => {
      const r = find(i);
      if (!groups.has(r)) groups.set(r, []);
      groups.get(r).push(i);
    });

    const chunks = [];
    let current = [];
    for (const idx of groups.values()) {
      if (idx.length > maxItems) {
        for (const i of idx) {
          entries[i].reject(new VelroItemError(
            `${idx.length} items linked by dependsOn exceed maxItems (${maxItems})`,
            { id: entries[i].item.id }));
        }
        continue;
      }
      if (current.length + idx.length > maxItems) {
        chunks.push(current);
        current = [];
      }
      current.push(...idx);
    }
    if (current.length) chunks.push(current);
    return chunks.map((c) => c.sort((a, b) => a - b).map((i) => entries[i]));
  }

  async function send(batch) {
    const fail = (err) => { for (const e of batch) e.reject(err); };
    let res;
    try {
      const extra = typeof headers === 'function' ? await headers() : headers;
      const init = {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(extra || {}) },
        body: JSON.stringify(batch.map((e) => e.item)),
      };
      if (credentials !== undefined) init.credentials = credentials;
      res = await doFetch(url, init);
    } catch (cause) {
      return fail(new VelroBatchError(`batch request failed: ${cause && cause.message || cause}`, { cause }));
    }

    let text;
    try {
      text = await res.text();
    } catch (cause) {
      return fail(new VelroBatchError(`batch answer unreadable: ${cause && cause.message}`, { status: res.status, cause }));
    }
    let data = text;
    try { data = JSON.parse(text); } catch { /* keep text */ }

    if (res.status !== 200) {
      const item = data && typeof data === 'object' && Number.isInteger(data.item) ? data.item : undefined;
      const what = data && typeof data === 'object' && data.error ? `: ${data.error}` : '';
      return fail(new VelroBatchError(
        `batch request answered ${res.status}${what}${item !== undefined ? ` (item ${item})` : ''}`,
        { status: res.status, body: data, item }));
    }
    if (!Array.isArray(data) || data.length !== batch.length) {
      return fail(new VelroBatchError(
        `batch answer is not an array of ${batch.length} items`, { status: res.status, body: data }));
    }

    batch.forEach((e, i) => {
      const a = data[i] || {};
      if (a.id !== undefined && a.id !== e.item.id) {
        e.reject(new VelroBatchError(`batch answer item ${i} has id "${a.id}", expected "${e.item.id}"`,
          { status: res.status, body: a, item: i }));
        return;
      }
      const result = { status: a.status, headers: a.headers || {}, body: a.body, id: e.item.id };
      if (rejectOnItemError && !(a.status < 400)) {
        e.reject(new VelroItemError(`${e.item.method} ${e.item.endpoint} answered ${a.status}`, result));
      } else {
        e.resolve(result);
      }
    });
  }

  return { request, flush };
}

export default createBatcher;
