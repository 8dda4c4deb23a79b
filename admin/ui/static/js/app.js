// The console shell: hash routes, the page lifecycle, announcements and confirmations.
import { api } from './api.js';
import { showError, clearError, clearErrorFrom } from './shell.js';
import { h, replace } from './dom.js';
import * as metrics from './metrics.js';
import { clusterPage } from './pages/cluster.js';
import { connectorsPage } from './pages/connectors.js';
import { connectorPage } from './pages/connector.js';
import { formPage } from './pages/form.js';
import { dlqPage } from './pages/dlq.js';

const routes = [
  [/^\/cluster$/, 'cluster', () => clusterPage],
  [/^\/connectors$/, 'connectors', () => connectorsPage],
  [/^\/new$/, 'new', () => formPage],
  [/^\/connectors\/([^/]+)\/edit$/, 'connectors', () => formPage],
  [/^\/connectors\/([^/]+)\/dlq$/, 'connectors', () => dlqPage],
  [/^\/connectors\/([^/]+)$/, 'connectors', () => connectorPage],
];

let current = null; // the running page's context

// Context is what a page gets: a place to render, timers and fetch aborts that end when the
// user leaves the page, and the shell's helpers.
class Context {
  constructor(main, params) {
    this.main = main;
    this.params = params;
    this.abort = new AbortController();
    this.timers = [];
    this.cleanups = [];
  }
  get signal() { return this.abort.signal; }
  get alive() { return !this.abort.signal.aborted; }
  // every runs fn now and then every ms until the page is left; a run starts only after the
  // previous one finished. A run's error is shown in the banner until a later run succeeds.
  every(ms, fn) {
    const poller = {}; // who showed the error, for clearErrorFrom
    const tick = async () => {
      if (!this.alive) return;
      try {
        await fn();
        if (this.alive) clearErrorFrom(poller);
      } catch (e) { if (this.alive) showError(e, poller); }
      if (this.alive) this.timers.push(setTimeout(tick, ms));
    };
    tick();
  }
  onLeave(fn) { this.cleanups.push(fn); }
  stop() {
    this.abort.abort();
    this.timers.forEach(clearTimeout);
    this.cleanups.forEach((fn) => fn());
  }
}

function route(focus) {
  const raw = location.hash.replace(/^#/, '');
  let path;
  let malformed = false;
  try {
    path = decodeURI(raw) || '/cluster';
  } catch {
    path = raw; // a malformed escape (a typed #/connectors/%E0) names no page: "Not found"
    malformed = true;
  }
  if (current) current.stop();
  clearError();
  const main = document.getElementById('main');
  let page = null;
  let nav = '';
  let params = [];
  for (const [re, n, p] of malformed ? [] : routes) {
    const m = re.exec(path);
    if (m) { page = p(); nav = n; params = m.slice(1); break; }
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  current = new Context(main, params);
  if (!page) {
    replace(main, h('h1', { tabindex: -1 }, 'Not found'), h('p', {}, 'No console page at ', h('code', {}, path), '.'));
    return;
  }
  replace(main);
  Promise.resolve(page(current)).catch(showError).finally(() => {
    const h1 = main.querySelector('h1');
    if (h1 && current && current.main === main) {
      h1.setAttribute('tabindex', '-1');
      document.title = h1.textContent + ' · rmqconnect console';
      if (focus) h1.focus({ preventScroll: true });
    }
  });
}

async function whoami() {
  try {
    const info = await api('GET', '/');
    replace(document.getElementById('whoami'), `worker ${info.worker_id} · ${info.mode} · ${info.version}`);
  } catch (e) { showError(e); }
}

// After a navigation, focus moves to the new page's heading, so keyboard and screen-reader
// users start reading at the page they opened.
window.addEventListener('hashchange', () => route(true));
whoami();
metrics.start();
route(false);
