/**
 * The settings of one training run, their defaults, and their validation. A bad value raises a
 * ConfigError naming the option; the CLI turns it into exit code 2.
 */
import { ConfigError, choiceOption, intOption as int, numberOption as num } from '@simplex-vq/app-kit';
import { METHODS, isMethod, type Method } from '@simplex-vq/vq';

export { ConfigError };

export interface TrainConfig {
  method: Method;
  codebookSize: number;
  dim: number;
  groups: number;
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
}

export const DEFAULTS: TrainConfig = {
  method: 'knn-ce',
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
};

/** Merges raw option values (strings from the command line, or numbers) over the defaults, validating each. */
export function resolveConfig(raw: Partial<Record<keyof TrainConfig, unknown>>, base: TrainConfig = DEFAULTS): TrainConfig {
  const c = { ...base };
  const has = (k: keyof TrainConfig) => raw[k] !== undefined;
  if (has('method')) {
    const m = String(raw.method);
    if (!isMethod(m)) throw new ConfigError('method', `unknown method '${m}'; choose one of ${METHODS.join(', ')}`);
    c.method = m;
  }
  if (has('codebookSize')) c.codebookSize = int('codebookSize', raw.codebookSize, 2, 65536);
  if (has('dim')) c.dim = int('dim', raw.dim, 1, 4096);
  if (has('groups')) c.groups = int('groups', raw.groups, 1, 64);
  if (has('hidden')) c.hidden = int('hidden', raw.hidden, 1, 1024);
  if (has('k')) c.k = int('k', raw.k, 1);
  if (has('shards')) c.shards = int('shards', raw.shards, 1);
  if (has('vertexSubset')) c.vertexSubset = num('vertexSubset', raw.vertexSubset, (n) => n > 0, 'a fraction in (0, 1) or a count ≥ 1');
  if (has('steps')) c.steps = int('steps', raw.steps, 1);
  if (has('batchSize')) c.batchSize = int('batchSize', raw.batchSize, 1, 9000);
  if (has('lr')) c.lr = num('lr', raw.lr, (n) => n > 0 && n < 10, 'a learning rate in (0, 10)');
  if (has('seed')) c.seed = int('seed', raw.seed, 0, 2 ** 31);
  if (has('backend')) c.backend = choiceOption('backend', raw.backend, ['cpu', 'gpujs'] as const);
  if (has('checkpointEvery')) c.checkpointEvery = int('checkpointEvery', raw.checkpointEvery, 1);
  if (has('evalImages')) c.evalImages = int('evalImages', raw.evalImages, 1, 1000);
  if (c.dim % c.groups !== 0) throw new ConfigError('groups', `${c.groups} groups do not divide --dim ${c.dim}`);
  const rows = c.batchSize * 49;
  if (c.method.startsWith('knn') && rows % c.shards !== 0) {
    throw new ConfigError('shards', `${c.shards} shards do not divide the ${rows} latent vectors of a batch (${c.batchSize} images × 49)`);
  }
  if (c.method.startsWith('knn') && rows / c.shards < c.k) {
    throw new ConfigError('k', `K = ${c.k} exceeds the ${rows / c.shards} latent vectors per shard (N = ${rows}, shards = ${c.shards})`);
  }
  return c;
}
