/**
 * One engine of the peer benchmark, in its own process (so that its peak memory is its own):
 * the child that run.ts starts for each engine and batch size. It prints one line,
 * `PEER-RESULT {json}` (an EngineReport, see common.ts), on stdout; progress goes to stderr.
 *
 *   node dist/peer/engine.js --make-inputs <file> --batches 16,64 --check-batch 16
 *       builds simplex-vq's model, writes the inputs file (weights, batches, reference step)
 *   node dist/peer/engine.js --engine <id> --inputs <file> --check
 *       one training step on the check batch, compared with the reference (the equivalence check)
 *   node dist/peer/engine.js --engine <id> --inputs <file> --batch 16 --warmup 2 --steps 5 [--min-seconds 3] [--knn-alone]
 *       warm-up steps, then timed steps: at least --steps, more while under --min-seconds (≤ 50);
 *       --knn-alone then times the KNN-CE term alone the same way (bench:scaling)
 *   node dist/peer/engine.js --engine <id> --inputs <file> --batch 64 --memory-steps 1000
 *       a training run of that many steps, reporting its resident memory (bench:memory)
 *
 * --make-inputs also takes --codebook-size and --dim, which change the model (bench:scaling).
 *
 * Engines here: ours-1, ours-pool, ours-gpujs (simplex-vq's backends), tfjs-cpu, tfjs-wasm
 * (PyTorch runs in bench/peer/torch_step.py). The TF.js packages are imported only by the TF.js
 * engines, and simplex-vq's only by ours.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  RESULT_PREFIX,
  errorMessage,
  isEngine,
  peakRssMb,
  rssMb,
  lossErrors,
  readInputs,
  withPrefix,
  worstRelError,
  type CheckReport,
  type EngineId,
  type EngineReport,
  type InputsFile,
  type MemoryReport,
  type Timing,
} from './common.js';
import type { PreparedEngine } from './ours.js';

const progress = (msg: string) => process.stderr.write(`[peer] ${msg}\n`);

/** A TF.js engine: tfjs-core with the CPU or the WASM backend. */
async function prepareTfjs(engine: 'tfjs-cpu' | 'tfjs-wasm', inputs: InputsFile, batch: number): Promise<PreparedEngine> {
  const tf = await import('@tensorflow/tfjs-core');
  const { buildTfjsModel, loadTfjsGradients, makeAdam, toNHWC } = await import('./tfjs-model.js');
  let describe: string;
  if (engine === 'tfjs-wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') returned false");
    await tf.ready();
    describe = `tfjs-core ${tf.version_core}, tfjs-backend-wasm (${wasm.getThreadsCount()} thread${wasm.getThreadsCount() === 1 ? '' : 's'})`;
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) throw new Error("tf.setBackend('cpu') returned false");
    await tf.ready();
    describe = `tfjs-core ${tf.version_core}, tfjs-backend-cpu (1 thread)`;
  }
  const gradientsError = await loadTfjsGradients();
  if (gradientsError) throw new Error(`TF.js gradients could not be loaded: ${gradientsError}`);
  const params = withPrefix(inputs, 'param.');
  const batchOf = (b: number) => {
    const x = inputs.tensors[`x.${b}`];
    if (!x) throw new Error(`the inputs file has no batch of size ${b}`);
    return toNHWC(x);
  };

  const check = (): CheckReport => {
    const model = buildTfjsModel(params);
    const names = [...model.vars.keys()];
    const varList = [...model.vars.values()];
    const x = batchOf(Number(inputs.metadata.checkBatch));
    const p = tf.tidy(() => model.parts(x));
    const parts = { loss: p.loss.dataSync()[0]!, recon: p.recon.dataSync()[0]!, commitment: p.commitment.dataSync()[0]!, knn: p.knn.dataSync()[0]! };
    tf.dispose([p.loss, p.recon, p.commitment, p.knn]);
    const report: CheckReport = {
      ...parts,
      ...lossErrors(parts, inputs.metadata),
      gradRelErr: null,
      gradWorst: null,
      afterRelErr: null,
      afterWorst: null,
      backwardError: null,
    };
    const ref = (kind: string) => Object.fromEntries(names.map((n) => [n, inputs.tensors[`ref.${kind}.${n}`]!.data]));
    try {
      const { grads } = tf.variableGrads(() => model.parts(x).loss, varList);
      const g = worstRelError(Object.fromEntries(names.map((n) => [n, model.toOurs(n, grads[n]!)])), ref('grad'));
      makeAdam().applyGradients(names.map((name) => ({ name, tensor: grads[name]! })));
      tf.dispose(Object.values(grads));
      const a = worstRelError(Object.fromEntries(names.map((n) => [n, model.toOurs(n, model.vars.get(n)!)])), ref('after'));
      Object.assign(report, { gradRelErr: g.err, gradWorst: g.worst, afterRelErr: a.err, afterWorst: a.worst });
    } catch (e) {
      report.backwardError = errorMessage(e);
    }
    return report;
  };

  let timed: (() => number) | null = null;
  const makeTimed = () => {
    const model = buildTfjsModel(params);
    const varList = [...model.vars.values()];
    const x = batchOf(batch);
    const optimizer = makeAdam();
    return () => {
      const before = tf.memory().numTensors;
      const cost = optimizer.minimize(() => model.parts(x).loss, true, varList)!;
      const loss = cost.dataSync()[0]!;
      cost.dispose();
      // Adam's moments appear at the first step; after that the count must stay put.
      const grew = tf.memory().numTensors - before;
      if (grew > 2 * varList.length) progress(`warning: ${engine}: ${grew} TF.js tensors leaked in one step`);
      return loss;
    };
  };
  return { describe, step: () => (timed ??= makeTimed())(), check };
}

async function prepare(engine: EngineId, inputsPath: string, inputs: InputsFile, batch: number): Promise<PreparedEngine> {
  if (engine === 'tfjs-cpu' || engine === 'tfjs-wasm') return prepareTfjs(engine, inputs, batch);
  if (engine === 'ours-1' || engine === 'ours-pool' || engine === 'ours-gpujs') {
    const { prepareOurs } = await import('./ours.js');
    return prepareOurs(engine, inputsPath, inputs, batch);
  }
  throw new Error(`engine ${engine} does not run in Node (see bench/peer/torch_step.py)`);
}

/** Warm-up steps, then timed steps: at least `minSteps`, and more (up to 50) while under `minSeconds`. */
function time(step: () => number, warmup: number, minSteps: number, minSeconds: number): { timing: Timing; firstLoss: number | null } {
  let firstLoss: number | null = null;
  for (let i = 0; i < warmup; i++) {
    const loss = step();
    firstLoss ??= loss;
  }
  const samples: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (samples.length < minSteps || (samples.length < 50 && performance.now() - t0 < minSeconds * 1000)) {
    const s = performance.now();
    const loss = step();
    samples.push(performance.now() - s);
    firstLoss ??= loss;
    if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss}`);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerStep = (cpu.user + cpu.system) / 1000 / samples.length;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { timing: { medianMs, minMs: sorted[0]!, maxMs: sorted[sorted.length - 1]!, runs: samples.length, warmupRuns: warmup, samplesMs: samples, cpuMsPerStep }, firstLoss };
}

/** Steps 1, 2, 5, 10, 20, 50, … up to `steps`, and `steps` itself: where a memory run reads its RSS. */
function curveSteps(steps: number): Set<number> {
  const marks = new Set<number>([steps]);
  for (let decade = 1; decade <= steps; decade *= 10) for (const m of [1, 2, 5]) if (m * decade <= steps) marks.add(m * decade);
  return marks;
}

/**
 * A training run of `steps` steps on one batch, reading the resident memory after the first step,
 * along the way (curveSteps) and at the end. Reading /proc costs microseconds: the run is what it
 * would be without it.
 */
function memoryRun(step: () => number, steps: number, rssLoadedMb: number): { memory: MemoryReport; firstLoss: number } {
  const marks = curveSteps(steps);
  const curve: Array<[number, number]> = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const firstLoss = step();
  const rssAfterFirstMb = rssMb();
  const peakAfterFirstMb = peakRssMb();
  let loss = firstLoss;
  for (let i = 1; i <= steps; i++) {
    if (i > 1) loss = step();
    if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${i}`);
    if (marks.has(i)) curve.push([i, rssMb()]);
  }
  const cpu = process.cpuUsage(cpu0);
  const memory: MemoryReport = {
    steps,
    rssLoadedMb,
    rssAfterFirstMb,
    peakAfterFirstMb,
    rssEndMb: rssMb(),
    peakRssMb: peakRssMb(),
    rssCurve: curve,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    lastLoss: loss,
  };
  return { memory, firstLoss };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      engine: { type: 'string' },
      inputs: { type: 'string' },
      batch: { type: 'string', default: '16' },
      warmup: { type: 'string', default: '2' },
      steps: { type: 'string', default: '5' },
      'min-seconds': { type: 'string', default: '0' },
      check: { type: 'boolean', default: false },
      'make-inputs': { type: 'string' },
      batches: { type: 'string', default: '16,64' },
      'check-batch': { type: 'string', default: '16' },
      'codebook-size': { type: 'string' },
      dim: { type: 'string' },
      'knn-alone': { type: 'boolean', default: false },
      'memory-steps': { type: 'string' },
    },
  });
  if (values['make-inputs']) {
    const { makeInputs } = await import('./ours.js');
    const batches = values.batches!.split(',').map(Number);
    const overrides = {
      ...(values['codebook-size'] !== undefined ? { codebookSize: Number(values['codebook-size']) } : {}),
      ...(values.dim !== undefined ? { dim: Number(values.dim) } : {}),
    };
    const r = makeInputs(values['make-inputs'], batches, Number(values['check-batch']), overrides);
    progress(`inputs written to ${values['make-inputs']} (reference step: loss ${r.loss.toFixed(6)}, ${r.seconds.toFixed(2)} s)`);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ loss: r.loss })}\n`);
    return;
  }
  const engine = values.engine ?? '';
  if (!isEngine(engine)) throw new Error(`--engine: unknown engine '${engine}'`);
  if (!values.inputs) throw new Error('--inputs <file> is required');
  const batch = Number(values.batch);
  const report: EngineReport = { engine, describe: engine, batch, error: null, timing: null, peakRssMb: null, firstLoss: null, check: null };
  try {
    const inputs = readInputs(values.inputs);
    const prepared = await prepare(engine, values.inputs, inputs, batch);
    report.describe = prepared.describe;
    if (values.check) {
      report.batch = Number(inputs.metadata.checkBatch);
      report.check = prepared.check!();
    } else if (values['memory-steps'] !== undefined) {
      const r = memoryRun(prepared.step, Number(values['memory-steps']), rssMb());
      report.memory = r.memory;
      report.firstLoss = r.firstLoss;
    } else {
      const r = time(prepared.step, Number(values.warmup), Number(values.steps), Number(values['min-seconds']));
      report.timing = r.timing;
      report.firstLoss = r.firstLoss;
      if (values['knn-alone']) {
        if (!prepared.knn) throw new Error(`${engine}: --knn-alone is not implemented for this engine`);
        const rows = batch * 49; // the 7×7 latent grid of each image
        const codes = (JSON.parse(inputs.metadata.config ?? '{}') as { codebookSize?: number }).codebookSize ?? NaN;
        report.knn = { rows, codes, timing: time(prepared.knn(rows), Number(values.warmup), Number(values.steps), Number(values['min-seconds'])).timing };
      }
    }
  } catch (e) {
    report.error = errorMessage(e);
  }
  report.peakRssMb = peakRssMb();
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(report)}\n`);
}

main().then(
  // The worker pool, gpu.js and TF.js's wasm may keep the event loop alive.
  () => process.exit(0),
  (e) => {
    process.stderr.write(`engine: ${errorMessage(e)}\n`);
    process.exit(1);
  },
);
