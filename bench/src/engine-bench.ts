/**
 * Speed of @simplex-vq/tensor's CPU backend against TensorFlow.js's CPU and WASM backends.
 *
 *   (a) float32 matmul, n×n · n×n for n = 256, 512, 1024: GFLOP/s (2n³ flops per product);
 *   (b) conv2d forward and forward+backward (gradients w.r.t. input and filter) for
 *       x [64, 32, 14, 14], weight [64, 32, 3, 3], bias [64], padding 1: milliseconds per step.
 *
 * Engines: ours with one thread (`new CpuBackend({threads: 1})`), ours with the worker pool
 * (`new CpuBackend({threads: 'auto'})`), @tensorflow/tfjs-backend-cpu and
 * @tensorflow/tfjs-backend-wasm (SIMD; Node has no wasm threads here).
 *
 * Method: every engine runs the same data (one seeded generator, transposed to NHWC for TF.js).
 * Each figure is the median of the timed runs that follow warm-up runs (JIT, caches); TF.js work
 * is forced to finish inside the timed region with dataSync(), and its tensors are disposed each
 * step; ours likewise run inside tidy(), which gives the storage of the output and of any
 * temporaries back to the backend, as TF.js's dispose does (the training step's backward() does
 * the same for gradients). Without it every timed call allocated fresh memory, which made the
 * first ~50 products of a process twice as slow and a 256² figure depend on the warm-up. Results are also compared across engines (outside the timed region) so that a fast but
 * wrong engine would show. Targets are reported, never asserted.
 *
 * Usage: node dist/engine-bench.js [--quick] [--json <file>]
 */
import { writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { CpuBackend, conv2d, matmul, noGrad, tensor, tidy, withBackend } from '@simplex-vq/tensor';

// --- command line --------------------------------------------------------------------------------

interface Args {
  quick: boolean;
  json: string | null;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') args.quick = true;
    else if (a === '--json') {
      const file = argv[++i];
      if (!file) usage('--json needs a file name');
      args.json = file;
    } else if (a.startsWith('--json=')) args.json = a.slice('--json='.length);
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument '${a}'`);
  }
  return args;
}

function usage(error: string | null): never {
  const text = 'usage: node dist/engine-bench.js [--quick] [--json <file>]\n' +
    '  --quick         fewer warm-up and timed runs (rougher figures, about 1.5 minutes)\n' +
    '  --json <file>   also write the figures as JSON to <file>\n';
  if (error) {
    process.stderr.write(`engine-bench: ${error}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

const args = parseArgs(process.argv.slice(2));
const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// --- timing --------------------------------------------------------------------------------------

/** How many times to run a step: warm-up runs, then timed runs until both minRuns and (maxRuns or budgetMs) are reached. */
interface Plan {
  warmupRuns: number;
  /** Keep warming up until this much time has passed (at most 50 warm-up runs). */
  warmupMs: number;
  minRuns: number;
  maxRuns: number;
  budgetMs: number;
}

interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
  warmupRuns: number;
}

function measure(step: () => void, plan: Plan): Timing {
  let warm = 0;
  const w0 = performance.now();
  while (warm < plan.warmupRuns || (warm < 50 && performance.now() - w0 < plan.warmupMs)) {
    const s = performance.now();
    step();
    warm++;
    // A step that takes over a second has long been compiled by its end: one such warm-up is enough.
    if (performance.now() - s > 1000) break;
  }
  const samples: number[] = [];
  const t0 = performance.now();
  while (samples.length < plan.minRuns || (samples.length < plan.maxRuns && performance.now() - t0 < plan.budgetMs)) {
    const s = performance.now();
    step();
    samples.push(performance.now() - s);
  }
  samples.sort((x, y) => x - y);
  const mid = samples.length >> 1;
  const medianMs = samples.length % 2 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
  return { medianMs, minMs: samples[0]!, maxMs: samples[samples.length - 1]!, runs: samples.length, warmupRuns: warm };
}

/**
 * `slowTrain` is tfjs-backend-cpu's conv2d forward+backward, which takes tens of seconds a step
 * (its Conv2DBackpropFilter kernel): the run that computes the gradients for the cross-check comes
 * first and serves as its warm-up, then three timed runs, or two if those took over 100 s (quick
 * mode: that one cross-check run is the figure). This keeps a full run within about five minutes.
 */
const PLANS = args.quick
  ? {
      fast: { warmupRuns: 1, warmupMs: 100, minRuns: 3, maxRuns: 15, budgetMs: 600 },
      slowTrain: null,
    }
  : {
      fast: { warmupRuns: 2, warmupMs: 300, minRuns: 5, maxRuns: 40, budgetMs: 1200 },
      // Three timed runs, or two when those two already took over 100 s (a busy machine).
      slowTrain: { warmupRuns: 0, warmupMs: 0, minRuns: 2, maxRuns: 3, budgetMs: 100_000 },
    };

// --- data ----------------------------------------------------------------------------------------

/** Uniform values in [-1, 1) from a small seeded generator (mulberry32), the same for every engine. */
function randomArray(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** max |a − ref| / max |ref|. */
function relError(a: Float32Array, ref: Float32Array): number {
  if (a.length !== ref.length) return Number.POSITIVE_INFINITY;
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return scale === 0 ? err : err / scale;
}

function identical(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

// --- the problems --------------------------------------------------------------------------------

const SIZES = [256, 512, 1024] as const;
const matmulData = new Map(SIZES.map((n, i) => [n, { a: randomArray(n * n, 11 + i), b: randomArray(n * n, 101 + i) }]));

const CONV = { n: 64, c: 32, o: 64, h: 14, w: 14, k: 3, pad: 1 };
const convShapes = {
  x: [CONV.n, CONV.c, CONV.h, CONV.w],
  w: [CONV.o, CONV.c, CONV.k, CONV.k],
  y: [CONV.n, CONV.o, CONV.h, CONV.w], // stride 1, padding 1: same size
};
const convData = {
  x: randomArray(CONV.n * CONV.c * CONV.h * CONV.w, 7),
  w: randomArray(CONV.o * CONV.c * CONV.k * CONV.k, 8).map((v) => v * 0.2),
  b: randomArray(CONV.o, 9),
  // The loss is sum(conv2d(x, w, b) · p) for a fixed random p, so the output gradient is p.
  p: randomArray(CONV.n * CONV.o * CONV.h * CONV.w, 10),
};
/** Multiply-adds ×2 of one forward pass; the backward pass costs twice that (input and filter gradients). */
const CONV_FWD_FLOP = 2 * CONV.n * CONV.o * CONV.c * CONV.k * CONV.k * CONV.h * CONV.w;

// --- results -------------------------------------------------------------------------------------

type EngineId = 'ours1' | 'oursPool' | 'tfCpu' | 'tfWasm';

interface MatmulResult {
  engine: EngineId;
  n: number;
  timing: Timing | null;
  gflops: number | null;
  /** Relative max error against ours (one thread). */
  relErrVsOurs: number | null;
  error: string | null;
}

interface ConvResult {
  engine: EngineId;
  forward: Timing | null;
  train: Timing | null;
  /** Why there is no fwd+bwd figure, if there is none. */
  trainNote: string | null;
  relErr: { y: number; dx: number; dw: number } | null;
  error: string | null;
}

const matmulResults: MatmulResult[] = [];
const convResults: ConvResult[] = [];
const warnings: string[] = [];
const outputs = {
  matmul: new Map<number, Float32Array>(),
  conv: null as { y: Float32Array; dx: Float32Array; dw: Float32Array } | null,
};
let poolBitIdentical: boolean | null = null;
const started = performance.now();

// --- ours ----------------------------------------------------------------------------------------

function benchOurs(id: 'ours1' | 'oursPool', be: CpuBackend): void {
  for (const n of SIZES) {
    progress(`${id}: matmul ${n}²`);
    try {
      const d = matmulData.get(n)!;
      const [a, b] = withBackend(be, () => [tensor(d.a, { shape: [n, n] }), tensor(d.b, { shape: [n, n] })]);
      const out = matmul(a, b).data() as Float32Array;
      let rel: number | null = null;
      if (id === 'ours1') outputs.matmul.set(n, out);
      else {
        const ref = outputs.matmul.get(n);
        if (ref) {
          rel = relError(out, ref);
          poolBitIdentical = (poolBitIdentical ?? true) && identical(out, ref);
        }
      }
      const timing = measure(() => tidy(() => { matmul(a, b); }, be), PLANS.fast);
      matmulResults.push({ engine: id, n, timing, gflops: (2 * n ** 3) / timing.medianMs / 1e6, relErrVsOurs: rel, error: null });
    } catch (e) {
      matmulResults.push({ engine: id, n, timing: null, gflops: null, relErrVsOurs: null, error: errorMessage(e) });
    }
  }

  progress(`${id}: conv2d`);
  try {
    benchOursConv(id, be);
  } catch (e) {
    convResults.push({ engine: id, forward: null, train: null, trainNote: null, relErr: null, error: errorMessage(e) });
  }
}

function benchOursConv(id: 'ours1' | 'oursPool', be: CpuBackend): void {
  const { x, w, b, p } = withBackend(be, () => ({
    x: tensor(convData.x, { shape: convShapes.x, requiresGrad: true }),
    w: tensor(convData.w, { shape: convShapes.w, requiresGrad: true }),
    b: tensor(convData.b, { shape: [CONV.o] }),
    p: tensor(convData.p, { shape: convShapes.y }),
  }));
  const forward = () => noGrad(() => conv2d(x, w, b, { padding: CONV.pad }));
  const train = () => {
    x.grad = null;
    w.grad = null;
    conv2d(x, w, b, { padding: CONV.pad }).mul(p).sum().backward();
  };
  const y = forward().data() as Float32Array;
  train();
  const got = { y, dx: x.grad!.data() as Float32Array, dw: w.grad!.data() as Float32Array };
  let relErr: ConvResult['relErr'] = null;
  if (id === 'ours1') outputs.conv = got;
  else if (outputs.conv) {
    const ref = outputs.conv;
    relErr = { y: relError(got.y, ref.y), dx: relError(got.dx, ref.dx), dw: relError(got.dw, ref.dw) };
  }
  const fwdTiming = measure(() => tidy(() => { forward(); }, be), PLANS.fast);
  const trainTiming = measure(train, PLANS.fast);
  convResults.push({ engine: id, forward: fwdTiming, train: trainTiming, trainNote: null, relErr, error: null });
}

// --- TF.js ---------------------------------------------------------------------------------------

/** Loads TF.js's gradient definitions (see tfjs-esm-resolve.ts); returns an error message on failure. */
async function loadTfjsGradients(): Promise<string | null> {
  try {
    register(new URL('./tfjs-esm-resolve.js', import.meta.url));
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    return tf.getGradient('Conv2D') ? null : 'the Conv2D gradient is still not registered';
  } catch (e) {
    return errorMessage(e);
  }
}

/** Runs `step` under `measure`, and warns if TF.js's live tensor count grew (a leak in the step). */
function measureTf(label: string, step: () => void, plan: Plan): Timing {
  const before = tf.memory().numTensors;
  const timing = measure(step, plan);
  const after = tf.memory().numTensors;
  if (after !== before) warnings.push(`${label}: TF.js tensor count went from ${before} to ${after} during the timed runs`);
  return timing;
}

const toNCHW = (t: tf.Tensor): Float32Array => tf.tidy(() => tf.transpose(t, [0, 3, 1, 2]).dataSync() as Float32Array);

async function benchTf(id: 'tfCpu' | 'tfWasm', backend: 'cpu' | 'wasm', gradientsError: string | null): Promise<void> {
  const label = id === 'tfCpu' ? 'tfjs-backend-cpu' : 'tfjs-backend-wasm';
  try {
    if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') returned false`);
    await tf.ready();
  } catch (e) {
    const msg = `backend unavailable: ${errorMessage(e)}`;
    for (const n of SIZES) matmulResults.push({ engine: id, n, timing: null, gflops: null, relErrVsOurs: null, error: msg });
    convResults.push({ engine: id, forward: null, train: null, trainNote: null, relErr: null, error: msg });
    return;
  }

  for (const n of SIZES) {
    progress(`${id}: matmul ${n}²`);
    const d = matmulData.get(n)!;
    const a = tf.tensor2d(d.a, [n, n]);
    const b = tf.tensor2d(d.b, [n, n]);
    try {
      const c = tf.matMul(a, b);
      const out = (c.dataSync() as Float32Array).slice();
      c.dispose();
      const ref = outputs.matmul.get(n);
      const timing = measureTf(`${label} matmul ${n}²`, () => {
        const r = tf.matMul(a, b);
        r.dataSync();
        r.dispose();
      }, PLANS.fast);
      matmulResults.push({ engine: id, n, timing, gflops: (2 * n ** 3) / timing.medianMs / 1e6, relErrVsOurs: ref ? relError(out, ref) : null, error: null });
    } catch (e) {
      matmulResults.push({ engine: id, n, timing: null, gflops: null, relErrVsOurs: null, error: errorMessage(e) });
    } finally {
      a.dispose();
      b.dispose();
    }
  }

  progress(`${id}: conv2d`);
  // Same data as ours, in TF.js's layouts: x and the output NHWC, the filter [kh, kw, in, out].
  const x = tf.tidy(() => tf.transpose(tf.tensor4d(convData.x, convShapes.x as [number, number, number, number]), [0, 2, 3, 1])) as tf.Tensor4D;
  const f = tf.tidy(() => tf.transpose(tf.tensor4d(convData.w, convShapes.w as [number, number, number, number]), [2, 3, 1, 0])) as tf.Tensor4D;
  const b = tf.tensor1d(convData.b);
  const p = tf.tidy(() => tf.transpose(tf.tensor4d(convData.p, convShapes.y as [number, number, number, number]), [0, 2, 3, 1]));
  const fwd = (xs: tf.Tensor4D, fs: tf.Tensor4D) => tf.add(tf.conv2d(xs, fs, 1, CONV.pad), b);
  const grads = tf.grads((xs: tf.Tensor, fs: tf.Tensor) => tf.sum(tf.mul(fwd(xs as tf.Tensor4D, fs as tf.Tensor4D), p)));
  const forwardStep = () => {
    const y = tf.tidy(() => fwd(x, f));
    y.dataSync();
    y.dispose();
  };
  const trainStep = () => {
    const gs = tf.tidy(() => grads([x, f]));
    for (const g of gs) g.dataSync();
    tf.dispose(gs);
  };
  const result: ConvResult = { engine: id, forward: null, train: null, trainNote: null, relErr: null, error: null };
  try {
    const y = tf.tidy(() => fwd(x, f));
    const yOut = toNCHW(y);
    y.dispose();
    result.forward = measureTf(`${label} conv2d forward`, forwardStep, PLANS.fast);
    const ref = outputs.conv;

    if (gradientsError) {
      result.trainNote = `TF.js gradients could not be loaded: ${gradientsError}`;
      if (ref) result.relErr = { y: relError(yOut, ref.y), dx: Number.NaN, dw: Number.NaN };
    } else if (backend === 'wasm') {
      // The WASM backend has no Conv2DBackpropFilter kernel: show the kernels, then the error a backward gives.
      const has = (k: string) => (tf.getKernel(k, 'wasm') ? 'registered' : 'NOT registered');
      let msg: string;
      try {
        trainStep();
        msg = 'no error: the backward ran';
      } catch (e) {
        msg = errorMessage(e);
      }
      result.trainNote = `forward only. wasm kernels: Conv2D ${has('Conv2D')}, Conv2DBackpropInput ${has('Conv2DBackpropInput')}, ` +
        `Conv2DBackpropFilter ${has('Conv2DBackpropFilter')}. Trying the backward once gives: "${msg}"`;
      if (ref) result.relErr = { y: relError(yOut, ref.y), dx: Number.NaN, dw: Number.NaN };
    } else {
      progress(`${id}: conv2d forward+backward (slow: up to ${PLANS.slowTrain ? 1 + PLANS.slowTrain.maxRuns : 1} runs of tens of seconds)`);
      const t0 = performance.now();
      const [dx, df] = tf.tidy(() => grads([x, f]));
      dx!.dataSync();
      df!.dataSync();
      const checkRunMs = performance.now() - t0;
      const dxOut = toNCHW(dx!);
      const dwOut = tf.tidy(() => tf.transpose(df!, [3, 2, 0, 1]).dataSync() as Float32Array);
      tf.dispose([dx!, df!]);
      if (ref) result.relErr = { y: relError(yOut, ref.y), dx: relError(dxOut, ref.dx), dw: relError(dwOut, ref.dw) };
      result.train = PLANS.slowTrain
        ? { ...measureTf(`${label} conv2d fwd+bwd`, trainStep, PLANS.slowTrain), warmupRuns: 1 }
        : { medianMs: checkRunMs, minMs: checkRunMs, maxMs: checkRunMs, runs: 1, warmupRuns: 0 };
    }
  } catch (e) {
    result.error = errorMessage(e);
  } finally {
    tf.dispose([x, f, b, p]);
  }
  convResults.push(result);
}

// --- run -----------------------------------------------------------------------------------------

const require = createRequire(import.meta.url);
const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
setWasmPaths(wasmDir);

const loadAtStart = os.loadavg();
const ours1 = new CpuBackend({ threads: 1 });
const oursPool = new CpuBackend({ threads: 'auto' });
const poolThreads = oursPool.threadCount;

progress(args.quick ? 'quick mode: fewer runs' : 'full run (a few minutes)');
const gradientsError = await loadTfjsGradients();
if (gradientsError) warnings.push(`TF.js gradients could not be loaded, so tfjs-backend-cpu has no fwd+bwd figure: ${gradientsError}`);

benchOurs('ours1', ours1);
benchOurs('oursPool', oursPool);
await benchTf('tfCpu', 'cpu', gradientsError);
await benchTf('tfWasm', 'wasm', gradientsError);
let wasmThreads: number | null = null;
try {
  wasmThreads = getThreadsCount();
} catch {
  wasmThreads = null;
}
const totalSeconds = (performance.now() - started) / 1000;
const loadAtEnd = os.loadavg();
const fmtLoad = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');

// --- report --------------------------------------------------------------------------------------

const ENGINE_LABEL: Record<EngineId, string> = {
  ours1: 'simplex-vq cpu, 1 thread',
  oursPool: `simplex-vq cpu, pool (${poolThreads} thread${poolThreads === 1 ? '' : 's'})`,
  tfCpu: 'tfjs-backend-cpu',
  tfWasm: `tfjs-backend-wasm (SIMD${wasmThreads !== null ? `, ${wasmThreads} thread${wasmThreads === 1 ? '' : 's'}` : ''})`,
};

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const fmt = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const fmtMs = (t: Timing) => (t.medianMs >= 100 ? t.medianMs.toFixed(0) : t.medianMs >= 10 ? t.medianMs.toFixed(1) : t.medianMs.toFixed(2));
const fmtErr = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toExponential(1));
const ratio = (ours: number | null | undefined, theirs: number | null | undefined) =>
  ours && theirs && ours > 0 && theirs > 0 ? `${fmt(ours / theirs)}×` : 'n/a';

const mm = (engine: EngineId, n: number) => matmulResults.find((r) => r.engine === engine && r.n === n);
const conv = (engine: EngineId) => convResults.find((r) => r.engine === engine);
const gflops = (engine: EngineId, n: number) => mm(engine, n)?.gflops ?? null;
/** Speed-up of ours over theirs for a conv step (their median time / ours). */
const convSpeedup = (ours: Timing | null | undefined, theirs: Timing | null | undefined) => (ours && theirs ? theirs.medianMs / ours.medianMs : null);
/** GFLOP/s of a timed step doing `flop` operations. */
const perGflop = (r: Timing | null | undefined, flop: number) => (r ? flop / r.medianMs / 1e6 : null);

const cpus = os.cpus();
const out: string[] = [];
out.push('# simplex-vq tensor engine benchmark');
out.push('');
out.push(`date:    ${new Date().toISOString()}`);
out.push(`machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores (available parallelism ${os.availableParallelism()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.arch()}`);
out.push(`node:    ${process.version} (V8 ${process.versions.v8}); TF.js ${tf.version_core}`);
out.push(`load:    ${fmtLoad(loadAtStart)} at the start, ${fmtLoad(loadAtEnd)} at the end (1/5/15-min averages: this benchmark adds about 1; more means other processes shared the ${os.availableParallelism()} cores and slowed the figures)`);
out.push(`mode:    ${args.quick ? 'quick (fewer runs; rough figures)' : 'full'}; each figure is the median of the timed runs (n) after warm-up runs`);
out.push('');
out.push('Targets: matmul 512² ≥ 4 GFLOP/s on one thread; the pool ≥ 1.6× one thread; ≥ 5× tfjs-backend-cpu at 512²;');
out.push('         conv2d forward+backward ≥ 20× tfjs-backend-cpu. (Ratios against TF.js use our one-thread figure:');
out.push('         both TF.js backends run on one thread here.)');
out.push('');

out.push('## (a) float32 matmul n×n · n×n: GFLOP/s (median ms per product, timed runs)');
out.push('');
out.push(table(['engine', ...SIZES.map((n) => `${n}²`), 'max rel. error vs ours 1 thread'], (['ours1', 'oursPool', 'tfCpu', 'tfWasm'] as EngineId[]).map((e) => [
  ENGINE_LABEL[e],
  ...SIZES.map((n) => {
    const r = mm(e, n);
    if (!r?.timing) return r?.error ? `error: ${r.error}` : 'n/a';
    return `${fmt(r.gflops!)} (${fmtMs(r.timing)} ms, n=${r.timing.runs})`;
  }),
  e === 'ours1' ? 'reference' : SIZES.map((n) => fmtErr(mm(e, n)?.relErrVsOurs)).join(' / '),
])));
out.push('');
out.push('Speed-up of ours (ratio of GFLOP/s; > 1 means ours is faster):');
out.push('');
out.push(table(['ratio', ...SIZES.map((n) => `${n}²`)], [
  ['1 thread / tfjs-backend-cpu', ...SIZES.map((n) => ratio(gflops('ours1', n), gflops('tfCpu', n)))],
  ['pool / tfjs-backend-cpu', ...SIZES.map((n) => ratio(gflops('oursPool', n), gflops('tfCpu', n)))],
  ['1 thread / tfjs-backend-wasm', ...SIZES.map((n) => ratio(gflops('ours1', n), gflops('tfWasm', n)))],
  ['pool / tfjs-backend-wasm', ...SIZES.map((n) => ratio(gflops('oursPool', n), gflops('tfWasm', n)))],
  ['pool / 1 thread', ...SIZES.map((n) => ratio(gflops('oursPool', n), gflops('ours1', n)))],
]));
if (poolBitIdentical !== null) out.push(`\nPool results bit-identical to one thread: ${poolBitIdentical ? 'yes' : 'NO'}.`);
out.push('');

out.push(`## (b) conv2d, x [${convShapes.x.join(', ')}], weight [${convShapes.w.join(', ')}], bias [${CONV.o}], padding ${CONV.pad}: ms per step`);
out.push('');
out.push(`forward = conv2d + bias (${(CONV_FWD_FLOP / 1e9).toFixed(3)} GFLOP); fwd+bwd = forward, loss sum(y·p) for a fixed random p, and the gradients`);
out.push(`w.r.t. input and filter (${((3 * CONV_FWD_FLOP) / 1e9).toFixed(3)} GFLOP). TF.js runs NHWC (same math), fwd+bwd through tf.grads.`);
out.push(PLANS.slowTrain
  ? 'tfjs-backend-cpu fwd+bwd takes tens of seconds a step: 1 warm-up (the cross-check run) + 3 timed runs only (2 if they took over 100 s).'
  : 'tfjs-backend-cpu fwd+bwd takes tens of seconds a step: quick mode times its one (cross-check) run, with no warm-up.');
out.push('');
const convNotes: string[] = [];
out.push(table(['engine', 'forward ms (n)', 'fwd+bwd ms (n)', 'fwd+bwd GFLOP/s', 'rel. error vs ours 1 thread (y / dx / dw)'], (['ours1', 'oursPool', 'tfCpu', 'tfWasm'] as EngineId[]).map((e) => {
  const r = conv(e);
  if (!r) return [ENGINE_LABEL[e], 'n/a', 'n/a', 'n/a', '–'];
  if (r.error) convNotes.push(`${ENGINE_LABEL[e]}: error: ${r.error}`);
  if (r.trainNote) convNotes.push(`${ENGINE_LABEL[e]}: ${r.trainNote}`);
  return [
    ENGINE_LABEL[e],
    r.forward ? `${fmtMs(r.forward)} (${r.forward.runs})` : 'n/a',
    r.train ? `${fmtMs(r.train)} (${r.train.runs})` : e === 'tfWasm' ? 'n/a: forward only (no Conv2DBackpropFilter kernel)' : 'n/a',
    r.train ? fmt(perGflop(r.train, 3 * CONV_FWD_FLOP)!) : 'n/a',
    e === 'ours1' ? 'reference' : r.relErr ? `${fmtErr(r.relErr.y)} / ${fmtErr(r.relErr.dx)} / ${fmtErr(r.relErr.dw)}` : '–',
  ];
})));
if (convNotes.length) out.push('', ...convNotes.map((n) => `- ${n}`));
out.push('');
out.push('Speed-up of ours (their ms / our ms; > 1 means ours is faster):');
out.push('');
const c1 = conv('ours1'), cp = conv('oursPool'), ccpu = conv('tfCpu'), cw = conv('tfWasm');
const times = (v: number | null) => (v === null ? 'n/a' : `${fmt(v)}×`);
out.push(table(['ratio', 'forward', 'fwd+bwd'], [
  ['1 thread vs tfjs-backend-cpu', times(convSpeedup(c1?.forward, ccpu?.forward)), times(convSpeedup(c1?.train, ccpu?.train))],
  ['pool vs tfjs-backend-cpu', times(convSpeedup(cp?.forward, ccpu?.forward)), times(convSpeedup(cp?.train, ccpu?.train))],
  ['1 thread vs tfjs-backend-wasm', times(convSpeedup(c1?.forward, cw?.forward)), 'n/a (wasm: forward only)'],
  ['pool vs tfjs-backend-wasm', times(convSpeedup(cp?.forward, cw?.forward)), 'n/a (wasm: forward only)'],
  ['pool vs 1 thread', times(convSpeedup(cp?.forward, c1?.forward)), times(convSpeedup(cp?.train, c1?.train))],
]));
out.push('');

// Targets: measured figure against the target, reported only.
interface TargetResult {
  target: string;
  measured: string;
  value: number | null;
  threshold: number;
  met: boolean | null;
}
const targets: TargetResult[] = [];
const addTarget = (target: string, value: number | null, threshold: number, unit: string, extra = '') => {
  const met = value === null || !Number.isFinite(value) ? null : value >= threshold;
  targets.push({ target, value, threshold, met, measured: value === null ? 'n/a' : `${fmt(value)}${unit}${extra}` });
};
const r512 = (a: EngineId, b: EngineId) => {
  const ga = gflops(a, 512), gb = gflops(b, 512);
  return ga && gb ? ga / gb : null;
};
addTarget('matmul 512², one thread ≥ 4 GFLOP/s', gflops('ours1', 512), 4, ' GFLOP/s');
for (const n of [512, 1024]) {
  const g1 = gflops('ours1', n), gp = gflops('oursPool', n);
  addTarget(`matmul ${n}², pool ≥ 1.6× one thread`, poolThreads > 1 && g1 && gp ? gp / g1 : null, 1.6, '×', ` (${poolThreads} threads)`);
}
const poolVsCpu512 = r512('oursPool', 'tfCpu');
addTarget('matmul 512², one thread ≥ 5× tfjs-backend-cpu', r512('ours1', 'tfCpu'), 5, '×', poolVsCpu512 ? ` (pool: ${fmt(poolVsCpu512)}×)` : '');
const convPoolVsCpu = convSpeedup(cp?.train, ccpu?.train);
addTarget('conv2d fwd+bwd, one thread ≥ 20× tfjs-backend-cpu', convSpeedup(c1?.train, ccpu?.train), 20, '×', convPoolVsCpu ? ` (pool: ${fmt(convPoolVsCpu)}×)` : '');
// Issue 15: against XNNPACK (tfjs-backend-wasm, one thread). conv2d per GFLOP: fwd+bwd does 3× the
// forward's work, so its GFLOP/s is set against the wasm forward's.
for (const n of SIZES) {
  const g1 = gflops('ours1', n), gw = gflops('tfWasm', n);
  addTarget(`matmul ${n}², one thread ≥ tfjs-backend-wasm`, g1 && gw ? g1 / gw : null, 1, '×');
}
const wasmFwd = perGflop(cw?.forward, CONV_FWD_FLOP);
const vsWasm = (r: Timing | null | undefined, flop: number) => {
  const g = perGflop(r, flop);
  return g && wasmFwd ? g / wasmFwd : null;
};
const poolNote = (v: number | null) => (v ? ` (pool: ${fmt(v)}×)` : '');
addTarget('conv2d forward, GFLOP/s ≥ tfjs-backend-wasm forward', vsWasm(c1?.forward, CONV_FWD_FLOP), 1, '×', poolNote(vsWasm(cp?.forward, CONV_FWD_FLOP)));
addTarget('conv2d fwd+bwd, GFLOP/s ≥ tfjs-backend-wasm forward', vsWasm(c1?.train, 3 * CONV_FWD_FLOP), 1, '×', poolNote(vsWasm(cp?.train, 3 * CONV_FWD_FLOP)));

out.push('## Targets (this run; reported, not asserted)');
out.push('');
out.push(table(['target', 'measured', 'met'], targets.map((t) => [t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'yes' : 'NO'])));
out.push('');
if (warnings.length) out.push('Warnings:', ...warnings.map((w) => `- ${w}`), '');
out.push(`Total time: ${totalSeconds.toFixed(0)} s.`);

process.stdout.write(`${out.join('\n')}\n`);

if (args.json) {
  const json = {
    date: new Date().toISOString(),
    machine: { cpu: cpus[0]?.model ?? null, cores: cpus.length, availableParallelism: os.availableParallelism(), platform: os.platform(), arch: os.arch(), totalMemBytes: os.totalmem() },
    node: process.version,
    tfjs: tf.version_core,
    quick: args.quick,
    plans: PLANS,
    engines: ENGINE_LABEL,
    poolThreads,
    wasmThreads,
    poolBitIdentical,
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    matmul: matmulResults,
    conv: { ...CONV, forwardFlop: CONV_FWD_FLOP, trainFlop: 3 * CONV_FWD_FLOP, results: convResults },
    targets,
    warnings,
    totalSeconds,
  };
  const file = path.resolve(args.json);
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  progress(`wrote ${file}`);
}

// Worker threads (our pool), the module-hook thread and wasm may keep the event loop alive.
process.exit(0);
