// Small inline-SVG line charts of a metric series (no library, nothing fetched).
import { h, fmtRate } from './dom.js';
import { WINDOW_MS } from './metrics.js';

// chart draws points [{t, v}] over the last WINDOW_MS. The figure's text says what a
// screen reader needs: what is shown, the latest value and the peak.
export function chart(points, { title, unit, cls = '', width = 260, height = 56 }) {
  const now = Date.now();
  const max = Math.max(1e-9, ...points.map((p) => p.v));
  // The x axis spans the samples taken so far, up to WINDOW_MS: a page opened a minute ago
  // draws that minute across the whole chart.
  const from = Math.max(now - WINDOW_MS, points.length ? points[0].t : now);
  const span = Math.max(1, now - from);
  const x = (t) => ((t - from) / span) * width;
  const y = (v) => height - 3 - (v / max) * (height - 6);
  const path = points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const lastV = points.length ? points[points.length - 1].v : undefined;
  const peak = points.length ? max : undefined;
  const summary = points.length
    ? `${title}: now ${fmtRate(lastV)} ${unit}, peak ${fmtRate(peak)} ${unit} over the last ${WINDOW_MS / 60000} minutes`
    : `${title}: no samples yet`;
  const svg = h('svg:svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary },
    h('svg:title', {}, summary),
    points.length > 1 ? h('svg:polyline', { class: 'line ' + cls, points: path }) : null);
  return h('figure', { class: 'chart' }, svg,
    h('figcaption', {}, `${title} — now ${fmtRate(lastV)}, peak ${fmtRate(peak)} ${unit}`));
}

export function rateCharts(series) {
  return h('div', { class: 'charts' },
    chart(series.map((s) => ({ t: s.t, v: s.rps })), { title: 'Records/s', unit: 'records/s' }),
    chart(series.map((s) => ({ t: s.t, v: s.eps })), { title: 'Errors/s', unit: 'errors/s', cls: 'err' }));
}
