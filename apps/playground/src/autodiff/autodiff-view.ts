/**
 * Autodiff made visible: the graph of a small expression as the engine recorded it (each tensor,
 * the op that made it and its inputs), every value from the forward pass, and the backward pass
 * one tensor at a time (BackwardStepper), each op linked to the lines of packages/tensor that
 * define its forward and its vjp. At the end the gradients are checked against the engine's own
 * `loss.backward()`, and an SGD step can be applied to the parameters.
 *
 * Runs on a CPU backend of its own whatever the page trains on: the values are a handful of
 * numbers, read after every step.
 */
import { CpuBackend, toDot, withBackend, type Tensor } from '@simplex-vq/tensor';
import type { BackendInfo } from '../backend.js';
import { button, el, select } from '../dom.js';
import { OP_SOURCES, sourceUrl } from '../source-links.js';
import type { View } from '../view.js';
import { EXPRESSIONS, makeLeaves, type Expression } from './expressions.js';
import { collectGraph, layoutGraph, type GraphNode, type Layout } from './graph-layout.js';
import { BackwardStepper, type BackwardEvent } from './stepper.js';

const SVG = 'http://www.w3.org/2000/svg';
const BOX = { width: 168, height: 64 };
const SIZE = { columnWidth: 184, rowHeight: 84, marginX: 10 + BOX.width / 2, marginY: 10 + BOX.height / 2 };
const SGD_LR = 0.5;

const cpu = new CpuBackend({ threads: 1 });

/** A tensor in a few characters: the number, a short vector, or the shape and the first values. */
export function formatTensor(t: Tensor, max = 4): string {
  const v = Array.from(t.data());
  const f = (x: number) => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(3));
  if (t.size === 1 && t.ndim <= 1) return f(v[0]!);
  if (t.size <= max) return `[${v.map(f).join(', ')}]`;
  return `[${t.shape.join('×')}] ${v.slice(0, 2).map(f).join(', ')}, …`;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export class AutodiffView implements View {
  readonly name = 'autodiff' as const;
  readonly title = 'Autodiff, step by step';
  readonly element: HTMLElement;
  private expression: Expression = EXPRESSIONS[0]!;
  private values: Record<string, number[]> = {};
  private leaves: Record<string, Tensor> = {};
  private root!: Tensor;
  private stepper!: BackwardStepper;
  private layout!: Layout;
  private selected: Tensor | null = null;
  private comparison: { maxDifference: number; matches: boolean } | null = null;
  private sgdSteps = 0;
  private readonly graphHost: HTMLElement;
  private readonly code: HTMLElement;
  private readonly about: HTMLElement;
  private readonly eventBox: HTMLElement;
  private readonly detail: HTMLElement;
  private readonly dot: HTMLElement;
  private readonly sgdButton: HTMLButtonElement;
  private readonly stepButton: HTMLButtonElement;

  constructor() {
    const pick = select('autodiff-expression', 'expression', EXPRESSIONS.map((e) => ({ value: e.id, text: e.title })), this.expression.id, (id) => {
      this.expression = EXPRESSIONS.find((e) => e.id === id)!;
      this.values = {};
      this.sgdSteps = 0;
      this.rebuild();
    });
    this.stepButton = button('autodiff-step', 'backward: next tensor ▸', () => this.next());
    this.sgdButton = button('autodiff-sgd', `apply an SGD step (lr ${SGD_LR})`, () => this.sgd());
    const controls = el('div', { class: 'controls' }, [
      pick.element,
      this.stepButton,
      button('autodiff-run', 'run to the end ▸▸', () => this.runToEnd()),
      button('autodiff-reset', 'forward again', () => this.rebuild()),
      this.sgdButton,
    ]);
    this.about = el('p', { class: 'note' });
    this.code = el('pre', { class: 'code', id: 'autodiff-code' });
    this.graphHost = el('div', { class: 'graph', id: 'autodiff-graph' });
    this.eventBox = el('div', { class: 'event', id: 'autodiff-event' });
    this.detail = el('div', { class: 'detail', id: 'autodiff-detail' });
    this.dot = el('pre', { class: 'code' });
    this.element = el('section', { id: 'view-autodiff', class: 'view' }, [
      el('p', { class: 'intro', html: 'Every op of <code>@simplex-vq/tensor</code> records its inputs and a <i>vjp</i>, the function that turns ∂loss/∂output into ∂loss/∂inputs. <code>backward()</code> visits the tensors from the loss down, each once its gradient is complete. Step through it here; click a tensor for its values and its op’s source.' }),
      controls,
      this.about,
      el('div', { class: 'row' }, [
        this.graphHost,
        el('div', { class: 'side autodiff-side' }, [
          this.code,
          this.eventBox,
          this.detail,
          el('details', {}, [el('summary', { text: 'the same graph as Graphviz DOT text (toDot(loss))' }), this.dot]),
        ]),
      ]),
    ]);
    this.rebuild();
  }

  /** Builds the expression from its leaves (forward pass); the backward walk starts over. */
  private rebuild(): void {
    withBackend(cpu, () => {
      this.leaves = makeLeaves(this.expression, this.values);
      this.root = this.expression.build(this.leaves);
      this.stepper = new BackwardStepper(this.root);
    });
    this.layout = layoutGraph(collectGraph(this.root), SIZE);
    this.selected = null;
    this.comparison = null;
    this.about.textContent = this.expression.about;
    this.code.textContent = `// leaves: ${this.expression.leaves.map((l) => `${l.name} [${l.shape.join('×') || 'scalar'}]${l.requiresGrad ? '' : ' (no grad)'}`).join(', ')}\n${this.expression.code}`;
    this.dot.textContent = toDot(this.root);
    this.eventBox.innerHTML = `Forward pass done: <b>loss = ${formatTensor(this.root)}</b>. ${this.stepper.order.length} tensors need a gradient; press <i>next tensor</i>.`;
    this.render();
  }

  next(): BackwardEvent | null {
    const e = withBackend(cpu, () => this.stepper.next());
    if (e) {
      this.selected = e.tensor;
      this.describe(e);
    }
    if (this.stepper.done && !this.comparison) this.compare();
    this.render();
    return e;
  }

  runToEnd(): void {
    while (!this.stepper.done) this.next();
  }

  private label(t: Tensor): string {
    const op = t.gradFn?.op;
    return t.name ? (op ? `${t.name} = ${op}(…)` : t.name) : op ?? (t.requiresGrad ? 'leaf' : formatTensor(t));
  }

  private describe(e: BackwardEvent): void {
    const op = e.tensor.gradFn?.op;
    const pos = `Step ${this.stepper.position} of ${this.stepper.order.length}`;
    const g = `∂loss/∂${e.tensor.name ?? op ?? 'tensor'} = <b>${formatTensor(e.gradient, 6)}</b>`;
    if (!op) {
      this.eventBox.innerHTML = `${pos}: <b>${e.tensor.name ?? 'a leaf'}</b> is a leaf: its gradient is complete, ${g}. <code>backward()</code> leaves it in <code>${e.tensor.name ?? 'leaf'}.grad</code>.`;
      return;
    }
    const src = OP_SOURCES[op];
    const link = src ? ` <a href="${sourceUrl(src.file, src.line)}" target="_blank">${src.file}:${src.line}</a>` : '';
    const sent = e.sent.map((s) => `∂loss/∂${this.label(s.input)} += ${formatTensor(s.gradient, 6)}`).join('; ');
    this.eventBox.innerHTML = `${pos}: <b>${op}</b> made ${e.tensor.name ?? 'this tensor'}; ${g} has arrived. Its vjp${src?.doc ? ` (<i>${src.doc}</i>)` : ''} sends: ${sent || 'nothing (no input needs a gradient)'}.${link}`;
  }

  /** The engine's own backward() on the same values: the gradients must be the ones the walk found. */
  private compare(): void {
    let maxDifference = 0;
    withBackend(cpu, () => {
      const fresh = makeLeaves(this.expression, this.currentValues());
      this.expression.build(fresh).backward();
      for (const l of this.expression.leaves) {
        if (!l.requiresGrad) continue;
        const want = fresh[l.name]!.grad!.data();
        const got = this.stepper.gradients.get(this.leaves[l.name]!)?.data() ?? new Float32Array(want.length).fill(NaN);
        for (let i = 0; i < want.length; i++) maxDifference = Math.max(maxDifference, Math.abs(want[i]! - got[i]!));
      }
    });
    this.comparison = { maxDifference, matches: maxDifference === 0 };
    this.eventBox.innerHTML += `<br><span class="check">Done. <code>loss.backward()</code> on the same values gives ${this.comparison.matches ? 'the same gradients, bit for bit' : `gradients that differ by up to ${maxDifference.toExponential(2)}`}.</span>`;
  }

  private currentValues(): Record<string, number[]> {
    return Object.fromEntries(this.expression.leaves.map((l) => [l.name, Array.from(this.leaves[l.name]!.data())]));
  }

  /** p ← p − lr·∂loss/∂p for every parameter, then the forward pass again. */
  private sgd(): void {
    if (!this.stepper.done) this.runToEnd();
    const values = this.currentValues();
    for (const l of this.expression.leaves) {
      if (!l.requiresGrad) continue;
      const g = this.stepper.gradients.get(this.leaves[l.name]!)?.data();
      if (g) values[l.name] = values[l.name]!.map((v, i) => v - SGD_LR * g[i]!);
    }
    this.values = values;
    this.sgdSteps++;
    this.rebuild();
  }

  private render(): void {
    const { nodes, width, height } = this.layout;
    const current = this.stepper.events.at(-1);
    const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: 'graph-svg' });
    const edges = svg('g', { class: 'edges' });
    const boxes = svg('g', { class: 'nodes' });
    root.append(edges, boxes);
    const active = new Set(current ? current.sent.map((s) => s.input) : []);
    for (const n of nodes) {
      for (const i of n.inputs) {
        const y1 = i.y + BOX.height / 2;
        const y2 = n.y - BOX.height / 2;
        const hot = current?.tensor === n.tensor && active.has(i.tensor);
        edges.append(svg('path', { d: `M${i.x} ${y1} C${i.x} ${(y1 + y2) / 2}, ${n.x} ${(y1 + y2) / 2}, ${n.x} ${y2}`, class: hot ? 'edge hot' : 'edge' }));
      }
    }
    for (const n of nodes) boxes.append(this.node(n, current?.tensor === n.tensor));
    this.graphHost.replaceChildren(root);
    // Keep the tensor whose turn it is in sight.
    const focus = nodes.find((n) => n.tensor === current?.tensor);
    if (focus) this.graphHost.scrollTop = focus.y - this.graphHost.clientHeight / 2;
    this.stepButton.disabled = this.stepper.done;
    this.renderDetail();
  }

  private node(n: GraphNode, isCurrent: boolean): SVGGElement {
    const t = n.tensor;
    const op = t.gradFn?.op;
    const grad = this.stepper.gradients.get(t);
    const kind = op ? 'op' : t.requiresGrad ? 'param' : 'const';
    const g = svg('g', { class: `node ${kind}${isCurrent ? ' current' : ''}${grad ? ' done' : ''}${this.selected === t ? ' selected' : ''}`, 'data-tensor': t.id, transform: `translate(${n.x - BOX.width / 2} ${n.y - BOX.height / 2})` });
    g.append(svg('rect', { width: BOX.width, height: BOX.height, rx: 6 }));
    const title = op ? `${op}${t.name ? ` → ${t.name}` : ''}` : t.name ?? 'constant';
    const src = op ? OP_SOURCES[op] : undefined;
    if (src) {
      const a = svg('a', { href: sourceUrl(src.file, src.line), target: '_blank', class: 'op-link' });
      a.append(svg('text', { x: 8, y: 16, class: 'title' }, title));
      g.append(a);
    } else g.append(svg('text', { x: 8, y: 16, class: 'title' }, title));
    g.append(svg('text', { x: 8, y: 34, class: 'value' }, `= ${formatTensor(t)}`));
    const gradText = !t.requiresGrad ? 'no gradient (constant)' : grad ? `grad ${formatTensor(grad)}` : 'grad …';
    g.append(svg('text', { x: 8, y: 52, class: grad ? 'grad' : 'grad pending' }, gradText));
    g.addEventListener('click', (e) => {
      if ((e.target as Element).closest('a')) return;
      this.selected = t;
      this.render();
    });
    return g;
  }

  private renderDetail(): void {
    const t = this.selected;
    if (!t) {
      this.detail.innerHTML = '<i>Click a tensor for its values, its gradient and its op’s source.</i>';
      return;
    }
    const op = t.gradFn?.op;
    const src = op ? OP_SOURCES[op] : undefined;
    const grad = this.stepper.gradients.get(t);
    const parts = [
      `<b>${t.name ?? op ?? 'constant'}</b> — shape [${t.shape.join(', ')}]${op ? `, made by <b>${op}</b> from ${t.gradFn!.inputs.map((i) => this.label(i)).join(', ')}` : t.requiresGrad ? ', a parameter (leaf)' : ', a constant'}`,
      `value: <code>${escapeHtml(JSON.stringify(roundDeep(t.toArray())))}</code>`,
      t.requiresGrad ? `∂loss/∂${t.name ?? 'this'}: <code>${grad ? escapeHtml(JSON.stringify(roundDeep(grad.toArray()))) : 'not yet (its turn has not come)'}</code>` : '',
    ];
    this.detail.innerHTML = parts.filter(Boolean).join('<br>');
    if (src) {
      const pre = el('pre', { class: 'code source' });
      pre.textContent = src.snippet;
      this.detail.append(el('div', {}, [el('a', { href: sourceUrl(src.file, src.line), target: '_blank', text: `${src.file}:${src.line}` }), src.doc ? ` — ${src.doc}` : '']), pre);
    }
  }

  frame(): void {}

  onBackend(_info: BackendInfo): void {}

  state(): Record<string, unknown> {
    const leafGradients: Record<string, number[]> = {};
    for (const l of this.expression.leaves) {
      const g = this.stepper.gradients.get(this.leaves[l.name]!);
      if (g) leafGradients[l.name] = Array.from(g.data());
    }
    return {
      expression: this.expression.id,
      position: this.stepper.position,
      total: this.stepper.order.length,
      done: this.stepper.done,
      loss: this.root.item(),
      nodes: this.layout.nodes.length,
      leafGradients,
      matchesBackward: this.comparison?.matches ?? null,
      maxDifference: this.comparison?.maxDifference ?? null,
      sgdSteps: this.sgdSteps,
    };
  }
}

const roundDeep = (v: unknown): unknown => (Array.isArray(v) ? v.map(roundDeep) : typeof v === 'number' ? Number(v.toPrecision(5)) : v);
const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
