// The console's only way to the worker: the public REST API on the origin that served the page.

export class APIError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// api sends one request. A body is sent as JSON; the answer is parsed as JSON when it is JSON.
export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: opts.signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  let data = text;
  if ((resp.headers.get('Content-Type') || '').includes('json') && text !== '') {
    try { data = JSON.parse(text); } catch { /* keep the text */ }
  }
  if (!resp.ok) {
    const msg = (data && typeof data === 'object' && data.message) || `${method} ${path}: HTTP ${resp.status}`;
    throw new APIError(resp.status, msg, data);
  }
  return data;
}

export const enc = encodeURIComponent;

// parseMetrics reads the Prometheus text format into [{name, labels, value}].
export function parseMetrics(text) {
  const out = [];
  const labelRe = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      for (const l of m[3].matchAll(labelRe)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}
