#!/usr/bin/env node
/**
 * simplex-ae: the discrete image autoencoding experiments on MNIST.
 *
 *   simplex-ae train   [options]   one run → config.json, metrics.json, history.csv, checkpoint, pictures, report.md
 *   simplex-ae compare [options]   several methods × seeds → summary.json and a report with a table and charts
 *   simplex-ae toy     [options]   the triangle picture: where smoothed quantizers end up with M = 3
 *
 * Options are validated (a bad value exits with code 2 and names the option); long work shows a
 * progress bar; runs are seeded and resumable.
 */
import { join } from 'node:path';
import {
  ConfigError, gridFolderOption, intListOption, intOption, listOption, makeFolder, priorRun, progress as progressBar, refuseWithResume, resumeFolderOption, runCli, runConflictError,
  runFolderOption, type CliDefinition, type OptionValues,
} from '@simplex-vq/app-kit';
import { CheckpointError } from '@simplex-vq/nn';
import { writeFileAtomic } from '@simplex-vq/nn/node';
import { ALL_METHODS, METHODS, RESTARTABLE, isMethod, type Method } from '@simplex-vq/vq';
import { DEFAULTS, NOT_IDENTITY, RVQ_LEVELS, normalizeSavedConfig, resolveConfig, type InitName, type TrainConfig } from './config.js';
import { runName } from './names.js';
import type { StepInfo } from './train.js';

// What draws pictures (vega, resvg) loads in a second: only when a command runs, so that a bad
// command line is answered at once.
const later = {
  compare: () => import('./compare.js'),
  report: () => import('./report.js'),
  sweep: () => import('./sweep.js'),
  toy: () => import('./toy.js'),
  train: () => import('./train.js'),
  viz: () => import('@simplex-vq/viz'),
};

const COMMON = `Model and training options:
  --method <name>          ${ALL_METHODS.join(' | ')}, or <method>+restart for ${RESTARTABLE.join(', ')} (default ${DEFAULTS.method})
  --levels <Q>             rvq: residual stages, each an ste quantizer of --codebook-size codes on what the
                           previous stages left (default ${RVQ_LEVELS}; train only)
  --init <data|normal>     codebook start: 'data' = k-means on the first batch's encoder outputs (the fair start),
                           'normal' = N(0, std²) entries (the paper's setting); ignored by fsq and lfq (default ${DEFAULTS.init})
  --init-std <x>           std of a 'normal' start (default ${DEFAULTS.initStd})
  --restart-threshold <x>  +restart methods: a code used by fewer rows per batch (running average) is reset (default ${DEFAULTS.restartThreshold})
  --output-bias <data|default>  the decoder's output bias at the start: 'data' = logit of the mean training
                           pixel (a grey start at 0.13, not 0.5), 'default' = PyTorch's init (default ${DEFAULTS.outputBias})
  --codebook-size <M>      codes per group (default ${DEFAULTS.codebookSize})
  --dim <C>                channels of each latent vector (default ${DEFAULTS.dim})
  --groups <G>             product quantization: G codebooks over C/G channels (default ${DEFAULTS.groups})
  --hidden <n>             channels of the conv layers (default ${DEFAULTS.hidden})
  --k <K>                  KNN: neighbours per vertex and shard (default ${DEFAULTS.k})
  --shards <S>             KNN: split each batch's vectors into S parts (default ${DEFAULTS.shards})
  --vertex-subset <f|n>    KNN: a random fraction (or count) of the vertices per step (default all)
  --steps <n>              training steps (default ${DEFAULTS.steps})
  --batch-size <n>         images per step; each gives 49 latent vectors (default ${DEFAULTS.batchSize})
  --lr <x>                 Adam learning rate (default ${DEFAULTS.lr})
  --seed <n>               seed of initialization, data order and sampling (default ${DEFAULTS.seed})
  --backend <cpu|gpujs>    tensor backend (default ${DEFAULTS.backend})
  --checkpoint-every <n>   steps between checkpoints (default ${DEFAULTS.checkpointEvery})
  --eval-images <n>        test images used for the metrics, ≤ 1000 (default ${DEFAULTS.evalImages})
  --threads <n|auto>       CPU threads for large products; results do not depend on it (default ${DEFAULTS.threads})`;

/** The options of compare and sweep: those of train but the method, levels, init and seed (given as lists there, or train's only). */
const COMMON_MANY = COMMON.replace(/\n  --method <name>[^\n]*/, '')
  .replace(/\n  --levels <Q>[^\n]*\n[^\n]*/, '')
  .replace(/\n  --init <data\|normal>[^\n]*\n[^\n]*\n[^\n]*/, '')
  .replace(/\n  --seed <n>[^\n]*/, '');

const HELP: Record<string, string> = {
  main: `Usage: simplex-ae <command> [options]

Discrete image autoencoding on MNIST (10,000 digits shipped in the mnist package) with the
quantizers of "Pushing Toward the Simplex Vertices": KNN-regularized smoothed VQ and its baselines.

Commands:
  train     train and evaluate one run
  compare   several methods and seeds with shared settings, one report
  sweep     every method at several channel counts C: the paper-shaped experiment
  toy       the M = 3 triangle picture (under a minute)

Run 'simplex-ae <command> --help' for its options.
`,
  train: `Usage: simplex-ae train [options]

Trains one autoencoder and writes to --out: config.json, metrics.json, history.csv,
checkpoint.safetensors, reconstructions.png, usage.png, training.png and report.md.

  --out <dir>              run directory (default runs/<method>-seed<seed>)
  --resume <dir>           continue an interrupted run from its checkpoint (bit-exact), or from step 0
                           if it stopped before its first; its settings are the run's: only --steps
                           (to raise its step count) and --threads may be given with it
${COMMON}
  -h, --help               this help
`,
  compare: `Usage: simplex-ae compare [options]

Runs every method × init × seed with shared settings into --out/<method>-<init>-seed<seed>/
(fsq and lfq, which have no codebook: --out/<method>-seed<seed>/) and writes summary.json and
report.md (a table of mean ± spread over seeds, charts of code usage, of the start, and of the
reconstruction error). Running it again with the same --out reuses finished runs and resumes
interrupted ones; a folder holding a run with other settings stops it before anything is trained.

  --methods <a,b,...>      methods to compare (default ste,perplexity,knn-l2,knn-ce)
  --init <a,b>             codebook initializations, one or both of data,normal (default ${DEFAULTS.init})
  --seeds <s1,s2,...>      seeds (default 0)
  --out <dir>              output directory (default runs/compare)
${COMMON_MANY}
  -h, --help               this help
`,
  sweep: `Usage: simplex-ae sweep [options]

The experiment shaped like the paper's tables: a 'compare' of every method × init at each channel
count C (--out/c<C>/), KNN-CE with vertex subsets (claim 8, --out/subsets/), then report.md with a
table per C, pictures of the start, charts across C, and each claim of the spec that this
experiment tests, judged per init from the numbers by a stated rule. Reuses finished runs when run
again, so a sweep too long for one sitting continues where it stopped.

  --dims <c1,c2,...>       channel counts C (default 3,32,256)
  --methods <a,b,...>      methods (default all: ${METHODS.join(',')})
  --init <a,b>             codebook initializations (default data,normal)
  --seeds <s1,s2,...>      seeds (default 0,1,2)
  --vertex-subsets <f,..>  claim 8: KNN-CE with these vertex fractions, or 'none' (default 0.5,0.25,0.125)
  --subset-dim <C>         the C of the vertex-subset runs (default 32)
  --subset-init <a,b>      the inits of the vertex-subset runs (default: those of --init)
  --out <dir>              output directory (default runs/sweep)
${COMMON_MANY.replace(/\n  --dim <C>[^\n]*/, '').replace(`--codebook-size <M>      codes per group (default ${DEFAULTS.codebookSize})`, '--codebook-size <M>      codes per group (default 512)')}
  -h, --help               this help
`,
  toy: `Usage: simplex-ae toy [options]

Trains a 2-D autoencoder with a smoothed quantizer of M = 3 codes under no regularizer,
perplexity, KNN-L2 and KNN-CE, and draws where the quantizers p_n land in the triangle
(simplex.png), with report.md.

  --out <dir>              output directory (default runs/toy)
  --steps <n>              training steps per panel (default 600)
  --seed <n>               seed (default 0)
  -h, --help               this help
`,
};

const OPTION_SPEC = {
  method: { type: 'string' },
  init: { type: 'string' },
  'init-std': { type: 'string' },
  'restart-threshold': { type: 'string' },
  'output-bias': { type: 'string' },
  threads: { type: 'string' },
  'vertex-subsets': { type: 'string' },
  'subset-dim': { type: 'string' },
  'subset-init': { type: 'string' },
  'codebook-size': { type: 'string' },
  dim: { type: 'string' },
  groups: { type: 'string' },
  levels: { type: 'string' },
  hidden: { type: 'string' },
  k: { type: 'string' },
  shards: { type: 'string' },
  'vertex-subset': { type: 'string' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'eval-images': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  methods: { type: 'string' },
  seeds: { type: 'string' },
  dims: { type: 'string' },
} as const;


type Values = OptionValues;

function configFrom(v: Values, base: TrainConfig = DEFAULTS): TrainConfig {
  return resolveConfig(
    {
      method: v.method,
      init: v.init,
      initStd: v['init-std'],
      restartThreshold: v['restart-threshold'],
      outputBias: v['output-bias'],
      threads: v.threads,
      codebookSize: v['codebook-size'],
      dim: v.dim,
      groups: v.groups,
      levels: v.levels,
      hidden: v.hidden,
      k: v.k,
      shards: v.shards,
      vertexSubset: v['vertex-subset'],
      steps: v.steps,
      batchSize: v['batch-size'],
      lr: v.lr,
      seed: v.seed,
      backend: v.backend,
      checkpointEvery: v['checkpoint-every'],
      evalImages: v['eval-images'],
    },
    base,
  );
}

/** A bar per run showing the loss and the batch's code usage. */
function progress(label: string, total: number) {
  const bar = progressBar(label, total, { fields: ['loss', 'batchUsage'] });
  return {
    start: (from: number) => bar.start(from),
    update: (info: StepInfo) => bar.update(info.step, { loss: info.loss.toFixed(4), batchUsage: info.batchUsage.toFixed(3) }),
    stop: () => bar.stop(),
  };
}

async function train(v: Values): Promise<void> {
  let dir: string;
  let config: TrainConfig;
  if (v.resume !== undefined) {
    refuseWithResume(v);
    config = configFrom({ steps: v.steps, threads: v.threads });
    if (v.steps === undefined) config = { ...config, steps: 0 };
    const { dir: d, saved } = resumeFolderOption('resume', v.resume);
    dir = d;
    const { readSavedConfig } = await later.train();
    readSavedConfig(dir, saved); // a config.json that is not a run's settings stops here
  } else {
    config = configFrom(v);
    // rvq runs are named with their stages (runs/rvq4-data-seed0), so another --levels is another folder.
    const named = config.levels === undefined ? config : { ...config, method: `${config.method}${config.levels}` };
    dir = runFolderOption('out', typeof v.out === 'string' ? v.out : join('runs', runName(named, config.seed)));
    // A run with other settings is not overwritten (as compare refuses it); the same settings train again.
    const prior = priorRun(dir, config, NOT_IDENTITY, normalizeSavedConfig);
    if (prior.status === 'conflict') throw runConflictError(dir, prior.differences);
  }
  const { trainRun } = await later.train();
  const bar = progress(`train ${config.method}`, config.steps);
  let started = false;
  const run = await trainRun(dir, config, {
    resume: v.resume !== undefined,
    onBackend: (d) => console.log(`backend: ${d}`),
    log: (m) => console.log(m),
    onStep: (i) => {
      if (!started) {
        bar.start(i.step - 1);
        started = true;
      }
      bar.update(i);
    },
    onPhase: () => bar.stop(),
  });
  bar.stop();
  const { writeRunReport } = await later.report();
  await writeRunReport(dir, run);
  const m = run.metrics;
  console.log(`${m.method}: code usage ${m.codeUsage.toFixed(3)}, individual perplexity ${m.individualPerplexity.toFixed(2)}, MSE ${m.mseHard.toFixed(4)} (PSNR ${m.psnrHard.toFixed(2)} dB), ${m.stepsPerSecond.toFixed(2)} steps/s`);
  console.log(`report: ${join(dir, 'report.md')}`);
}

function methodsOf(v: Values, dflt: string): Method[] {
  return listOption('methods', typeof v.methods === 'string' ? v.methods : dflt, (s) => {
    if (s === 'rvq') throw new ConfigError('methods', `rvq gives each vector --levels codes of M, so it is not compared at equal M here; train it with 'simplex-ae train --method rvq --levels <Q>'`);
    if (!isMethod(s)) throw new ConfigError('methods', `unknown method '${s}'; choose from ${METHODS.join(', ')}`);
    return s as Method;
  });
}

/** Seeds as a list (compare, sweep): distinct integers in [0, 2^31], as --seed. */
const seedsOf = (v: Values, dflt: string) => intListOption('seeds', typeof v.seeds === 'string' ? v.seeds : dflt, 0, 2 ** 31);

/** Progress reporting shared by compare and sweep: a bar per run, a line for reused runs. */
function runProgress(steps: number) {
  let bar: ReturnType<typeof progress> | null = null;
  let backendShown = false;
  return {
    onRun: (name: string, i: number, total: number, reused: boolean) => {
      bar?.stop();
      bar = null;
      if (reused) console.log(`[${i + 1}/${total}] ${name}: finished earlier, reusing its metrics`);
      else bar = progress(`[${i + 1}/${total}] ${name}`, steps);
    },
    train: {
      onBackend: (d: string) => {
        if (!backendShown) console.log(`backend: ${d}`);
        backendShown = true;
      },
      log: (m: string) => console.log(m),
      onStep: (info: StepInfo) => {
        if (bar && info.step === 1) bar.start(0);
        bar?.update(info);
      },
      onPhase: () => bar?.stop(),
    },
    stop: () => bar?.stop(),
  };
}

/** --init as a list (compare, sweep): each 'data' or 'normal'. */
function initsOf(v: Values, dflt: string, option = 'init'): InitName[] {
  const inits = listOption(option, typeof v.init === 'string' ? v.init : dflt, (s) => {
    if (s !== 'data' && s !== 'normal') throw new ConfigError(option, `expected 'data' or 'normal', got '${s}'`);
    return s as InitName;
  });
  return [...new Set(inits)];
}

async function compare(v: Values): Promise<void> {
  const inits = initsOf(v, DEFAULTS.init);
  const base = configFrom({ ...v, init: inits[0] });
  const methods = methodsOf(v, 'ste,perplexity,knn-l2,knn-ce');
  const seeds = seedsOf(v, '0');
  for (const m of methods) configFrom({ ...v, init: inits[0], method: m }); // validate each method's constraints up front
  const out = gridFolderOption('out', typeof v.out === 'string' ? v.out : join('runs', 'compare'));
  const { compareRuns, describeInits, resultsTable, variantsOf } = await later.compare();
  const variants = variantsOf(methods, inits);
  console.log(`compare: ${methods.join(', ')} × seeds ${seeds.join(', ')}; M = ${base.codebookSize}, C = ${base.dim}, ${base.steps} steps of batch ${base.batchSize} → ${out}`);
  console.log(`codebook init: ${describeInits(inits, base.initStd)}`);
  const p = runProgress(base.steps);
  const results = await compareRuns({ variants, seeds, base, out, onRun: p.onRun, train: p.train });
  p.stop();
  console.log(`\n${resultsTable(results)}\n`);
  console.log(`Codebook init: ${describeInits([...new Set(variants.map((x) => x.init))], base.initStd)}.`);
  console.log(`report: ${join(out, 'report.md')}`);
}

async function sweep(v: Values): Promise<void> {
  const inits = initsOf(v, 'data,normal');
  const base = configFrom({ 'codebook-size': '512', ...v, init: inits[0] });
  const methods = methodsOf(v, METHODS.join(','));
  const seeds = seedsOf(v, '0,1,2');
  const dims = intListOption('dims', typeof v.dims === 'string' ? v.dims : '3,32,256', 1, 4096);
  const subsetsRaw = typeof v['vertex-subsets'] === 'string' ? v['vertex-subsets'] : '0.5,0.25,0.125';
  const vertexSubsets =
    subsetsRaw === 'none'
      ? []
      : listOption('vertex-subsets', subsetsRaw, (s) => {
          const n = Number(s);
          if (!(n > 0 && n < 1)) throw new ConfigError('vertex-subsets', `'${s}' is not a fraction in (0, 1); use 'none' to skip claim 8`);
          return n;
        });
  const subsetDim = v['subset-dim'] === undefined ? 32 : intOption('subset-dim', v['subset-dim'], 1, 4096);
  const subsetInits = v['subset-init'] === undefined ? inits : initsOf({ init: v['subset-init'] } as Values, '', 'subset-init');
  for (const m of methods) for (const d of [...dims, ...(vertexSubsets.length ? [subsetDim] : [])]) configFrom({ 'codebook-size': '512', ...v, init: inits[0], method: m, dim: String(d) });
  const out = gridFolderOption('out', typeof v.out === 'string' ? v.out : join('runs', 'sweep'));
  const { runSweep } = await later.sweep();
  const { resultsTable } = await later.compare();
  console.log(`sweep: C = ${dims.join(', ')}; ${methods.join(', ')} × init ${inits.join(', ')} × seeds ${seeds.join(', ')}; M = ${base.codebookSize}, ${base.steps} steps of batch ${base.batchSize} → ${out}`);
  if (vertexSubsets.length) console.log(`claim 8: knn-ce with vertex fractions ${vertexSubsets.join(', ')} at C = ${subsetDim}`);
  const p = runProgress(base.steps);
  const r = await runSweep({ dims, methods, inits, seeds, base, out, vertexSubsets, subsetDim, subsetInits, onRun: p.onRun, train: p.train });
  p.stop();
  for (const [d, results] of r.byDim) console.log(`\nC = ${d}\n${resultsTable(results)}`);
  console.log(`\nreport: ${join(out, 'report.md')}`);
}

async function toy(v: Values): Promise<void> {
  const steps = v.steps === undefined ? 600 : intOption('steps', v.steps, 1, 100_000);
  const seed = v.seed === undefined ? 0 : intOption('seed', v.seed, 0, 2 ** 31);
  const out = gridFolderOption('out', typeof v.out === 'string' ? v.out : join('runs', 'toy'));
  const { TOY_METHODS, runToy } = await later.toy();
  const { simplexPanels, writePng } = await later.viz();
  makeFolder(out, 'out');
  const started = performance.now();
  const results = TOY_METHODS.map(({ method, title }) => {
    process.stderr.write(`toy: training ${title}...\n`);
    return runToy(method, title, seed, steps);
  });
  await writePng(join(out, 'simplex.png'), await simplexPanels({ panels: results.map((r) => ({ title: r.title, points: r.points })) }));
  const seconds = (performance.now() - started) / 1000;
  const rows = results.map((r) => `| ${r.title} | ${r.verticesUsed} of 3 | ${r.meanVertexDistance.toFixed(3)} |`).join('\n');
  const md = `# Toy: where smoothed quantizers end up (M = 3)

350 points in three Gaussian blobs of 200, 100 and 50 points; an MLP encoder and decoder (2-32-2)
around a smoothed quantizer with 3 codes; ${steps} Adam steps per panel, seed ${seed}, K = 8 for KNN.
Each dot is one p_n, a point of the triangle whose corners are the one-hot vectors. Took ${seconds.toFixed(1)} s.

![simplex](simplex.png)

| regularizer | vertices that are some point's argmax | mean distance to the nearest vertex (1 − max p) |
|---|---|---|
${rows}
`;
  writeFileAtomic(join(out, 'report.md'), new TextEncoder().encode(md));
  console.log(rows.replace(/\|/g, ' ').replace(/ +/g, ' '));
  console.log(`report: ${join(out, 'report.md')}`);
}

const ALLOWED: Record<string, readonly string[]> = {
  train: ['method', 'init', 'init-std', 'restart-threshold', 'output-bias', 'threads', 'codebook-size', 'dim', 'groups', 'levels', 'hidden', 'k', 'shards', 'vertex-subset', 'steps', 'batch-size', 'lr', 'seed', 'backend', 'checkpoint-every', 'eval-images', 'out', 'resume'],
  compare: ['init', 'init-std', 'restart-threshold', 'output-bias', 'threads', 'codebook-size', 'dim', 'groups', 'hidden', 'k', 'shards', 'vertex-subset', 'steps', 'batch-size', 'lr', 'backend', 'checkpoint-every', 'eval-images', 'out', 'methods', 'seeds'],
  sweep: ['init', 'init-std', 'restart-threshold', 'output-bias', 'threads', 'vertex-subsets', 'subset-dim', 'subset-init', 'codebook-size', 'groups', 'hidden', 'k', 'shards', 'vertex-subset', 'steps', 'batch-size', 'lr', 'backend', 'checkpoint-every', 'eval-images', 'out', 'methods', 'seeds', 'dims'],
  toy: ['out', 'steps', 'seed'],
};

const CLI: CliDefinition = {
  name: 'simplex-ae',
  help: HELP.main!,
  spec: OPTION_SPEC,
  commands: {
    train: { help: HELP.train!, options: ALLOWED.train!, run: train },
    compare: { help: HELP.compare!, options: ALLOWED.compare!, run: compare },
    sweep: { help: HELP.sweep!, options: ALLOWED.sweep!, run: sweep },
    toy: { help: HELP.toy!, options: ALLOWED.toy!, run: toy },
  },
  inputErrors: [CheckpointError],
};

process.exit(await runCli(CLI, process.argv.slice(2)));
