// A sampler of this worker's /metrics: per connector, records moved and records failed per
// second, kept for the last WINDOW_MS in the page's memory.
import { api, parseMetrics } from './api.js';

const RECORDS = new Set(['rmqconnect_source_record_write_total', 'rmqconnect_sink_record_send_total']);
const ERRORS = 'rmqconnect_task_error_total_record_failures';
export const WINDOW_MS = 10 * 60 * 1000;
const INTERVAL_MS = 2000;

const series = new Map(); // connector -> [{t, rps, eps}]
let last = null; // {t, totals: Map(connector -> {rec, err})}
let available = true;
let timer = null;
const listeners = new Set();

function totals(samples) {
  const out = new Map();
  for (const s of samples) {
    const c = s.labels.connector;
    if (!c) continue;
    const isRec = RECORDS.has(s.name);
    if (!isRec && s.name !== ERRORS) continue;
    const v = out.get(c) || { rec: 0, err: 0 };
    if (isRec) v.rec += s.value; else v.err += s.value;
    out.set(c, v);
  }
  return out;
}

async function sample() {
  let text;
  try {
    text = await api('GET', '/metrics');
  } catch (e) {
    available = e.status !== 404 ? available : false;
    return;
  }
  available = true;
  const now = Date.now();
  const cur = totals(parseMetrics(text));
  if (last) {
    const dt = (now - last.t) / 1000;
    for (const [c, v] of cur) {
      const p = last.totals.get(c) || { rec: v.rec, err: v.err };
      const list = series.get(c) || [];
      // A counter that went down was reset (the task moved or restarted): count from zero.
      const dr = v.rec >= p.rec ? v.rec - p.rec : v.rec;
      const de = v.err >= p.err ? v.err - p.err : v.err;
      list.push({ t: now, rps: dr / dt, eps: de / dt });
      while (list.length && list[0].t < now - WINDOW_MS) list.shift();
      series.set(c, list);
    }
  }
  last = { t: now, totals: cur };
  for (const fn of listeners) fn();
}

// start begins sampling (once per page load).
export function start() {
  if (timer) return;
  sample();
  timer = setInterval(sample, INTERVAL_MS);
}

export function seriesOf(connector) { return series.get(connector) || []; }
export function latest(connector) {
  const s = series.get(connector);
  return s && s.length ? s[s.length - 1] : null;
}
export function metricsAvailable() { return available; }
export function onSample(fn) { listeners.add(fn); return () => listeners.delete(fn); }
