/**
 * The start of both engines: simplex-vq builds the app's model for each method, initializes it as
 * the app does, and writes the state and the batches to one safetensors file (the "inputs file")
 * that its own runs and PyTorch's twin (bench/peer/torch_trajectory.py) read.
 *
 *   tensors    <method>.<name>   the model's state after initialization (our layouts, PyTorch's)
 *              batches           [steps, B, 1, 28, 28]: the MNIST images of every step, in order
 *   metadata   config            JSON: sizes, Adam's settings, each quantizer's constants (TwinConfig)
 *              indices           JSON: the MNIST training-set indices of every batch
 *
 * The model is the app's own `Autoencoder` with the app's DEFAULTS (hidden 32, C = 32, M = 256, one
 * group, K = 1, Adam at lr 2e-3) and seed, and the app's two start-up choices: the decoder's output
 * bias at logit(mean pixel), and init 'data' for the codebook methods. That init runs inside the
 * quantizer's first training forward pass (k-means on the first batch's encoder outputs, and for
 * the smoothed quantizer τ rescaled by their variance), so it is done here, once, in float32, by a
 * forward pass over the first batch without gradients; the state written afterwards is the start
 * of every run (the twin does no k-means). The first training step then sees the same batch, as in
 * the app: our float32 run is the app's own `simplex-ae train` run (same seed, same batches).
 */
import { CpuBackend, Generator, noGrad, setBackend, tensor, type Tensor } from '@simplex-vq/tensor';
import { serializeSafetensors } from '@simplex-vq/nn';
import { writeFileAtomic } from '@simplex-vq/nn/node';
import { Batcher, gatherImages, loadMnist } from '@simplex-vq/datasets';
import { Autoencoder, meanPixelLogit, type ModelConfig } from '@simplex-vq/autoencoder/model';
import { DEFAULTS } from '@simplex-vq/autoencoder/config';
import { FiniteScalarQuantizer, SmoothedQuantizer, VectorQuantizer } from '@simplex-vq/vq';

/** The quantizers the check covers. */
export const TRAJECTORY_METHODS = ['ste', 'knn-ce', 'fsq'] as const;
export type TrajectoryMethod = (typeof TRAJECTORY_METHODS)[number];
export const isTrajectoryMethod = (s: string): s is TrajectoryMethod => (TRAJECTORY_METHODS as readonly string[]).includes(s);

/** What the PyTorch twin needs to know, read from our model objects rather than repeated. */
export interface TwinConfig {
  methods: TrajectoryMethod[];
  steps: number;
  batch: number;
  seed: number;
  hidden: number;
  dim: number;
  codebookSize: number;
  lr: number;
  betas: [number, number];
  eps: number;
  quantizers: Partial<Record<TrajectoryMethod, Record<string, unknown>>>;
}

export interface TrajectorySetup {
  methods: readonly TrajectoryMethod[];
  steps: number;
  batch: number;
}

/** The app's model settings for a method (apps/autoencoder/src/train.ts builds the same). */
export function modelConfig(method: TrajectoryMethod, outputBias: number): ModelConfig {
  const { dim, codebookSize, groups, hidden, k, shards } = DEFAULTS;
  return { method, init: method === 'fsq' ? 'none' : 'data', outputBias, dim, codebookSize, groups, hidden, k, shards };
}

/** The quantizer's constants the twin needs, from the quantizer object itself. */
function quantizerConfig(model: Autoencoder): Record<string, unknown> {
  const q = model.quantizer;
  const base = { dim: q.dim, codebookSize: q.codebookSize, groups: q.groups };
  if (q.groups !== 1) throw new Error(`trajectory: the twin covers one group, got ${q.groups}`);
  if (q instanceof VectorQuantizer) {
    if (q.ema || q.restart) throw new Error('trajectory: the twin covers ste without EMA or restart');
    return { ...base, commitment: q.commitment };
  }
  if (q instanceof SmoothedQuantizer) {
    const r = q.regularizer;
    if (q.logitsKind !== 'distance' || r.type !== 'knn' || (r.distance ?? 'ce') !== 'ce' || (r.shards ?? 1) !== 1 || r.vertexSubset !== undefined || q.restart) {
      throw new Error('trajectory: the twin covers knn-ce with distance logits, one shard, every vertex, no restart');
    }
    return { ...base, commitment: q.commitment, k: r.k ?? 1, knnWeight: r.weight ?? 1 };
  }
  if (q instanceof FiniteScalarQuantizer) {
    if (!q.projectIn) throw new Error('trajectory: the twin covers fsq with its projection');
    // ε of the bound, a constant in packages/vq/src/fsq.ts; the float64 check would show if it moved.
    return { ...base, levels: [...q.levels], fsqEps: 1e-3 };
  }
  throw new Error(`trajectory: no twin for ${q.constructor.name}`);
}

/**
 * Builds every method's start state and the batches, in float32 on one thread, and writes the
 * inputs file. Returns the config written.
 */
export function makeInputs(file: string, setup: TrajectorySetup): TwinConfig {
  setBackend(new CpuBackend({ threads: 1 }));
  const { train } = loadMnist();
  const { steps, batch } = setup;
  const batcher = new Batcher(train.count, batch, { seed: DEFAULTS.seed });
  const indices: number[][] = [];
  const pixels = new Float32Array(steps * batch * train.height * train.width);
  for (let s = 0; s < steps; s++) {
    const idx = batcher.next();
    indices.push([...idx]);
    pixels.set(gatherImages(train, idx), s * idx.length * train.height * train.width);
  }
  const tensors: Record<string, Tensor> = { batches: tensor(pixels, { shape: [steps, batch, 1, train.height, train.width] }) };
  const first = tensor(pixels.subarray(0, batch * train.height * train.width), { shape: [batch, 1, train.height, train.width] });
  const outputBias = meanPixelLogit(train);
  const quantizers: TwinConfig['quantizers'] = {};
  for (const method of setup.methods) {
    const model = new Autoencoder(modelConfig(method, outputBias), new Generator(DEFAULTS.seed));
    model.train();
    noGrad(() => model.forward(first)); // the data initialization, as the app's first step does it
    for (const [name, t] of Object.entries(model.stateDict())) tensors[`${method}.${name}`] = t;
    quantizers[method] = quantizerConfig(model);
  }
  const config: TwinConfig = {
    methods: [...setup.methods],
    steps,
    batch,
    seed: DEFAULTS.seed,
    hidden: DEFAULTS.hidden,
    dim: DEFAULTS.dim,
    codebookSize: DEFAULTS.codebookSize,
    lr: DEFAULTS.lr,
    // The Adam of the app (packages/nn's defaults), spelled out for torch.optim.Adam.
    betas: [0.9, 0.999],
    eps: 1e-8,
    quantizers,
  };
  writeFileAtomic(file, serializeSafetensors(tensors, { config: JSON.stringify(config), indices: JSON.stringify(indices) }));
  return config;
}
