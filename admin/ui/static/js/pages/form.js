// Create or edit a connector: a form generated from the plugin's config definitions
// (GET /connector-plugins/{plugin}/config), checked with the validate route as the user
// types, each error beside its field; or the config as raw JSON. The validate route's
// warnings (keys nothing reads) are shown beside their fields too, apart from the errors:
// they never stop a save.
import { api, enc } from '../api.js';
import { h, replace, idFor } from '../dom.js';
import { announce, showError, clearError } from '../shell.js';

const HIDDEN = '[hidden]';
const DEBOUNCE_MS = 350;

function groupsOf(defs) {
  const groups = new Map();
  for (const d of defs) {
    const g = d.group || 'Other';
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push(d);
  }
  for (const list of groups.values()) list.sort((a, b) => (a.order_in_group || 0) - (b.order_in_group || 0));
  return groups;
}

// parseConfig reads the JSON tab's text as the worker reads a config (admin/decode.go):
// strings as they are, numbers as written (as a JavaScript number, 12345678901234567890 or
// 1.50 would change) and booleans as their text; null, an object or an array is refused
// naming its key, rather than saved as "" or "[object Object]".
export function parseConfig(text) {
  let parsed;
  try {
    parsed = JSON.parse(text, (k, v, src) => (typeof v === 'number' && src && typeof src.source === 'string' ? src.source : v));
  } catch (e) {
    throw new Error(`Not valid JSON: ${e.message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('Not valid JSON: expected a JSON object');
  const cfg = {};
  const bad = [];
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') cfg[k] = String(v);
    else bad.push(`${k}: ${v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object'} is not allowed, a config value must be a string, number or boolean`);
  }
  if (bad.length) throw new Error(bad.join('; '));
  return cfg;
}

export async function formPage(ctx) {
  const editName = ctx.params[0];
  let original = {};
  let plugin = '';
  if (editName) {
    const info = await api('GET', `/connectors/${enc(editName)}`, undefined, { signal: ctx.signal });
    original = info.config;
    plugin = original['connector.class'] || '';
  }
  // The config being edited: key -> string. A key is absent when unset; '' is a value (the
  // API takes it), so a key the config sets to '' is kept unless the user clears its field.
  const values = { ...original };
  if (editName) values.name = editName;
  const touched = new Set(); // keys the user changed: their errors are shown as they type
  let submitted = false; // after a submit, every error is shown
  let defs = [];
  let seq = 0;
  let timer = null;
  let mode = 'form';
  const usedIds = new Set(); // the ids of the form's inputs (field)

  const pluginSlot = h('div', {});
  const formSlot = h('div', {});
  const extraErrors = h('div', { id: 'other-errors' });
  const extraWarnings = h('div', { id: 'other-warnings' });
  const problems = h('p', { id: 'problems', role: 'status', class: 'muted' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'submit', disabled: !plugin }, editName ? 'Save changes' : 'Create connector');
  const tabForm = h('button', { type: 'button', role: 'tab', id: 'tab-form', 'aria-controls': 'panel-form', 'aria-selected': 'true' }, 'Form');
  const tabJSON = h('button', { type: 'button', role: 'tab', id: 'tab-json', 'aria-controls': 'panel-json', 'aria-selected': 'false', tabindex: -1 }, 'JSON');
  const json = h('textarea', { id: 'raw-json', class: 'json', spellcheck: 'false', 'aria-describedby': 'raw-json-err' });
  const jsonErr = h('p', { id: 'raw-json-err', class: 'err' });
  const panelForm = h('div', { id: 'panel-form', role: 'tabpanel', 'aria-labelledby': 'tab-form' }, formSlot);
  const panelJSON = h('div', { id: 'panel-json', role: 'tabpanel', 'aria-labelledby': 'tab-json', hidden: true },
    h('label', { for: 'raw-json' }, 'Connector config as a JSON object of strings'), json, jsonErr);

  const form = h('form', { class: 'config', id: 'connector-form', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); save(); } },
    pluginSlot,
    h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Edit as' }, tabForm, tabJSON),
    panelForm, panelJSON, extraErrors, extraWarnings, problems,
    h('div', { class: 'actions' }, submit,
      editName ? h('a', { class: 'button', href: `#/connectors/${enc(editName)}` }, 'Cancel') : null));
  replace(ctx.main, h('h1', {}, editName ? `Edit connector ${editName}` : 'New connector'), form);

  function selectTab(which, focus) {
    mode = which;
    tabForm.setAttribute('aria-selected', String(which === 'form'));
    tabJSON.setAttribute('aria-selected', String(which === 'json'));
    tabForm.tabIndex = which === 'form' ? 0 : -1;
    tabJSON.tabIndex = which === 'json' ? 0 : -1;
    panelForm.hidden = which !== 'form';
    panelJSON.hidden = which !== 'json';
    if (which === 'json') {
      json.value = JSON.stringify(values, null, 2);
      jsonErr.textContent = '';
      json.removeAttribute('aria-invalid');
    } else {
      buildFields();
    }
    if (focus) (which === 'form' ? tabForm : tabJSON).focus();
  }
  tabForm.addEventListener('click', () => selectTab('form'));
  tabJSON.addEventListener('click', () => selectTab('json'));
  for (const t of [tabForm, tabJSON]) {
    t.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') { ev.preventDefault(); selectTab(mode === 'form' ? 'json' : 'form', true); }
    });
  }
  json.addEventListener('input', () => {
    let parsed;
    try {
      parsed = parseConfig(json.value);
    } catch (e) {
      jsonErr.textContent = e.message;
      json.setAttribute('aria-invalid', 'true');
      return;
    }
    jsonErr.textContent = '';
    json.removeAttribute('aria-invalid');
    for (const k of Object.keys(values)) delete values[k];
    for (const [k, v] of Object.entries(parsed)) { values[k] = v; touched.add(k); }
    if (editName) values.name = editName;
    if (values['connector.class'] && values['connector.class'] !== plugin && !editName) {
      plugin = values['connector.class'];
      loadPlugin(false);
      return;
    }
    schedule();
  });

  function field(d) {
    // idFor folds separators (a.b and a_b give one id): a key whose id an earlier field took
    // gets a number after a dot, which no folded name has, so every label and description
    // names its own field's elements.
    let suffix = '';
    for (let i = 2; usedIds.has(idFor('f', d.name) + suffix); i++) suffix = `.${i}`;
    const id = idFor('f', d.name) + suffix;
    usedIds.add(id);
    const errId = idFor('e', d.name) + suffix;
    const helpId = idFor('d', d.name) + suffix;
    const warnId = idFor('w', d.name) + suffix;
    const v = values[d.name] ?? '';
    const fixed = d.name === 'connector.class' || (editName && d.name === 'name');
    const dflt = d.default_value !== null && d.default_value !== undefined && d.default_value !== '' ? `default: ${d.default_value}` : '';
    let input;
    if (d.type === 'BOOLEAN') {
      input = h('select', { id, name: d.name },
        h('option', { value: '' }, dflt ? `(${dflt})` : '(not set)'),
        h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
      input.value = v === 'true' || v === 'false' ? v : '';
    } else {
      const numeric = ['INT', 'LONG', 'SHORT', 'DOUBLE'].includes(d.type);
      input = h('input', {
        id, name: d.name, type: d.type === 'PASSWORD' ? 'password' : 'text', value: fixed && d.name === 'connector.class' ? plugin : v,
        placeholder: dflt, inputmode: numeric ? (d.type === 'DOUBLE' ? 'decimal' : 'numeric') : undefined,
        autocomplete: d.type === 'PASSWORD' ? 'new-password' : 'off', spellcheck: 'false',
        readonly: fixed, 'aria-required': d.required ? 'true' : undefined,
      });
    }
    input.setAttribute('aria-describedby', `${errId} ${warnId} ${helpId}`);
    input.dataset.key = d.name;
    const onChange = () => {
      // A cleared field removes its key (an edit's PATCH deletes it).
      if (input.value === '') delete values[d.name]; else values[d.name] = input.value;
      touched.add(d.name);
      schedule();
    };
    input.addEventListener('input', onChange);
    input.addEventListener('change', onChange);
    return h('div', { class: 'field', 'data-field': d.name },
      h('label', { for: id }, d.display_name || d.name, d.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null,
        d.required ? h('span', { class: 'sr-only' }, ' (required)') : null),
      input,
      h('p', { class: 'err', id: errId }),
      h('p', { class: 'help warn', id: warnId }),
      h('p', { class: 'help', id: helpId }, `${d.type.toLowerCase()}${d.documentation ? ' — ' + d.documentation : ''}`));
  }

  function buildFields() {
    usedIds.clear();
    if (!defs.length) { replace(formSlot); return; }
    const known = new Set(defs.map((d) => d.name));
    const extra = Object.keys(values).filter((k) => !known.has(k)).sort()
      .map((k) => ({ name: k, type: 'STRING', required: false, group: 'Other keys', documentation: 'A key the plugin does not declare.' }));
    const groups = groupsOf([...defs, ...extra]);
    replace(formSlot, [...groups.entries()].map(([g, list]) => h('fieldset', {}, h('legend', {}, g), list.map(field))));
    schedule(0);
  }

  function schedule(ms = DEBOUNCE_MS) {
    clearTimeout(timer);
    timer = setTimeout(validate, ms);
  }
  ctx.onLeave(() => clearTimeout(timer));

  function payload() {
    return { ...values, 'connector.class': plugin };
  }

  async function validate() {
    if (!plugin || !ctx.alive) return null;
    const my = ++seq;
    let res;
    try {
      res = await api('PUT', `/connector-plugins/${enc(plugin)}/config/validate`, payload(), { signal: ctx.signal });
    } catch (e) {
      if (my === seq) showError(e);
      return null;
    }
    if (my !== seq || !ctx.alive) return null;
    let shown = 0;
    const others = [];
    for (const c of res.configs) {
      const errs = c.value.errors || [];
      const visible = submitted || touched.has(c.value.name);
      // By the field's key, as for warnings: ids do not say which key a field is for.
      const fieldEl = [...formSlot.querySelectorAll('div.field')].find((f) => f.dataset.field === c.value.name);
      const errEl = fieldEl ? fieldEl.querySelector('p.err') : null;
      const input = fieldEl ? fieldEl.querySelector('input, select') : null;
      if (errEl && mode === 'form') {
        errEl.textContent = visible ? errs.join('; ') : '';
        if (input) { if (visible && errs.length) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid'); }
      } else if (errs.length && visible) {
        others.push(`${c.value.name}: ${errs.join('; ')}`);
      }
      if (visible) shown += errs.length;
    }
    replace(extraErrors, others.length ? h('ul', { class: 'err' }, others.map((o) => h('li', {}, o))) : '');
    const warnings = res.warnings || [];
    showWarnings(warnings);
    problems.textContent = (res.error_count === 0 ? 'No problems found.'
      : `${res.error_count} problem${res.error_count === 1 ? '' : 's'}${shown < res.error_count ? ` (${res.error_count - shown} in fields not filled in yet)` : ''}.`)
      + (warnings.length ? ` ${warnings.length} warning${warnings.length === 1 ? ': a key' : 's: keys'} nothing reads; saving is not blocked.` : '');
    return res;
  }

  // showWarnings puts each warning beside its field, or, for a key without one (the JSON
  // tab), in the list under the form. Warnings are shown whether or not the key was touched:
  // each names a key the config sets.
  function showWarnings(warnings) {
    for (const el of formSlot.querySelectorAll('p.warn')) replace(el);
    const unplaced = [];
    for (const w of warnings) {
      // By the field's key, not its id: ids fold separators (a.b and a_b share one), and a
      // typo's warning belongs beside the typo, not beside the key it resembles.
      const field = mode === 'form'
        ? [...formSlot.querySelectorAll('div.field')].find((f) => f.dataset.field === w.key) : null;
      const el = field ? field.querySelector('p.warn') : null;
      if (el) replace(el, h('strong', {}, 'Warning: '), h('code', {}, w.key), `: ${w.message}`);
      else unplaced.push(w);
    }
    replace(extraWarnings, unplaced.length ? h('ul', { class: 'muted warn' },
      unplaced.map((w) => h('li', {}, h('strong', {}, 'Warning: '), h('code', {}, w.key), `: ${w.message}`))) : '');
  }

  async function save() {
    clearError();
    if (mode === 'json' && json.getAttribute('aria-invalid') === 'true') {
      // values hold the last text that parsed: saving them would save a config not shown.
      json.focus();
      announce(`Not saved: ${jsonErr.textContent}`);
      return;
    }
    submitted = true;
    const res = await validate();
    if (res && res.error_count > 0) {
      const bad = formSlot.querySelector('[aria-invalid="true"]');
      if (bad && mode === 'form') bad.focus();
      announce(`${res.error_count} problems: fix them and save again.`);
      return;
    }
    try {
      const name = editName || values.name;
      if (editName) {
        const patch = {};
        for (const [k, v] of Object.entries(payload())) if (k !== 'name' && v !== original[k]) patch[k] = v;
        for (const k of Object.keys(original)) if (!(k in payload()) && k !== 'name') patch[k] = null;
        if (!Object.keys(patch).length) { announce('No changes to save.'); location.hash = `#/connectors/${enc(name)}`; return; }
        await api('PATCH', `/connectors/${enc(name)}/config`, patch);
      } else {
        await api('POST', '/connectors', { name, config: payload() });
      }
      announce(`Connector ${name} saved.`);
      location.hash = `#/connectors/${enc(name)}`;
    } catch (e) {
      showError(e);
    }
  }

  async function loadPlugin(rebuildForm = true) {
    submit.disabled = !plugin;
    if (!plugin) { defs = []; replace(formSlot); return; }
    try {
      const list = await api('GET', `/connector-plugins/${enc(plugin)}/config`, undefined, { signal: ctx.signal });
      // A key both the runtime and the plugin declare (connect.topicname) is one field, as the
      // plugin describes it.
      const byName = new Map();
      for (const d of list) { byName.delete(d.name); byName.set(d.name, d); }
      defs = [...byName.values()];
    } catch (e) { showError(e); return; }
    const sel = document.getElementById('plugin');
    if (sel) sel.value = plugin;
    if (rebuildForm || mode === 'form') buildFields(); else schedule(0);
  }

  if (!editName) {
    const plugins = await api('GET', '/connector-plugins', undefined, { signal: ctx.signal });
    const sel = h('select', { id: 'plugin', name: 'plugin', 'aria-describedby': 'plugin-help' },
      h('option', { value: '' }, '— choose a plugin —'),
      plugins.map((p) => h('option', { value: p.class }, `${p.class} (${p.type}${p.version ? ', ' + p.version : ''})`)));
    sel.addEventListener('change', () => {
      plugin = sel.value;
      for (const k of Object.keys(values)) if (k !== 'name') delete values[k];
      touched.clear();
      submitted = false;
      loadPlugin(true);
    });
    replace(pluginSlot, h('div', { class: 'field' },
      h('label', { for: 'plugin' }, 'Connector plugin'), sel,
      h('p', { class: 'help', id: 'plugin-help' }, 'The form lists the keys this plugin declares.')));
  }
  await loadPlugin(true);
}
