/**
 * The playground in a real browser: the built site (dist/, built here when missing) served by
 * `vite preview`, opened in Debian's Chromium through playwright-core (WebGL2 through SwiftShader,
 * as packages/backend-gpujs/test/browser.test.ts runs it). Each view is driven through its
 * controls and read back through `window.playground.state()` and its canvases:
 *  - the simplex trains on gpu.js's WebGL2 target, then on the CPU backend; switching the method
 *    restarts it, and perplexity regularization leaves the points spread where KNN-CE pulls
 *    them to the vertices (higher individual perplexity);
 *  - without WebGL2 (getContext refused) the page falls back to the CPU backend and says why;
 *  - the autodiff view steps through backward() and ends with the gradients of loss.backward()
 *    and of the derivatives written out by hand; an op link opens its source line;
 *  - the autoencoder trains on the MNIST slice, switches method, and loads a checkpoint that
 *    `simplex-ae train` (the real CLI) has just written.
 * It prints steps per second on WebGL2 and on the CPU backend, and the simplex view's updates per
 * second (PLAYGROUND_MEASURE_SECONDS, default 4, sets how long each is measured; `npm run speed`
 * measures 15 s). Screenshots of each view go to reports/screenshots/, and to docs/playground/
 * with UPDATE_SCREENSHOTS=1 (the committed ones).
 *
 * Needs /usr/bin/chromium (or CHROMIUM_PATH): where it is missing the suite is skipped with a
 * message outside CI and fails in CI (.ci/run installs it).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const APP = fileURLToPath(new URL('..', import.meta.url));
const REPO = join(APP, '../..');
const SHOTS = join(APP, 'reports/screenshots');
const DOCS = join(REPO, 'docs/playground');
const MEASURE_MS = 1000 * Number(process.env.PLAYGROUND_MEASURE_SECONDS ?? 4);
const run = promisify(execFile);
if (!available) {
  console.warn(`[playground] ${CHROMIUM} not found: the browser test needs Debian's chromium (apt-get install -y chromium)${process.env.CI ? '' : '; skipped outside CI'}`);
}

type State = Record<string, unknown> & {
  view: string;
  backend: string;
  backendLabel: string;
  fallbackReason: string | null;
  step: number;
  method: string;
  codeUsage: number | null;
  individualPerplexity: number | null;
  stepsPerSecond: number;
  updatesPerSecond: number;
  lr: number;
  k: number;
  errors: string[];
  autodiff: { expression: string; position: number; total: number; done: boolean; loss: number; leafGradients: Record<string, number[]>; matchesBackward: boolean | null; maxDifference: number | null; sgdSteps: number };
  autoencoder: { method: string; step: number; codeUsage: number | null; mse: number | null; stepsPerSecond: number; error: string | null; checkpoint: null | { file: string; method: string; codebookSize: number; step: number; codeUsage: number; mse: number; codes: number[] } };
};

const state = (page: Page) => page.evaluate(() => window.playground.state()) as Promise<State>;

/** Waits until `pred` holds for the page's state; the message says what was awaited and what was last seen. */
async function until(page: Page, what: string, pred: (s: State) => boolean, timeoutMs = 180_000): Promise<State> {
  const t0 = Date.now();
  let s = await state(page);
  while (!pred(s)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last state: ${JSON.stringify({ ...s, autodiff: undefined })}`);
    if (s.errors.length) throw new Error(`the page reported: ${s.errors.join('; ')}`);
    await page.waitForTimeout(250);
    s = await state(page);
  }
  return s;
}

/** A hash of a canvas's pixels: equal hashes mean the same picture. */
const canvasHash = (page: Page, selector: string) =>
  page.evaluate((sel) => {
    const c = document.querySelector(sel) as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 16777619);
    return `${c.width}x${c.height}:${(h >>> 0).toString(16)}`;
  }, selector);

/** Steps and redraws per second over MEASURE_MS, as the page counts them. */
async function measure(page: Page, steps: (s: State) => number): Promise<{ steps: number; updates: number }> {
  const first = await state(page);
  await page.waitForTimeout(MEASURE_MS);
  const last = await state(page);
  return { steps: (steps(last) - steps(first)) / (MEASURE_MS / 1000), updates: last.updatesPerSecond };
}

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS) {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(file, join(DOCS, `${name}.png`));
  }
}

const load = () => `load ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${process.env.CI ? 'CI' : 'this machine'}`;

describe.skipIf(!available && !process.env.CI)('the playground in headless Chromium', () => {
  let server: PreviewServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let url = '';
  const scratch = mkdtempSync(join(tmpdir(), 'simplex-vq-playground-'));
  const checkpoint = join(scratch, 'run', 'checkpoint.safetensors');

  beforeAll(async () => {
    expect(available, `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`).toBe(true);
    const vite = await import('vite');
    const cli = join(REPO, 'apps/autoencoder/dist/cli.js');
    expect(existsSync(cli), `${cli} is missing: build the workspace first (npm run build)`).toBe(true);
    // A checkpoint as a user makes one: the simplex-ae CLI, a short run of a small model (~8 s).
    const trained = run(process.execPath, [cli, 'train', '--method', 'knn-ce', '--steps', '150', '--hidden', '16', '--dim', '8', '--codebook-size', '32', '--batch-size', '16', '--eval-images', '50', '--threads', '1', '--out', join(scratch, 'run')]);
    if (!existsSync(join(APP, 'dist/index.html'))) {
      console.log('[playground] dist/ is missing: building the site');
      await vite.build({ root: APP, logLevel: 'warn' });
    }
    server = await vite.preview({ root: APP, logLevel: 'warn', preview: { port: 0, host: '127.0.0.1' } });
    url = server.resolvedUrls!.local[0]!;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // The flags of /work/.library/env/machines/node.md. WebGL2 still runs (on SwiftShader where there is no GPU), and the page is
      // composited in software: '--use-angle=swiftshader' would composite through SwiftShader's GL too, a third of the frame rate.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await (await browser.newContext({ viewport: { width: 1200, height: 860 } })).newPage();
    page.on('pageerror', (e) => console.log(`[playground] page error: ${e.message}`));
    await trained;
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('trains the simplex on gpu.js WebGL2 and says so', async () => {
    await page.goto(`${url}#simplex`);
    const s = await until(page, 'five training steps', (s) => s.step >= 5);
    expect(s.backend).toBe('webgl2');
    expect(s.backendLabel).toMatch(/WebGL2/);
    expect(await page.textContent('#backend-label')).toMatch(/training on: gpu\.js WebGL2/);
    expect(s.codeUsage).toBeGreaterThan(0);
    const before = await canvasHash(page, '#simplex-canvas');
    const speed = await measure(page, (s) => s.step);
    const after = await state(page);
    expect(after.step).toBeGreaterThan(s.step);
    expect(await canvasHash(page, '#simplex-canvas')).not.toBe(before);
    console.log(`[playground] simplex on WebGL2 (${s.backendLabel.replace('gpu.js WebGL2 on ', '')}): ${speed.steps.toFixed(1)} steps/s, ${speed.updates.toFixed(1)} updates/s (${load()})`);
  });

  it('trains on the CPU backend; switching the method restarts it, and perplexity leaves the points spread where KNN-CE pulls them to the vertices', async () => {
    await page.selectOption('#backend', 'cpu');
    let s = await until(page, 'the CPU backend', (s) => s.backend === 'cpu');
    expect(await page.textContent('#backend-label')).toMatch(/training on: CPU backend/);
    expect(s.method).toBe('knn-ce');
    const speed = await measure(page, (s) => s.step);
    console.log(`[playground] simplex on the CPU backend: ${speed.steps.toFixed(1)} steps/s, ${speed.updates.toFixed(1)} updates/s (${load()})`);
    const knn = await until(page, 'knn-ce at step 120', (s) => s.step >= 120);
    const knnCanvas = await canvasHash(page, '#simplex-canvas');

    await page.selectOption('#simplex-method', 'perplexity');
    s = await until(page, 'the perplexity method', (s) => s.method === 'perplexity');
    expect(s.step).toBeLessThan(knn.step);
    const perplexity = await until(page, 'perplexity at step 120', (s) => s.step >= 120);
    expect(await canvasHash(page, '#simplex-canvas')).not.toBe(knnCanvas);
    // Over 90–300 steps the toy gives individual perplexity ≈ 2.4 with the perplexity
    // regularizer and ≈ 1.8 with KNN-CE (K = 8): see apps/autoencoder's toy.
    expect(perplexity.individualPerplexity!).toBeGreaterThan(knn.individualPerplexity! + 0.3);
    expect(await page.textContent('#simplex-previous')).toMatch(/KNN-CE.*step \d+/);
    await screenshot(page, 'simplex');
    expect(perplexity.codeUsage).toBe(1);
    console.log(`[playground] individual perplexity at step ≥ 120: knn-ce ${knn.individualPerplexity!.toFixed(2)}, perplexity ${perplexity.individualPerplexity!.toFixed(2)}`);

    // The picture as an SVG file, drawn by viz's simplexPanelsSvg.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#simplex-svg')]);
    expect(download.suggestedFilename()).toMatch(/^simplex-perplexity-step\d+\.svg$/);
    const svg = readFileSync((await download.path())!, 'utf8');
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.match(/<circle /g)).toHaveLength(350);

    // The controls: the learning rate changes in place, K starts the model again.
    await page.locator('#simplex-lr').fill('200');
    s = await until(page, 'a new learning rate', (s) => s.lr !== 0.01);
    expect(s.lr).toBeLessThan(0.01);
    await page.selectOption('#simplex-method', 'knn-l2');
    await page.locator('#simplex-k').fill('900');
    s = await until(page, 'a new K', (s) => s.k !== 8 && s.method === 'knn-l2');
    expect(s.k).toBeGreaterThan(8);
    await until(page, 'knn-l2 training', (s) => s.step >= 3 && s.codeUsage !== null);
  });

  it('falls back to the CPU backend where WebGL2 is not available, and says why', async () => {
    const context = await browser!.newContext();
    await context.addInitScript(() => {
      const original = HTMLCanvasElement.prototype.getContext;
      HTMLCanvasElement.prototype.getContext = function (this: HTMLCanvasElement, type: string, ...rest: unknown[]) {
        return type === 'webgl2' || type === 'webgl' ? null : (original as (...a: unknown[]) => unknown).call(this, type, ...rest);
      } as typeof original;
    });
    const p = await context.newPage();
    try {
      await p.goto(`${url}#simplex`);
      const s = await until(p, 'training on the fallback', (s) => s.step >= 2);
      expect(s.backend).toBe('cpu');
      expect(s.fallbackReason).toMatch(/WebGL2 unavailable/);
      expect(await p.textContent('#backend-label')).toMatch(/CPU backend .* WebGL2 unavailable/);
    } finally {
      await context.close();
    }
  });

  it('steps through backward() node by node, ends with the gradients of loss.backward() and of the chain rule by hand, and links each op to its source', async () => {
    await page.click('#tab-autodiff');
    let s = await until(page, 'the autodiff view', (s) => s.view === 'autodiff');
    expect(s.autodiff.expression).toBe('neuron');
    expect(s.autodiff.position).toBe(0);
    for (let i = 1; i <= 3; i++) {
      await page.click('#autodiff-step');
      s = await state(page);
      expect(s.autodiff.position).toBe(i);
      expect(await page.locator('#autodiff-graph .node.current').count()).toBe(1);
    }
    expect(s.autodiff.done).toBe(false);
    await screenshot(page, 'autodiff');
    await page.click('#autodiff-run');
    s = await state(page);
    expect(s.autodiff.done).toBe(true);
    expect(s.autodiff.matchesBackward).toBe(true);
    expect(s.autodiff.maxDifference).toBe(0);
    // loss = (tanh(w·x + b) − 1)², by hand: ∂loss/∂z = 2(y − 1)(1 − y²), ∂loss/∂w = ∂loss/∂z · x.
    const x = [1.5, -0.5], w = [0.8, -1.2], b = 0.3;
    const y = Math.tanh(x[0]! * w[0]! + x[1]! * w[1]! + b);
    const dz = 2 * (y - 1) * (1 - y * y);
    expect(s.autodiff.loss).toBeCloseTo((y - 1) ** 2, 6);
    expect(s.autodiff.leafGradients.w![0]).toBeCloseTo(dz * x[0]!, 6);
    expect(s.autodiff.leafGradients.w![1]).toBeCloseTo(dz * x[1]!, 6);
    expect(s.autodiff.leafGradients.b![0]).toBeCloseTo(dz, 6);

    // The tanh op's link opens its line of packages/tensor/src/ops/unary.ts.
    const href = await page.locator('#autodiff-graph .node.op a').filter({ hasText: 'tanh' }).getAttribute('href');
    expect(href).toMatch(/^source\.html\?file=packages%2Ftensor%2Fsrc%2Fops%2Funary\.ts#L\d+$/);
    const source = await page.context().newPage();
    await source.goto(new URL(href!, url).toString());
    await source.waitForSelector('tr.marked');
    expect(await source.textContent('tr.marked')).toMatch(/export const tanh = /);
    await source.close();

    // The MLP: SGD steps with the gradients found lower the loss.
    await page.selectOption('#autodiff-expression', 'mlp');
    const start = (await state(page)).autodiff.loss;
    for (let i = 0; i < 5; i++) await page.click('#autodiff-sgd');
    s = await state(page);
    expect(s.autodiff.sgdSteps).toBe(5);
    expect(s.autodiff.loss).toBeLessThan(start);
  });

  it('trains the MNIST autoencoder, switches method, and shows the codes of a checkpoint written by simplex-ae', async () => {
    await page.click('#tab-autoencoder');
    let s = await until(page, 'autoencoder steps and a first evaluation', (s) => s.view === 'autoencoder' && s.autoencoder.step >= 10 && s.autoencoder.mse !== null);
    expect(s.backend).toBe('cpu');
    expect(s.autoencoder.method).toBe('knn-ce');
    const firstMse = s.autoencoder.mse!;
    const canvas = await canvasHash(page, '#ae-canvas');
    const speed = await measure(page, (s) => s.autoencoder.step);
    console.log(`[playground] autoencoder on the CPU backend: ${speed.steps.toFixed(1)} steps/s (${load()})`);
    // The committed screenshot shows digits that have had time to form.
    const steps = process.env.UPDATE_SCREENSHOTS ? 200 : 40;
    s = await until(page, 'a later evaluation', (s) => s.autoencoder.step >= steps && s.autoencoder.mse !== firstMse);
    expect(s.autoencoder.codeUsage).toBeGreaterThan(0);
    expect(await canvasHash(page, '#ae-canvas')).not.toBe(canvas);
    await screenshot(page, 'autoencoder');

    await page.selectOption('#ae-method', 'ste');
    s = await until(page, 'the ste method', (s) => s.autoencoder.method === 'ste' && s.autoencoder.step >= 1 && s.autoencoder.step < 40);

    await page.setInputFiles('#ae-checkpoint', checkpoint);
    s = await until(page, 'the checkpoint', (s) => s.autoencoder.checkpoint !== null || s.autoencoder.error !== null);
    expect(s.autoencoder.error).toBe(null);
    const c = s.autoencoder.checkpoint!;
    expect(c).toMatchObject({ file: 'checkpoint.safetensors', method: 'knn-ce', codebookSize: 32, step: 150 });
    expect(c.codes).toHaveLength(49);
    for (const code of c.codes) expect(code >= 0 && code < 32).toBe(true);
    expect(c.codeUsage).toBeGreaterThan(0);
    await page.locator('#ae-checkpoint-info').scrollIntoViewIfNeeded();
    await screenshot(page, 'checkpoint');
  });

  // `npm run speed` only: the conv autoencoder on SwiftShader takes about a second a step, after
  // half a minute of shader compilation.
  it.runIf(process.env.PLAYGROUND_MEASURE_SECONDS !== undefined)('measures the autoencoder on WebGL2', async () => {
    await page.click('#ae-run');
    await page.selectOption('#backend', 'auto');
    await until(page, 'the autoencoder on WebGL2', (s) => s.backend === 'webgl2' && s.autoencoder.step >= 3, 280_000);
    const speed = await measure(page, (s) => s.autoencoder.step);
    console.log(`[playground] autoencoder on WebGL2: ${speed.steps.toFixed(2)} steps/s (${load()})`);
  });
});
