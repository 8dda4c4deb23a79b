// Connectors: every connector with its state, type, tasks running/total, and its throughput
// and error rate on this worker (from this worker's /metrics).
import { api, enc } from '../api.js';
import { h, replace, badge, fmtRate, keepFocus } from '../dom.js';
import { seriesOf, latest, metricsAvailable } from '../metrics.js';
import { chart } from '../chart.js';

export async function connectorsPage(ctx) {
  const body = h('tbody', {});
  const note = h('p', { class: 'muted' });
  replace(ctx.main,
    h('h1', {}, 'Connectors'),
    h('div', { class: 'actions' }, h('a', { class: 'button primary', href: '#/new' }, 'New connector')),
    h('table', { id: 'connectors' },
      h('caption', { class: 'sr-only' }, 'Connectors, their state and throughput'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col', class: 'num' }, 'Tasks running'), h('th', { scope: 'col', class: 'num' }, 'Records/s'),
        h('th', { scope: 'col', class: 'num' }, 'Errors/s'), h('th', { scope: 'col' }, 'Last minutes'))),
      body),
    note);
  ctx.every(2000, async () => {
    const all = await api('GET', '/connectors?expand=status&expand=info', undefined, { signal: ctx.signal });
    if (!ctx.alive) return;
    const names = Object.keys(all).sort();
    keepFocus(body, () => replace(body, names.length ? names.map((n) => {
      const st = all[n].status || { connector: {}, tasks: [] };
      const info = all[n].info || {};
      const tasks = st.tasks || [];
      const running = tasks.filter((t) => t.state === 'RUNNING').length;
      const now = latest(n);
      const s = seriesOf(n);
      return h('tr', { 'data-connector': n },
        h('th', { scope: 'row' }, h('a', { href: `#/connectors/${enc(n)}`, 'data-key': 'c:' + n }, n)),
        h('td', {}, st.type || info.type || ''),
        h('td', {}, badge(st.connector.state)),
        h('td', { class: 'num', 'data-tasks': `${running}/${tasks.length}` }, `${running} / ${tasks.length}`),
        h('td', { class: 'num' }, now ? fmtRate(now.rps) : '–'),
        h('td', { class: 'num' }, now ? fmtRate(now.eps) : '–'),
        h('td', {}, chart(s.map((x) => ({ t: x.t, v: x.rps })), { title: `${n} records/s`, unit: 'records/s', width: 160, height: 28 })));
    }) : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No connectors yet. ', h('a', { href: '#/new' }, 'Create one')))));
    replace(note, metricsAvailable()
      ? 'Records/s and errors/s count the tasks running on this worker (each worker serves its own /metrics).'
      : 'This worker serves no /metrics: throughput is not shown.');
  });
}
