// A sampler of this worker's /metrics: per connector, records moved and records failed per
// second, kept for the last WINDOW_MS in the page's memory.
import { api, parseMetrics } from './api.js';

const RECORDS = new Set(['rmqconnect_source_record_write_total', 'rmqconnect_sink_record_send_total']);
const ERRORS = 'rmqconnect_task_error_total_record_failures';
export const WINDOW_MS = 10 * 60 * 1000;
const INTERVAL_MS = 2000;
// A scrape that takes longer than this is given up; the next one starts INTERVAL_MS later.
const TIMEOUT_MS = 10000;

const series = new Map(); // connector -> [{t, rps, eps}]
let last = null; // {t, counters: Map(series key -> {connector, err, value})}
let available = true;
let started = false;
const listeners = new Set();

// counters picks the record and error counters out of parsed samples: one entry per series
// (family and every label, so per task), since each task's counter resets on its own.
export function counters(samples) {
  const out = new Map();
  for (const s of samples) {
    const connector = s.labels.connector;
    if (!connector) continue;
    const isRec = RECORDS.has(s.name);
    if (!isRec && s.name !== ERRORS) continue;
    const key = s.name + JSON.stringify(Object.keys(s.labels).sort().map((k) => [k, s.labels[k]]));
    out.set(key, { connector, err: !isRec, value: s.value });
  }
  return out;
}

// rates returns, per connector, records and errors per second between two scrapes dt seconds
// apart, as Prometheus's rate() does: each series' increase on its own, where a value lower
// than the last is a reset (the task restarted or moved here) counted from zero, and a series
// seen for the first time adds nothing yet. Summing counters per connector first would read
// one task's reset as the whole connector's and show a spike or a gap.
export function rates(prev, cur, dt) {
  const out = new Map();
  for (const [key, c] of cur) {
    const v = out.get(c.connector) || { rps: 0, eps: 0 };
    const p = prev.get(key);
    const inc = p === undefined ? 0 : c.value >= p.value ? c.value - p.value : c.value;
    if (c.err) v.eps += inc / dt; else v.rps += inc / dt;
    out.set(c.connector, v);
  }
  return out;
}

async function sample() {
  let text;
  try {
    text = await api('GET', '/metrics', undefined, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    available = e.status !== 404 ? available : false;
    return;
  }
  available = true;
  const now = Date.now();
  const cur = counters(parseMetrics(text));
  if (last) {
    const r = rates(last.counters, cur, (now - last.t) / 1000);
    // A connector with no series in this scrape has no task counting on this worker any more
    // (its tasks moved away, or it stopped or was deleted): it moves nothing here, and its
    // last rate must not stand as the current one.
    for (const c of series.keys()) if (!r.has(c)) r.set(c, { rps: 0, eps: 0 });
    for (const [c, v] of r) {
      const list = series.get(c) || [];
      list.push({ t: now, rps: v.rps, eps: v.eps });
      while (list.length && list[0].t < now - WINDOW_MS) list.shift();
      series.set(c, list);
    }
  }
  last = { t: now, counters: cur };
  for (const fn of listeners) fn();
}

// start begins sampling (once per page load). Each scrape starts INTERVAL_MS after the last
// one ended, so a slow worker never has scrapes piling up.
export function start() {
  if (started) return;
  started = true;
  const tick = async () => {
    try { await sample(); } finally { setTimeout(tick, INTERVAL_MS); }
  };
  tick();
}

export function seriesOf(connector) { return series.get(connector) || []; }
export function latest(connector) {
  const s = series.get(connector);
  return s && s.length ? s[s.length - 1] : null;
}
export function metricsAvailable() { return available; }
export function onSample(fn) { listeners.add(fn); return () => listeners.delete(fn); }
