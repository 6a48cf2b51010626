/**
 * The simplex view: the triangle of p_n (the frame drawn by @simplex-vq/viz/svg's
 * simplexPanelsSvg, the moving dots on a canvas above it, placed with its simplexTriangle and
 * barycentricToXY), the method and its settings, and code usage and perplexities as they go.
 */
import { barycentricToXY, simplexPanelsSvg, simplexTriangle, type SimplexPanelsOptions, type Triangle } from '@simplex-vq/viz/svg';
import type { Method } from '@simplex-vq/vq';
import type { BackendInfo } from './backend.js';
import { context2d, drawLineChart } from './chart.js';
import { button, el, select, slider } from './dom.js';
import { Rate } from './rate.js';
import { BLOB_OF_ROW, DEFAULT_SIMPLEX, SIMPLEX_METHODS, SimplexTrainer } from './simplex-trainer.js';
import type { View } from './view.js';

const SIZE = { width: 440, height: 420 };
/** Colours of the three data blobs (200, 100 and 50 points). */
const BLOB_COLORS = ['#4c78a8', '#e45756', '#54a24b'];
/**
 * Training time per animation frame (at least one step): half of a 60 Hz frame, the rest is for
 * reading the points back and drawing. Where a step takes longer, each frame trains one step.
 */
const TRAIN_MS = 8;

export class SimplexView implements View {
  readonly name = 'simplex' as const;
  readonly title = 'The simplex (M = 3)';
  readonly element: HTMLElement;
  readonly trainer = new SimplexTrainer(DEFAULT_SIMPLEX);
  running = true;
  private readonly updates = new Rate();
  private readonly canvas: HTMLCanvasElement;
  private readonly frameHost: HTMLElement;
  private readonly usageChart: HTMLCanvasElement;
  private readonly perplexityChart: HTMLCanvasElement;
  private readonly stats: HTMLElement;
  /** The last picture of the run before a restart, to compare with (e.g. perplexity beside KNN-CE). */
  private readonly previous: HTMLElement;
  private readonly note: HTMLElement;
  private readonly runButton: HTMLButtonElement;
  private readonly methodSelect: HTMLSelectElement;
  private readonly kControl: HTMLElement;
  private readonly temperatureControl: HTMLElement;
  private triangle: Triangle;
  private drawnStep = -1;
  /** Whether the page has said that the first steps compile GPU kernels (once per model). */
  private compileNoticeShown = false;

  constructor(private backend: BackendInfo) {
    const t = this.trainer.settings;
    const method = select<Method>('simplex-method', 'method', SIMPLEX_METHODS.map((m) => ({ value: m.method, text: m.title })), t.method, (m) => this.setMethod(m));
    this.methodSelect = method.input;
    const k = slider({ id: 'simplex-k', label: 'K (neighbours)', min: 1, max: 64, value: t.k, log: true, integer: true, onChange: (v) => this.restart(() => this.trainer.configure({ k: v })) });
    const temperature = slider({ id: 'simplex-temperature', label: 'temperature τ', min: 0.05, max: 5, value: t.temperature, log: true, onChange: (v) => this.restart(() => this.trainer.configure({ temperature: v })) });
    const lr = slider({ id: 'simplex-lr', label: 'learning rate', min: 1e-4, max: 0.1, value: t.lr, log: true, format: (v) => v.toExponential(1), onChange: (v) => this.trainer.configure({ lr: v }) });
    this.kControl = k.element;
    this.temperatureControl = temperature.element;
    this.runButton = button('simplex-run', 'pause', () => this.toggle());
    const controls = el('div', { class: 'controls' }, [
      method.element,
      k.element,
      temperature.element,
      lr.element,
      this.runButton,
      button('simplex-reset', 'restart', () => this.restart(() => this.trainer.reset())),
      button('simplex-svg', 'save SVG', () => this.saveSvg()),
    ]);
    this.note = el('p', { class: 'note', id: 'simplex-note' });
    this.frameHost = el('div', { class: 'simplex-frame' });
    this.canvas = el('canvas', { id: 'simplex-canvas', width: SIZE.width, height: SIZE.height });
    this.canvas.style.width = `${SIZE.width}px`;
    this.canvas.style.height = `${SIZE.height}px`;
    this.triangle = simplexTriangle(this.frameOptions(), 0);
    this.frameHost.innerHTML = simplexPanelsSvg(this.frameOptions());
    const legend = el('p', { class: 'legend' }, [
      'Each dot is one p_n, the quantizer’s probabilities over the 3 codes of one data point; corners are one-hot. Colours: the data blob it comes from (',
      ...['200', '100', '50'].flatMap((n, i) => [el('span', { style: `color:${BLOB_COLORS[i]}`, text: `● ${n} points` }), i < 2 ? ', ' : '']),
      ').',
    ]);
    this.stats = el('div', { class: 'stats', id: 'simplex-stats' });
    this.previous = el('div', { class: 'previous', id: 'simplex-previous' });
    this.usageChart = el('canvas', { class: 'chart', id: 'simplex-usage-chart' });
    this.perplexityChart = el('canvas', { class: 'chart', id: 'simplex-perplexity-chart' });
    this.element = el('section', { id: 'view-simplex', class: 'view' }, [
      el('p', { class: 'intro', html: 'The paper’s Figure 1, live: a small autoencoder (2-D data → MLP → quantizer with <b>M = 3</b> codes → MLP) trains in this page, the model of <code>simplex-ae toy</code>. A smoothed quantizer gives each point a probability vector p_n, a point of the triangle. Perplexity regularization spreads the points while KNN pushes them to the vertices.' }),
      controls,
      this.note,
      el('div', { class: 'row' }, [
        el('div', { class: 'simplex-stack' }, [this.frameHost, this.canvas]),
        el('div', { class: 'side' }, [this.stats, this.usageChart, this.perplexityChart]),
        this.previous,
      ]),
      legend,
    ]);
    this.showMethod();
  }

  private frameOptions(): SimplexPanelsOptions {
    const m = SIMPLEX_METHODS.find((x) => x.method === this.trainer.settings.method);
    return { panels: [{ title: m?.title ?? this.trainer.settings.method, points: [] }], width: SIZE.width, height: SIZE.height };
  }

  setMethod(method: Method): void {
    this.methodSelect.value = method;
    this.restart(() => this.trainer.configure({ method }));
    this.showMethod();
  }

  /** Runs `change` (which starts the model again), keeping the picture it ends as "before". */
  private restart(change: () => void): void {
    const s = this.trainer.snapshot;
    if (s && this.trainer.points.length > 0) {
      const p = this.trainer.points;
      const t = this.trainer.settings;
      const points = Array.from({ length: p.length / 3 }, (_, i) => [p[i * 3]!, p[i * 3 + 1]!, p[i * 3 + 2]!]);
      const title = SIMPLEX_METHODS.find((m) => m.method === t.method)?.title.split(' ')[0] ?? t.method;
      this.previous.innerHTML =
        `<div class="caption">before the restart</div>` +
        simplexPanelsSvg({ panels: [{ title, subtitle: `step ${s.step} · indiv. perplexity ${s.individualPerplexity.toFixed(2)}`, points }], width: 230, height: 250, pointRadius: 1.8, opacity: 0.3 });
    }
    change();
  }

  private showMethod(): void {
    const m = SIMPLEX_METHODS.find((x) => x.method === this.trainer.settings.method)!;
    this.note.textContent = m.note;
    this.kControl.classList.toggle('disabled', !m.knn);
    this.temperatureControl.classList.toggle('disabled', !m.smoothed);
    this.frameHost.innerHTML = simplexPanelsSvg(this.frameOptions());
    this.triangle = simplexTriangle(this.frameOptions(), 0);
    this.drawnStep = -1;
  }

  toggle(running = !this.running): void {
    this.running = running;
    this.runButton.textContent = running ? 'pause' : 'run';
  }

  onBackend(info: BackendInfo): void {
    this.backend = info;
    this.trainer.reset();
    this.updates.reset();
    this.compileNoticeShown = false;
  }

  frame(now: number): void {
    if (this.running && this.trainer.step === 0 && this.backend.name === 'webgl2' && !this.compileNoticeShown) {
      // The first steps compile each kernel into a shader (seconds on SwiftShader): say so, and
      // let the page show it before training holds the thread.
      this.stats.innerHTML = '<b>compiling GPU kernels…</b> the first steps on WebGL2 take a few seconds.';
      this.compileNoticeShown = true;
      return;
    }
    if (this.running) {
      this.trainer.train(TRAIN_MS);
      this.trainer.observe();
    }
    if (this.trainer.step !== this.drawnStep) {
      this.draw();
      this.drawnStep = this.trainer.step;
      this.updates.tick(now);
    }
  }

  private draw(): void {
    const { ctx } = context2d(this.canvas);
    const p = this.trainer.points;
    const n = p.length / 3;
    ctx.globalAlpha = 0.45;
    BLOB_COLORS.forEach((color, blob) => {
      ctx.fillStyle = color;
      for (let i = 0; i < n; i++) {
        if (BLOB_OF_ROW[i] !== blob) continue;
        const [x, y] = barycentricToXY(p.subarray(i * 3, i * 3 + 3), this.triangle);
        // One fill per dot, so overlapping dots show darker where points crowd.
        ctx.beginPath();
        ctx.arc(x, y, 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    });
    ctx.globalAlpha = 1;
    const s = this.trainer.snapshot;
    const h = this.trainer.history;
    if (s) {
      this.stats.innerHTML =
        `<b>step ${s.step}</b> · loss ${s.loss.toFixed(4)}<br>` +
        `code usage <b>${Math.round(s.codeUsage * 3)} of 3</b> · individual perplexity <b>${s.individualPerplexity.toFixed(2)}</b><br>` +
        `perplexity of the mean ${s.perplexityOfMean.toFixed(2)} · mean 1 − max p_n ${s.meanVertexDistance.toFixed(3)}<br>` +
        `<span class="speed">${this.trainer.steps.perSecond().toFixed(0)} steps/s · ${this.updates.perSecond().toFixed(0)} updates/s</span>`;
    }
    drawLineChart(this.usageChart, { title: 'code usage (codes used / 3)', yMin: 0, yMax: 1, series: [{ label: 'usage', color: '#4c78a8', points: h.map((r) => [r.step, r.codeUsage]) }] });
    drawLineChart(this.perplexityChart, {
      title: 'perplexities (1 … 3)',
      yMin: 1,
      yMax: 3,
      series: [
        { label: 'individual exp H(p_n)', color: '#e45756', points: h.map((r) => [r.step, r.individualPerplexity]) },
        { label: 'of the mean p̄', color: '#54a24b', points: h.map((r) => [r.step, r.perplexityOfMean]) },
      ],
    });
  }

  /** The current picture as an SVG file, drawn by simplexPanelsSvg as the reports draw it. */
  private saveSvg(): void {
    const p = this.trainer.points;
    const points = Array.from({ length: p.length / 3 }, (_, i) => [p[i * 3]!, p[i * 3 + 1]!, p[i * 3 + 2]!]);
    const s = this.trainer.snapshot;
    const svg = simplexPanelsSvg({ ...this.frameOptions(), panels: [{ ...this.frameOptions().panels[0]!, subtitle: s ? `step ${s.step}, individual perplexity ${s.individualPerplexity.toFixed(2)}` : undefined, points }] });
    const a = el('a', { href: URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' })), download: `simplex-${this.trainer.settings.method}-step${this.trainer.step}.svg` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  state(): Record<string, unknown> {
    const s = this.trainer.snapshot;
    return {
      step: this.trainer.step,
      method: this.trainer.settings.method,
      codeUsage: s?.codeUsage ?? null,
      individualPerplexity: s?.individualPerplexity ?? null,
      perplexityOfMean: s?.perplexityOfMean ?? null,
      meanVertexDistance: s?.meanVertexDistance ?? null,
      loss: s?.loss ?? null,
      k: this.trainer.settings.k,
      temperature: this.trainer.settings.temperature,
      lr: this.trainer.settings.lr,
      running: this.running,
      stepsPerSecond: this.trainer.steps.perSecond(),
      updatesPerSecond: this.updates.perSecond(),
    };
  }
}
