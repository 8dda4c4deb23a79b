// Dead letters: a connector's DLQ records with their error context and a body preview; the
// detail of one (stack trace, properties); replay of the selected records or of all.
import { api, enc } from '../api.js';
import { h, replace, fmtTime } from '../dom.js';
import { announce, confirmAction, showError, clearError } from '../shell.js';

const PAGE = 50;

// bodyText is a record's whole body for its detail (body_preview has its first 256 bytes
// only): the text when the bytes are UTF-8, else the bytes with every one that is not
// printable ASCII written \xNN (and \ as \\). A record whose DLQ message could not be
// decoded keeps the preview, which says why: its stored bytes would pass for its body.
export function bodyText(rec) {
  const preview = rec.body_preview || '';
  if (typeof rec.body !== 'string' || preview.startsWith('<undecodable')) return preview;
  const bytes = Uint8Array.from(atob(rec.body), (c) => c.charCodeAt(0));
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    let out = '';
    for (const b of bytes) {
      if (b === 0x5c) out += '\\\\';
      else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
      else out += '\\x' + b.toString(16).padStart(2, '0');
    }
    return out;
  }
}

export async function dlqPage(ctx) {
  const name = ctx.params[0];
  const base = `/connectors/${enc(name)}/dlq`;
  const topic = h('p', { class: 'muted' });
  const body = h('tbody', {});
  const result = h('div', { id: 'replay-result', 'aria-live': 'polite' });
  const force = h('input', { type: 'checkbox', id: 'force' });
  const next = h('button', { type: 'button', id: 'next-page', disabled: true }, 'Next page');
  const first = h('button', { type: 'button', id: 'first-page', disabled: true }, 'First page');
  const selected = new Set();
  let after = '';
  let nextAfter = '';

  const replayBtn = h('button', { type: 'button', id: 'replay-selected', disabled: true, onclick: () => replay([...selected]) }, 'Replay selected');
  replace(ctx.main,
    h('h1', {}, 'Dead letters of ', h('a', { href: `#/connectors/${enc(name)}`, class: 'mono' }, name)),
    topic,
    h('div', { class: 'actions' },
      replayBtn,
      h('button', { type: 'button', id: 'replay-all', onclick: () => replay(null) }, 'Replay all'),
      h('label', {}, force, ' send again records replayed before'),
      h('button', { type: 'button', onclick: () => load() }, 'Refresh')),
    result,
    h('table', { id: 'dlq' },
      h('caption', { class: 'sr-only' }, 'Dead-letter records'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Select')),
        h('th', { scope: 'col' }, 'Record'), h('th', { scope: 'col' }, 'Failed at'), h('th', { scope: 'col' }, 'Error'),
        h('th', { scope: 'col' }, 'Origin'), h('th', { scope: 'col' }, 'Body preview'), h('th', { scope: 'col' }, 'Replayed'))),
      body),
    h('div', { class: 'pager' }, first, next));
  first.addEventListener('click', () => { after = ''; load(); });
  next.addEventListener('click', () => { after = nextAfter; load(); });

  function syncReplay() {
    replayBtn.disabled = selected.size === 0;
    replayBtn.textContent = selected.size ? `Replay selected (${selected.size})` : 'Replay selected';
  }

  async function detail(rec, cell, btn) {
    if (cell.dataset.loaded) { cell.hidden = !cell.hidden; btn.setAttribute('aria-expanded', String(!cell.hidden)); return; }
    try {
      const full = await api('GET', `${base}/${enc(rec.id)}`, undefined, { signal: ctx.signal });
      const props = Object.entries(full.properties || {}).sort(([a], [b]) => a.localeCompare(b));
      replace(cell, h('td', { colspan: 7 },
        h('h3', {}, `Record ${full.id}`),
        full.stacktrace ? h('div', {}, h('strong', {}, 'Stack trace'), h('pre', { class: 'trace' }, full.stacktrace)) : h('p', { class: 'muted' }, 'No stack trace.'),
        h('strong', {}, `Body (${full.body_size} bytes)`), h('pre', {}, bodyText(full)),
        props.length ? h('details', {}, h('summary', {}, `Properties (${props.length})`),
          h('table', {}, h('tbody', {}, props.map(([k, v]) => h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k), h('td', { class: 'mono' }, v)))))) : ''));
      cell.dataset.loaded = '1';
      cell.hidden = false;
      btn.setAttribute('aria-expanded', 'true');
    } catch (e) { showError(e); }
  }

  function row(rec) {
    const box = h('input', { type: 'checkbox', id: `sel-${rec.id}`, 'aria-label': `Select record ${rec.id}`, checked: selected.has(rec.id) });
    box.addEventListener('change', () => { if (box.checked) selected.add(rec.id); else selected.delete(rec.id); syncReplay(); });
    const detailRow = h('tr', { class: 'detail', hidden: true });
    const btn = h('button', { type: 'button', 'aria-expanded': 'false', 'data-detail': rec.id }, rec.id);
    btn.addEventListener('click', () => detail(rec, detailRow, btn));
    const t = rec.time ? new Date(rec.time) : null;
    return [h('tr', { 'data-record': rec.id },
      h('td', {}, box),
      h('td', {}, btn, h('div', { class: 'muted' }, `task ${rec.task} · ${rec.stage}`)),
      h('td', {}, t && !Number.isNaN(t.getTime()) ? h('time', { datetime: rec.time }, `${t.toLocaleDateString()} ${fmtTime(t)}`) : '–'),
      h('td', {}, h('div', { class: 'mono' }, rec.exception_class || ''), rec.exception_message || ''),
      h('td', { class: 'mono' }, `${rec.topic} q${rec.partition} @${rec.offset}`),
      h('td', {}, h('code', {}, (rec.body_preview || '').slice(0, 200)), h('div', { class: 'muted' }, `${rec.body_size} bytes`)),
      h('td', {}, rec.replayed ? `yes, ${fmtTime(new Date(rec.replayed.at))}` : 'no')), detailRow];
  }

  async function load() {
    let page;
    try {
      page = await api('GET', `${base}?limit=${PAGE}${after ? '&after=' + enc(after) : ''}`, undefined, { signal: ctx.signal });
    } catch (e) {
      replace(body, h('tr', {}, h('td', { colspan: 7 }, e.message)));
      return;
    }
    replace(topic, `Dead-letter topic ${page.dlq_topic}. Replay sends a record back to its original topic.`);
    const recs = page.records || [];
    replace(body, recs.length ? recs.map(row) : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No dead letters.')));
    nextAfter = page.next || '';
    next.disabled = !nextAfter;
    first.disabled = !after;
  }

  // ids: the records to replay, or null for every record, which is asked for as all: true;
  // the worker refuses an empty ids list rather than take it for every record.
  async function replay(ids) {
    const what = ids ? `${ids.length} selected record${ids.length === 1 ? '' : 's'}` : 'every record of the dead-letter queue';
    if (!(await confirmAction(`Replay ${what} of ${name} to the original topics?`, 'Replay'))) return;
    clearError();
    try {
      const req = ids ? { ids, force: force.checked } : { all: true, force: force.checked };
      const res = await api('POST', `${base}/replay`, req);
      const rep = res.replayed || [];
      const skip = res.skipped || [];
      const prog = res.in_progress || [];
      const ref = res.refused || [];
      replace(result, h('div', { class: 'ok-note' },
        h('p', {}, `Replayed ${rep.length}, skipped ${skip.length} (replayed before), ` +
          `left to another worker's replay ${prog.length}, refused ${ref.length}.`),
        prog.length ? h('ul', {}, prog.map((r) => h('li', {}, `${r.id}: ${r.reason}`))) : '',
        ref.length ? h('ul', {}, ref.map((r) => h('li', {}, `${r.id}: ${r.reason}`))) : ''));
      announce(`Replayed ${rep.length} records.`);
      selected.clear();
      syncReplay();
      load();
    } catch (e) { showError(e); }
  }
  await load();
}
