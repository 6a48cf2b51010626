/**
 * The playground page: three views sharing one backend (gpu.js on WebGL2 when the page has it,
 * else the CPU backend), one animation loop that gives frames to the view on show, and
 * `window.playground` for tests: `state()` (what each view shows), `show(view)`, `setBackend()`.
 *
 * URL options: `#simplex`, `#autodiff`, `#autoencoder` pick the view; `?backend=cpu` starts on
 * the CPU backend.
 */
import { AutodiffView } from './autodiff/autodiff-view.js';
import { AutoencoderView } from './autoencoder-view.js';
import { useBackend, type BackendChoice, type BackendInfo } from './backend.js';
import { el, select } from './dom.js';
import { SimplexView } from './simplex-view.js';
import type { View, ViewName } from './view.js';
import './style.css';

const params = new URLSearchParams(location.search);
let choice: BackendChoice = params.get('backend') === 'cpu' ? 'cpu' : 'auto';
let backend: BackendInfo = useBackend(choice);
const errors: string[] = [];

const simplex = new SimplexView(backend);
const autodiff = new AutodiffView();
const autoencoder = new AutoencoderView(backend);
const views: Record<ViewName, View> = { simplex, autodiff, autoencoder };
let active: View = views[(location.hash.slice(1) as ViewName)] ?? simplex;

const badge = el('span', { id: 'backend-label' });
const errorBox = el('div', { id: 'errors', class: 'error' });
const backendSelect = select<BackendChoice>(
  'backend',
  'backend',
  [
    { value: 'auto', text: 'WebGL2 (gpu.js), else CPU' },
    { value: 'cpu', text: 'CPU (@simplex-vq/tensor)' },
  ],
  choice,
  (c) => setBackend(c),
);
const tabs = el(
  'nav',
  { class: 'tabs' },
  Object.values(views).map((v) => el('a', { href: `#${v.name}`, id: `tab-${v.name}`, 'data-view': v.name, text: v.title })),
);

function showBackend(): void {
  badge.textContent = `training on: ${backend.label}`;
  badge.className = backend.name;
  badge.title = backend.fallbackReason ?? '';
  if (backend.fallbackReason) badge.textContent += ` — ${backend.fallbackReason}`;
}

function setBackend(c: BackendChoice): void {
  choice = c;
  backendSelect.input.value = c;
  backend = useBackend(c);
  for (const v of Object.values(views)) v.onBackend(backend);
  showBackend();
}

function show(name: ViewName): void {
  active = views[name];
  for (const v of Object.values(views)) v.element.hidden = v !== active;
  for (const a of tabs.querySelectorAll('a')) a.classList.toggle('active', a.dataset.view === name);
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
}

window.addEventListener('hashchange', () => {
  const name = location.hash.slice(1) as ViewName;
  if (views[name]) show(name);
});

document.body.append(
  el('header', {}, [
    el('h1', { html: 'simplex-vq <span>playground</span>' }),
    tabs,
    el('div', { class: 'backend' }, [backendSelect.element, badge]),
  ]),
  errorBox,
  el('main', {}, Object.values(views).map((v) => v.element)),
  el('footer', { html: 'Everything here runs in this page: <code>@simplex-vq/tensor</code> (autodiff, CPU backend), <code>@simplex-vq/backend-gpujs</code> (WebGL2), <code>nn</code>, <code>vq</code>, and the models of <code>apps/autoencoder</code>.' }),
);
showBackend();
show(active.name);

function loop(now: number): void {
  try {
    active.frame(now);
  } catch (e) {
    const message = `${active.name}: ${(e as Error).message}`;
    errors.push(message);
    errorBox.textContent = message;
    if (backend.name === 'webgl2') {
      // A kernel that fails on this GPU: go on with the CPU backend, and say so.
      errorBox.textContent += ' — switched to the CPU backend.';
      setBackend('cpu');
    } else if ('toggle' in active) (active as unknown as { toggle(r: boolean): void }).toggle(false);
  }
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);

declare global {
  interface Window {
    playground: {
      state(): Record<string, unknown>;
      show(view: ViewName): void;
      setBackend(choice: BackendChoice): void;
      views: typeof views;
    };
  }
}

window.playground = {
  /** What the page shows. The top-level step, method and codeUsage are the simplex view's model; each view has its own below. */
  state: () => ({
    view: active.name,
    backend: backend.name,
    backendLabel: backend.label,
    fallbackReason: backend.fallbackReason,
    ...simplex.state(),
    simplex: simplex.state(),
    autodiff: autodiff.state(),
    autoencoder: autoencoder.state(),
    errors: [...errors],
  }),
  show,
  setBackend,
  views,
};
