/**
 * The settings of one training run, their defaults, and their validation. A bad value raises a
 * ConfigError naming the option; the CLI turns it into exit code 2.
 */
import { ConfigError, choiceOption, threadsOption, intOption as int, numberOption as num } from '@simplex-vq/app-kit';
import { ALL_METHODS, RESTARTABLE, hasCodebook, isMethod, type Method } from '@simplex-vq/vq';

export { ConfigError };

/** How a codebook starts: from the first batch's encoder outputs (the fair start), N(0, σ²) (the paper's), or no codebook (fsq, lfq). */
export type InitName = 'data' | 'normal' | 'none';

export interface TrainConfig {
  method: Method;
  /** Codebook initialization; 'none' for the methods without a codebook. */
  init: InitName;
  /** Std of the initial entries for init 'normal'. */
  initStd: number;
  /** `+restart` methods: a code is dead below this many rows per batch (running average). */
  restartThreshold: number;
  /** The decoder's output bias at the start: 'data' = logit of the training set's mean pixel; 'default' = PyTorch's init. */
  outputBias: 'data' | 'default';
  codebookSize: number;
  dim: number;
  groups: number;
  /**
   * rvq: the residual stages Q (each an ste quantizer of codebookSize codes). Absent for every
   * other method, so the config.json of a run of another method is what it was before rvq
   * existed, and a saved config without it (all runs before) means "not rvq".
   */
  levels?: number;
  hidden: number;
  k: number;
  shards: number;
  /** Fraction (0, 1) or count of vertices per step for the KNN regularizer; undefined: all. */
  vertexSubset?: number;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  backend: 'cpu' | 'gpujs';
  /** Save a checkpoint every this many steps (and at the end). */
  checkpointEvery: number;
  /** Test images used for evaluation (the fixed test set has 1,000). */
  evalImages: number;
  /** CPU threads for large products ('auto': every core). Does not change results, so not part of a run's identity. */
  threads: number | 'auto';
}

/** The stages of an rvq run when --levels is not given. */
export const RVQ_LEVELS = 4;

/** Settings that never make two runs differ (how often to checkpoint, how many threads). */
export const NOT_IDENTITY: readonly (keyof TrainConfig)[] = ['checkpointEvery', 'threads'];

export const DEFAULTS: TrainConfig = {
  method: 'knn-ce',
  init: 'data',
  initStd: 1,
  restartThreshold: 1,
  outputBias: 'data',
  codebookSize: 256,
  dim: 32,
  groups: 1,
  hidden: 32,
  k: 1,
  shards: 1,
  steps: 500,
  batchSize: 32,
  lr: 2e-3,
  seed: 0,
  backend: 'cpu',
  checkpointEvery: 100,
  evalImages: 1000,
  threads: 'auto',
};

/**
 * A config.json written before a field existed, in today's form: runs from before codebook
 * initialization was an option all started from N(0, 1), so a missing `init` means 'normal'; and
 * their decoders had PyTorch's default output bias.
 */
export function normalizeSavedConfig(saved: Record<string, unknown>): TrainConfig {
  return resolveConfig({ init: 'normal', outputBias: 'default', ...saved } as Partial<Record<keyof TrainConfig, unknown>>);
}

/** Merges raw option values (strings from the command line, or numbers) over the defaults, validating each. */
export function resolveConfig(raw: Partial<Record<keyof TrainConfig, unknown>>, base: TrainConfig = DEFAULTS): TrainConfig {
  const c = { ...base };
  const has = (k: keyof TrainConfig) => raw[k] !== undefined;
  if (has('method')) {
    const m = String(raw.method);
    if (!isMethod(m)) throw new ConfigError('method', `unknown method '${m}'; choose one of ${ALL_METHODS.join(', ')} (or <method>+restart for ${RESTARTABLE.join(', ')})`);
    c.method = m;
  }
  if (has('init')) c.init = choiceOption('init', raw.init, ['data', 'normal', 'none'] as const);
  if (has('initStd')) c.initStd = num('initStd', raw.initStd, (n) => n > 0 && n <= 100, 'a standard deviation in (0, 100]');
  if (has('restartThreshold')) c.restartThreshold = num('restartThreshold', raw.restartThreshold, (n) => n > 0 && n <= 1e6, 'a positive number of rows per batch');
  if (has('outputBias')) c.outputBias = choiceOption('outputBias', raw.outputBias, ['data', 'default'] as const);
  if (has('threads')) c.threads = threadsOption(raw.threads);
  if (has('codebookSize')) c.codebookSize = int('codebookSize', raw.codebookSize, 2, 65536);
  if (has('dim')) c.dim = int('dim', raw.dim, 1, 4096);
  if (has('groups')) c.groups = int('groups', raw.groups, 1, 64);
  if (has('levels')) c.levels = int('levels', raw.levels, 1, 64);
  if (has('hidden')) c.hidden = int('hidden', raw.hidden, 1, 1024);
  if (has('k')) c.k = int('k', raw.k, 1, LIMITS.rows);
  if (has('shards')) c.shards = int('shards', raw.shards, 1, LIMITS.rows);
  if (has('vertexSubset')) c.vertexSubset = num('vertexSubset', raw.vertexSubset, (n) => (n > 0 && n < 1) || (Number.isInteger(n) && n >= 1 && n <= 65536), 'a fraction in (0, 1) or a count of codes ≥ 1');
  if (has('steps')) c.steps = int('steps', raw.steps, 1, LIMITS.steps);
  if (has('batchSize')) c.batchSize = int('batchSize', raw.batchSize, 1, 9000);
  if (has('lr')) c.lr = num('lr', raw.lr, (n) => n > 0 && n < 10, 'a learning rate in (0, 10)');
  if (has('seed')) c.seed = int('seed', raw.seed, 0, 2 ** 31);
  if (has('backend')) c.backend = choiceOption('backend', raw.backend, ['cpu', 'gpujs'] as const);
  if (has('checkpointEvery')) c.checkpointEvery = int('checkpointEvery', raw.checkpointEvery, 1, LIMITS.checkpointEvery);
  if (has('evalImages')) c.evalImages = int('evalImages', raw.evalImages, 1, 1000);
  // levels belongs to rvq alone: present (default RVQ_LEVELS) for it, absent for the others.
  if (c.method === 'rvq') c.levels ??= RVQ_LEVELS;
  else if (c.levels !== undefined) throw new ConfigError('levels', `applies to --method rvq only (got --method ${c.method})`);
  // fsq and lfq have no codebook: 'none' whatever was asked; a codebook method needs a real start.
  if (!hasCodebook(c.method)) c.init = 'none';
  else if (c.init === 'none') throw new ConfigError('init', `${c.method} learns a codebook: choose 'data' or 'normal'`);
  if (c.dim % c.groups !== 0) throw new ConfigError('groups', `${c.groups} groups do not divide --dim ${c.dim}`);
  const rows = c.batchSize * 49;
  if (c.method.startsWith('knn') && rows % c.shards !== 0) {
    throw new ConfigError('shards', `${c.shards} shards do not divide the ${rows} latent vectors of a batch (${c.batchSize} images × 49)`);
  }
  if (c.method.startsWith('knn') && rows / c.shards < c.k) {
    throw new ConfigError('k', `K = ${c.k} exceeds the ${rows / c.shards} latent vectors per shard (N = ${rows}, shards = ${c.shards})`);
  }
  if (c.vertexSubset !== undefined && c.vertexSubset >= 1 && c.vertexSubset > c.codebookSize) {
    throw new ConfigError('vertex-subset', `a count of ${c.vertexSubset} vertices exceeds the ${c.codebookSize} codes`);
  }
  checkMemory(c);
  return c;
}

/** Upper bounds of the settings that only grow time or files, not the model: generous, but no typo runs for ever. */
export const LIMITS = { steps: 10_000_000, checkpointEvery: 1_000_000, rows: 1_000_000 } as const;

/** The most memory a training step may need, by the estimate below: far above any experiment here, far below a machine's end. */
export const MAX_STEP_BYTES = 8 * 2 ** 30;

/**
 * A generous estimate of the bytes a training step (or the evaluation, 100 images at a time)
 * holds, by what dominates it, so that a run too large for memory is refused before it starts
 * rather than killed by the system half-way:
 *
 *   parameters  P = conv weights (16h + 16h² + hC + 9Ch + 16h² + 16h) + the codebook (≈ 2MC + C²;
 *               one per stage for rvq), × 4 copies (weights, gradients, Adam's two moments)
 *   activations per image: h·14² and h·7² maps in the encoder and decoder, C·7², the 28² output,
 *               each kept with its gradient and a ReLU copy (× 4)
 *   quantizer   49 rows per image × G × M distances or logits per row (their softmax, log-softmax,
 *               the KNN scores and the gradients of each: × 8), once per stage for rvq; FSQ has no
 *               such matrix (49 × C)
 */
export function stepBytes(c: TrainConfig): { total: number; parts: Record<'parameters' | 'activations' | 'quantizer', number> } {
  const { hidden: h, dim: C, codebookSize: M, groups: G } = c;
  const stages = c.levels ?? 1;
  const images = Math.max(c.batchSize, Math.min(100, c.evalImages));
  const parameters = 4 * 4 * (16 * h + 32 * h * h + h * C + 9 * C * h + 16 * h + stages * (2 * M * C + C * C));
  const activations = 4 * 4 * images * (2 * h * 196 + 2 * h * 49 + C * 49 + 784);
  const quantizer = 4 * 8 * images * 49 * stages * (c.method === 'fsq' ? C : G * M);
  return { total: parameters + activations + quantizer, parts: { parameters, activations, quantizer } };
}

const GB = (b: number) => `${(b / 2 ** 30).toFixed(b < 10 * 2 ** 30 ? 1 : 0)} GB`;

/** Refuses a config whose training step would need more than MAX_STEP_BYTES, naming what makes it large. */
function checkMemory(c: TrainConfig): void {
  const { total, parts } = stepBytes(c);
  if (total <= MAX_STEP_BYTES) return;
  const [largest] = Object.entries(parts).sort((a, b) => b[1] - a[1])[0]!;
  const culprits: Record<string, [string, string]> = {
    parameters: ['codebook-size', `--codebook-size ${c.codebookSize} × --dim ${c.dim} codebook entries and --hidden ${c.hidden}² conv weights`],
    activations: ['batch-size', `--batch-size ${c.batchSize} images × --hidden ${c.hidden} channels of activations`],
    quantizer: ['batch-size', `--batch-size ${c.batchSize} × 49 rows × --groups ${c.groups} × --codebook-size ${c.codebookSize} distances${c.levels ? ` × --levels ${c.levels}` : ''}`],
  };
  const [option, what] = culprits[largest]!;
  throw new ConfigError(option, `a training step would need about ${GB(total)} (${what}), more than the ${GB(MAX_STEP_BYTES)} limit; choose smaller values`);
}
