// h builds an element. attrs: plain attributes, plus `on<Event>` handlers, `class`, and
// `text`. Children are nodes or strings (always inserted as text, never parsed as HTML).
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace puts children in place of el's content.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// badge shows a state as text on its colour (the text carries the meaning, the colour repeats it).
export function badge(state) {
  return h('span', { class: 'badge st-' + (state || 'UNASSIGNED') }, state || 'UNKNOWN');
}

// idFor turns a config key or other name into a string safe in an id attribute.
export function idFor(prefix, name) {
  return prefix + '-' + String(name).replace(/[^A-Za-z0-9_-]/g, '_');
}

export function fmtRate(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function fmtTime(d) {
  return d.toLocaleTimeString([], { hour12: false });
}

// keepFocus runs render, which rebuilds part of container, and gives focus back to the element
// with the same data-key, so a refresh does not throw a keyboard user out of the page.
export function keepFocus(container, render) {
  const a = document.activeElement;
  const key = a && container.contains(a) ? a.getAttribute('data-key') : null;
  render();
  if (key) {
    const el = [...container.querySelectorAll('[data-key]')].find((e) => e.getAttribute('data-key') === key);
    if (el) el.focus({ preventScroll: true });
  }
}
