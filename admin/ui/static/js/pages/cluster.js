// Cluster: the live workers and which connectors and tasks each one runs, refreshed every
// two seconds; a unit that changes worker is outlined and listed under "Moves".
import { api, enc } from '../api.js';
import { h, replace, badge, fmtTime, keepFocus } from '../dom.js';
import { announce } from '../shell.js';

const POLL_MS = 2000;
const MOVED_MS = 15000;
const STATES = ['RUNNING', 'PAUSED', 'STOPPED', 'FAILED', 'RESTARTING', 'UNASSIGNED'];

// Kept across visits so a move seen earlier in the session stays listed.
const lastWorker = new Map(); // unit key -> worker id
const movedAt = new Map(); // unit key -> time of its last move
const moves = []; // newest first: {t, unit, from, to}

// units flattens /connectors?expand=status into connector and task units.
export function units(statuses) {
  const out = [];
  for (const name of Object.keys(statuses).sort()) {
    const st = statuses[name].status;
    if (!st) continue;
    out.push({ key: name, connector: name, task: null, state: st.connector.state, worker: st.connector.worker_id || '' });
    for (const t of st.tasks || []) {
      out.push({ key: `${name}/${t.id}`, connector: name, task: t.id, state: t.state, worker: t.worker_id || '' });
    }
  }
  return out;
}

function label(u) { return u.task === null ? `connector ${u.connector}` : `task ${u.connector}-${u.task}`; }

function track(list) {
  const now = Date.now();
  for (const u of list) {
    if (!u.worker) continue;
    const prev = lastWorker.get(u.key);
    if (prev && prev !== u.worker) {
      moves.unshift({ t: new Date(now), unit: label(u), from: prev, to: u.worker });
      announce(`${label(u)} moved from ${prev} to ${u.worker}`);
      movedAt.set(u.key, now);
      if (moves.length > 50) moves.pop();
    }
    lastWorker.set(u.key, u.worker);
  }
}

function unitBox(u) {
  const moved = movedAt.has(u.key) && Date.now() - movedAt.get(u.key) < MOVED_MS;
  const text = u.task === null ? u.connector : `${u.connector}-${u.task}`;
  return h('li', {},
    h('a', {
      class: `unit st-${u.state} ${u.task === null ? 'conn' : 'task'}${moved ? ' moved' : ''}`,
      href: `#/connectors/${enc(u.connector)}`,
      'data-unit': u.key, 'data-key': 'u:' + u.key, 'data-state': u.state, 'data-worker': u.worker,
      'aria-label': `${label(u)}: ${u.state}${moved ? ', just moved here' : ''}`,
    }, text, h('small', {}, u.task === null ? `connector · ${u.state}` : `task · ${u.state}`)));
}

export async function clusterPage(ctx) {
  const grid = h('div', { class: 'cluster', id: 'workers' });
  const summary = h('p', { class: 'muted', id: 'cluster-summary' });
  const movesList = h('ol', { class: 'moves', id: 'moves' });
  replace(ctx.main,
    h('h1', {}, 'Cluster'),
    summary,
    h('div', { class: 'legend', 'aria-label': 'State colours' }, STATES.map((s) => badge(s))),
    grid,
    h('h2', {}, 'Moves'),
    h('p', { class: 'muted' }, 'Units that changed worker while this page was open (a rebalance).'),
    movesList);
  ctx.every(POLL_MS, async () => {
    const [info, statuses] = await Promise.all([
      api('GET', '/getClusterInfo', undefined, { signal: ctx.signal }),
      api('GET', '/connectors?expand=status', undefined, { signal: ctx.signal }),
    ]);
    if (!ctx.alive) return;
    const members = [...(info.body || [])].sort();
    const list = units(statuses);
    track(list);
    const cols = new Map(members.map((m) => [m, []]));
    const orphans = [];
    for (const u of list) {
      if (!u.worker) orphans.push(u);
      else if (cols.has(u.worker)) cols.get(u.worker).push(u);
      else cols.set(u.worker, [u]); // reported by a worker that is not (or no longer) a member
    }
    const cards = [...cols.entries()].map(([w, us]) => h('section', {
      class: 'worker', 'data-worker': w, 'aria-label': `worker ${w}`,
    }, h('h2', {}, h('span', {}, w), h('span', { class: 'muted' },
      members.includes(w) ? `${us.length} unit${us.length === 1 ? '' : 's'}` : 'not a member')),
    us.length ? h('ul', { class: 'units' }, us.map(unitBox)) : h('p', { class: 'muted' }, 'Nothing assigned.')));
    if (orphans.length) {
      cards.push(h('section', { class: 'worker', 'data-worker': '', 'aria-label': 'unassigned units' },
        h('h2', {}, 'Unassigned'), h('ul', { class: 'units' }, orphans.map(unitBox))));
    }
    keepFocus(grid, () => replace(grid, cards));
    const running = list.filter((u) => u.state === 'RUNNING').length;
    replace(summary, `${members.length} worker${members.length === 1 ? '' : 's'}, ` +
      `${Object.keys(statuses).length} connectors, ${running} of ${list.length} units running · updated ${fmtTime(new Date())}`);
    replace(movesList, moves.length
      ? moves.map((m) => h('li', { 'data-move': m.unit }, `${fmtTime(m.t)} — ${m.unit} moved from ${m.from} to ${m.to}`))
      : h('li', { class: 'muted' }, 'No moves seen yet.'));
  });
}
