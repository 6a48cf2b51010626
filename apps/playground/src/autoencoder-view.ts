/**
 * The autoencoder view: pick a method and watch the reconstructions of held-out digits, the code
 * each of their 7×7 latent vectors gets, and code usage, improve as the model trains in the page;
 * or load a checkpoint trained by `simplex-ae train` and look at its codes.
 */
import type { Method } from '@simplex-vq/vq';
import type { BackendInfo } from './backend.js';
import { context2d, drawBars, drawLineChart } from './chart.js';
import { button, el, select } from './dom.js';
import { MNIST_SLICE_PATH, parseMnistSlice, type MnistSlice } from './mnist-format.js';
import { AE_METHODS, AutoencoderTrainer, BATCH, HELD_OUT, evaluate, loadAutoencoderCheckpoint, pageModelConfig, type Evaluation, type LoadedModel } from './autoencoder-trainer.js';
import type { View } from './view.js';

const SHOW = 8;
const SCALE = 2;
/** Training time per frame: the steps are larger than the simplex's, and the page must stay responsive. */
const TRAIN_MS = 40;
/** The held-out digits are evaluated at most this often (ms). */
const EVAL_EVERY_MS = 1500;

/** A colour per code, far apart for nearby indices (golden-angle hues). */
const codeColor = (c: number) => `hsl(${(c * 137.508) % 360} 65% ${c % 2 ? 45 : 62}%)`;

export class AutoencoderView implements View {
  readonly name = 'autoencoder' as const;
  readonly title = 'Discrete autoencoder on MNIST';
  readonly element: HTMLElement;
  trainer: AutoencoderTrainer | null = null;
  running = true;
  loaded: (LoadedModel & { evaluation: Evaluation }) | null = null;
  private slice: MnistSlice | null = null;
  private loadError: string | null = null;
  private lastEval = 0;
  private method: Method = 'knn-ce';
  /** Whether the page has been told that the first steps compile GPU kernels (once per model). */
  private compileNoticeShown = false;
  private readonly status: HTMLElement;
  private readonly images: HTMLCanvasElement;
  private readonly usageChart: HTMLCanvasElement;
  private readonly mseChart: HTMLCanvasElement;
  private readonly bars: HTMLCanvasElement;
  private readonly runButton: HTMLButtonElement;
  private readonly checkpointInfo: HTMLElement;

  constructor(private backend: BackendInfo) {
    const method = select<Method>('ae-method', 'method', AE_METHODS.map((m) => ({ value: m.method, text: m.title })), this.method, (m) => this.setMethod(m));
    this.runButton = button('ae-run', 'pause', () => this.toggle());
    const file = el('input', { type: 'file', id: 'ae-checkpoint', accept: '.safetensors' });
    file.addEventListener('change', () => {
      const f = file.files?.[0];
      if (f) void this.loadCheckpoint(f);
    });
    const c = pageModelConfig(this.method);
    this.status = el('div', { class: 'stats', id: 'ae-status' });
    this.images = el('canvas', { id: 'ae-canvas' });
    const w = SHOW * (28 * SCALE + 6) + 90;
    this.images.style.width = `${w}px`;
    this.images.style.height = `${3 * (28 * SCALE + 8) + 10}px`;
    this.usageChart = el('canvas', { class: 'chart', id: 'ae-usage-chart' });
    this.mseChart = el('canvas', { class: 'chart', id: 'ae-mse-chart' });
    this.bars = el('canvas', { class: 'chart', id: 'ae-bars' });
    this.checkpointInfo = el('div', { class: 'stats', id: 'ae-checkpoint-info' });
    this.element = el('section', { id: 'view-autoencoder', class: 'view' }, [
      el('p', { class: 'intro', html: `The discrete autoencoder of <code>simplex-ae</code> (conv encoder → a 7×7 grid of C-dim vectors → quantizer → conv decoder), here with C = ${c.dim}, M = ${c.codebookSize} codes and ${c.hidden} hidden channels, trained in the page on ${'{train}'} MNIST digits shipped with the site (batches of ${BATCH}); ${HELD_OUT} held-out digits are shown. Code usage is the fraction of the M codes the held-out digits use.` }),
      el('div', { class: 'controls' }, [method.element, this.runButton, button('ae-reset', 'restart', () => this.setMethod(this.method)), el('label', { class: 'control' }, [el('span', { text: 'load a simplex-ae checkpoint' }), file])]),
      this.status,
      el('div', { class: 'row' }, [this.images, el('div', { class: 'side' }, [this.usageChart, this.mseChart, this.bars])]),
      this.checkpointInfo,
    ]);
  }

  private async data(): Promise<MnistSlice> {
    if (this.slice) return this.slice;
    const response = await fetch(MNIST_SLICE_PATH);
    if (!response.ok) throw new Error(`${MNIST_SLICE_PATH}: HTTP ${response.status}`);
    this.slice = parseMnistSlice(new Uint8Array(await response.arrayBuffer()));
    const intro = this.element.querySelector('.intro')!;
    intro.innerHTML = intro.innerHTML.replace('{train}', String(this.slice.count - HELD_OUT));
    return this.slice;
  }

  /** Loads the data (once) and builds the model; called when the view is first shown. */
  async start(): Promise<void> {
    if (this.trainer) return;
    try {
      this.trainer = new AutoencoderTrainer(await this.data(), this.method);
    } catch (e) {
      this.loadError = (e as Error).message;
      this.status.textContent = `cannot start: ${this.loadError}`;
    }
  }

  setMethod(method: Method): void {
    this.method = method;
    (this.element.querySelector('#ae-method') as HTMLSelectElement).value = method;
    this.trainer?.reset(method);
    this.lastEval = 0;
    this.compileNoticeShown = false;
  }

  toggle(running = !this.running): void {
    this.running = running;
    this.runButton.textContent = running ? 'pause' : 'run';
  }

  onBackend(info: BackendInfo): void {
    this.backend = info;
    this.trainer?.reset();
    this.lastEval = 0;
    this.compileNoticeShown = false;
  }

  async loadCheckpoint(file: File): Promise<void> {
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const loaded = loadAutoencoderCheckpoint(bytes, file.name);
      const evaluation = evaluate(loaded.model, await this.data());
      this.loaded = { ...loaded, evaluation };
      this.loadError = null;
      this.toggle(false);
    } catch (e) {
      this.loaded = null;
      this.loadError = (e as Error).message;
    }
    this.drawCheckpoint();
  }

  frame(now: number): void {
    void this.start();
    const t = this.trainer;
    if (!t) return;
    if (this.running && t.step === 0 && this.backend.name === 'webgl2' && !this.compileNoticeShown) {
      // The first step compiles every kernel of the model into a shader (about half a minute on
      // SwiftShader) and holds the page meanwhile: say so first, and train from the next frame.
      this.status.innerHTML = '<b>compiling the model’s GPU kernels…</b> the first step on WebGL2 takes a while (about 30 s without a GPU); the page is busy until it is done.';
      this.compileNoticeShown = true;
      return;
    }
    if (this.running) t.train(TRAIN_MS);
    if (t.step > 0 && (now - this.lastEval > EVAL_EVERY_MS || !t.evaluation)) {
      t.evaluate();
      this.lastEval = performance.now();
      this.draw();
    }
    this.status.innerHTML = `<b>step ${t.step}</b> · ${this.method} · training loss ${t.loss.toFixed(4)} · batch code usage ${(t.batchUsage * 100).toFixed(0)}% · <span class="speed">${t.steps.perSecond().toFixed(1)} steps/s</span>`;
  }

  private drawDigits(canvas: HTMLCanvasElement, e: Evaluation, slice: MnistSlice, rows: string[]): void {
    const { ctx } = context2d(canvas);
    const px = 28 * SCALE;
    const size = slice.height * slice.width;
    const first = slice.count - HELD_OUT;
    const image = (data: Float32Array, offset: number, x: number, y: number) => {
      const img = ctx.createImageData(28, 28);
      for (let i = 0; i < size; i++) {
        const v = Math.round(255 * Math.min(1, Math.max(0, data[offset + i]!)));
        img.data.set([v, v, v, 255], i * 4);
      }
      const tmp = document.createElement('canvas');
      tmp.width = 28;
      tmp.height = 28;
      tmp.getContext('2d')!.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(tmp, x, y, px, px);
    };
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#222';
    rows.forEach((r, i) => ctx.fillText(r, 0, 14 + i * (px + 8) + px / 2));
    for (let d = 0; d < SHOW; d++) {
      const x = 86 + d * (px + 6);
      image(slice.images, (first + d) * size, x, 4);
      image(e.reconstructions, d * size, x, 4 + px + 8);
      const cell = px / 7;
      for (let j = 0; j < 49; j++) {
        const code = e.codes[d * 49 + j]!;
        ctx.fillStyle = codeColor(code);
        ctx.fillRect(x + (j % 7) * cell, 4 + 2 * (px + 8) + Math.floor(j / 7) * cell, cell - 0.5, cell - 0.5);
      }
    }
  }

  private draw(): void {
    const t = this.trainer;
    if (!t?.evaluation || !this.slice) return;
    const e = t.evaluation;
    this.drawDigits(this.images, e, this.slice, ['held out', 'reconstructed', 'codes (7×7)']);
    drawLineChart(this.usageChart, { title: 'code usage, held-out digits', yMin: 0, yMax: 1, series: [{ label: 'usage', color: '#4c78a8', points: t.history.map((h) => [h.step, h.codeUsage]) }] });
    drawLineChart(this.mseChart, { title: 'reconstruction MSE (hard codes)', yMin: 0, series: [{ label: 'MSE', color: '#e45756', points: t.history.map((h) => [h.step, h.mse]) }] });
    drawBars(this.bars, `how often each of the ${t.model.quantizer.codebookSize} codes is used (held-out digits; used: ${Math.round(e.usage.codeUsage * t.model.quantizer.codebookSize)})`, e.usage.histogram);
  }

  private drawCheckpoint(): void {
    if (this.loadError) {
      this.checkpointInfo.innerHTML = `<span class="error">checkpoint not loaded: ${escapeHtml(this.loadError)}</span>`;
      return;
    }
    const l = this.loaded;
    if (!l || !this.slice) return;
    const e = l.evaluation;
    const M = l.model.quantizer.codebookSize;
    const canvas = el('canvas', { id: 'ae-checkpoint-canvas' });
    canvas.style.width = this.images.style.width;
    canvas.style.height = this.images.style.height;
    const bars = el('canvas', { class: 'chart wide', id: 'ae-checkpoint-bars' });
    this.checkpointInfo.replaceChildren(
      el('h3', { text: `Checkpoint ${l.file}` }),
      el('p', {
        html: `${l.config.method}, C = ${l.config.dim}, M = ${M}${l.config.groups > 1 ? `, ${l.config.groups} groups` : ''}, ${l.config.hidden} hidden channels, trained ${l.step ?? '?'} steps. On the ${HELD_OUT} held-out digits: <b>code usage ${(e.usage.codeUsage * 100).toFixed(1)}%</b> (${Math.round(e.usage.codeUsage * M)} of ${M}), perplexity of the codes ${e.usage.perplexityOfMean.toFixed(1)}, MSE ${e.mse.toFixed(4)}. Training here is paused; press run to go on with the page’s model.`,
      }),
      el('div', { class: 'row' }, [canvas, bars]),
    );
    this.drawDigits(canvas, e, this.slice, ['held out', 'reconstructed', 'codes (7×7)']);
    drawBars(bars, `how often each of the ${M} codes is used`, e.usage.histogram);
  }

  state(): Record<string, unknown> {
    const t = this.trainer;
    const e = t?.evaluation;
    return {
      method: this.method,
      step: t?.step ?? 0,
      running: this.running,
      loss: t?.loss ?? null,
      codeUsage: e?.usage.codeUsage ?? null,
      mse: e?.mse ?? null,
      stepsPerSecond: t?.steps.perSecond() ?? 0,
      error: this.loadError,
      checkpoint: this.loaded
        ? { file: this.loaded.file, method: this.loaded.config.method, codebookSize: this.loaded.model.quantizer.codebookSize, step: this.loaded.step, codeUsage: this.loaded.evaluation.usage.codeUsage, mse: this.loaded.evaluation.mse, codes: Array.from(this.loaded.evaluation.codes.slice(0, 49)) }
        : null,
    };
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
