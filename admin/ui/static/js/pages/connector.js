// One connector: state and actions, tasks with their traces, config (secrets masked),
// topics, offsets and its throughput charts.
import { api, enc } from '../api.js';
import { h, replace, badge, keepFocus } from '../dom.js';
import { seriesOf, onSample } from '../metrics.js';
import { rateCharts } from '../chart.js';
import { announce, confirmAction, showError, clearError } from '../shell.js';

const HIDDEN = '[hidden]';

// secretKeys lists the keys whose values are never shown: those the plugin declares as
// passwords. (The worker already answers "[hidden]" for them; the console hides them again
// in case a value slipped through, e.g. from an older worker.)
async function secretKeys(cls, signal) {
  if (!cls) return new Set();
  try {
    const defs = await api('GET', `/connector-plugins/${enc(cls)}/config`, undefined, { signal });
    return new Set(defs.filter((d) => d.type === 'PASSWORD').map((d) => d.name));
  } catch {
    return new Set();
  }
}

export function configTable(config, secrets) {
  const keys = Object.keys(config).sort();
  return h('table', { id: 'config' },
    h('caption', { class: 'sr-only' }, 'Configuration'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    h('tbody', {}, keys.map((k) => {
      const v = config[k];
      const masked = v === HIDDEN || secrets.has(k);
      return h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k),
        h('td', { class: 'mono' }, masked ? h('span', { class: 'masked', 'aria-label': 'secret, hidden' }, '••••••') : v));
    })));
}

function offsetsView(offsets) {
  const list = (offsets && offsets.offsets) || [];
  if (!list.length) return h('p', { class: 'muted' }, 'No committed offsets yet.');
  return h('table', { id: 'offsets' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Partition'), h('th', { scope: 'col' }, 'Offset'))),
    h('tbody', {}, list.map((o) => h('tr', {},
      h('td', { class: 'mono' }, JSON.stringify(o.partition)), h('td', { class: 'mono' }, JSON.stringify(o.offset))))));
}

export async function connectorPage(ctx) {
  const name = ctx.params[0];
  const path = `/connectors/${enc(name)}`;
  const info = await api('GET', path, undefined, { signal: ctx.signal });
  const secrets = await secretKeys(info.config['connector.class'], ctx.signal);
  const state = h('span', { id: 'conn-state' });
  const where = h('span', { class: 'muted' });
  const trace = h('div', {});
  const tasksBody = h('tbody', {});
  const openTraces = new Set(); // tasks whose trace the user opened, kept open across refreshes
  const charts = h('div', {});
  const topics = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const offsets = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));

  const act = (label, verb, method, sub, done) => h('button', {
    type: 'button', 'data-action': verb,
    onclick: async () => {
      if (!(await confirmAction(`${label} connector ${name}?`, label))) return;
      clearError();
      try {
        await api(method, path + sub);
        announce(`${label}: request accepted for ${name}`);
        if (done) done(); else refresh();
      } catch (e) { showError(e); }
    },
  }, label);

  replace(ctx.main,
    h('h1', {}, 'Connector ', h('span', { class: 'mono' }, name), ' ', state),
    h('p', {}, h('span', {}, info.type, ' connector '), where),
    h('div', { class: 'actions', role: 'group', 'aria-label': 'Connector actions' },
      act('Pause', 'pause', 'PUT', '/pause'),
      act('Resume', 'resume', 'PUT', '/resume'),
      act('Stop', 'stop', 'PUT', '/stop'),
      act('Restart', 'restart', 'POST', '/restart?includeTasks=true&onlyFailed=false'),
      act('Delete', 'delete', 'DELETE', '', () => { location.hash = '#/connectors'; }),
      h('a', { class: 'button', href: `#/connectors/${enc(name)}/edit` }, 'Edit config'),
      h('a', { class: 'button', href: `#/connectors/${enc(name)}/dlq` }, 'Dead letters')),
    trace,
    h('h2', {}, 'Throughput on this worker'), charts,
    h('h2', {}, 'Tasks'),
    h('table', { id: 'tasks' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Task'), h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col' }, 'Worker'), h('th', { scope: 'col' }, 'Trace'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      tasksBody),
    h('div', { class: 'cols' },
      h('section', { 'aria-labelledby': 'cfg-h' }, h('h2', { id: 'cfg-h' }, 'Config'), configTable(info.config, secrets)),
      h('section', {},
        h('h2', {}, 'Topics'), topics,
        h('h2', {}, 'Offsets'), offsets)));

  const drawCharts = () => replace(charts, rateCharts(seriesOf(name)));
  drawCharts();
  ctx.onLeave(onSample(drawCharts));

  async function refreshExtras() {
    try {
      const t = await api('GET', path + '/topics', undefined, { signal: ctx.signal });
      const list = (t[name] && t[name].topics) || [];
      replace(topics, list.length ? h('ul', { id: 'topics' }, list.map((x) => h('li', { class: 'mono' }, x)))
        : h('p', { class: 'muted' }, 'No topics used yet.'));
    } catch (e) { replace(topics, h('p', { class: 'muted' }, e.message)); }
    try {
      replace(offsets, offsetsView(await api('GET', path + '/offsets', undefined, { signal: ctx.signal })));
    } catch (e) { replace(offsets, h('p', { class: 'muted' }, e.message)); }
  }

  async function refresh() {
    let st;
    try {
      st = await api('GET', path + '/status', undefined, { signal: ctx.signal });
    } catch (e) {
      if (e.status === 404) { replace(ctx.main, h('h1', {}, 'Connector not found'), h('p', {}, `${name} does not exist (deleted?).`)); ctx.stop(); return; }
      throw e;
    }
    if (!ctx.alive) return;
    replace(state, badge(st.connector.state));
    replace(where, st.connector.worker_id ? `· runs on ${st.connector.worker_id}` : '');
    replace(trace, st.connector.trace ? h('details', { open: true }, h('summary', {}, 'Connector failure trace'), h('pre', {}, st.connector.trace)) : '');
    keepFocus(tasksBody, () => replace(tasksBody, (st.tasks || []).length ? st.tasks.map((t) => h('tr', { 'data-task': t.id },
      h('th', { scope: 'row' }, String(t.id)),
      h('td', {}, badge(t.state)),
      h('td', {}, t.worker_id || '–'),
      h('td', {}, t.trace ? h('details', { open: openTraces.has(t.id), ontoggle: (ev) => { if (ev.target.open) openTraces.add(t.id); else openTraces.delete(t.id); } }, h('summary', { 'data-key': 'tr:' + t.id }, 'Trace'), h('pre', {}, t.trace)) : h('span', { class: 'muted' }, 'none')),
      h('td', {}, h('button', {
        type: 'button', 'data-key': 'rt:' + t.id,
        onclick: async () => {
          if (!(await confirmAction(`Restart task ${t.id} of ${name}?`, 'Restart task'))) return;
          try { await api('POST', `${path}/tasks/${t.id}/restart`); announce(`Task ${t.id} restarting`); refresh(); } catch (e) { showError(e); }
        },
      }, 'Restart task'))))
      : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No tasks.'))));
  }
  ctx.every(2000, refresh);
  ctx.every(10000, refreshExtras);
}
