/**
 * What the distributed check and the checkpoint round trip share: the app's model with the KNN
 * regularizer in S shards, the constants the PyTorch twin (bench/peer/ddp_twin.py) reads from our
 * quantizer objects, and the MNIST batches of the app's Batcher.
 */
import { Generator, tensor, type Tensor } from '@simplex-vq/tensor';
import { Batcher, gatherImages, loadMnist } from '@simplex-vq/datasets';
import { Autoencoder, meanPixelLogit, type ModelConfig } from '@simplex-vq/autoencoder/model';
import { DEFAULTS } from '@simplex-vq/autoencoder/config';
import { SmoothedQuantizer } from '@simplex-vq/vq';

/** The KNN methods the twin covers: the paper's KNN-CE and KNN-L2. */
export const DISTRIBUTED_METHODS = ['knn-ce', 'knn-l2'] as const;
export type DistributedMethod = (typeof DISTRIBUTED_METHODS)[number];
export const isDistributedMethod = (s: string): s is DistributedMethod => (DISTRIBUTED_METHODS as readonly string[]).includes(s);

/** The app's model settings (its DEFAULTS: hidden 32, C = 32, M = 256, K = 1, init 'data') with `shards`. */
export function modelConfig(method: DistributedMethod, shards: number, outputBias: number): ModelConfig {
  const { dim, codebookSize, groups, hidden, k } = DEFAULTS;
  return { method, init: 'data', outputBias, dim, codebookSize, groups, hidden, k, shards };
}

/** A model of `method` with the app's seed; its weights are usually replaced by loadStateDict. */
export function newModel(method: DistributedMethod, shards: number, outputBias = 0): Autoencoder {
  const model = new Autoencoder(modelConfig(method, shards, outputBias), new Generator(DEFAULTS.seed));
  model.train();
  return model;
}

/** What ddp_twin.py needs to build the same model: sizes, and each method's quantizer constants. */
export interface TwinConfig {
  methods: DistributedMethod[];
  batch: number;
  shards: number;
  hidden: number;
  dim: number;
  codebookSize: number;
  quantizers: Partial<Record<DistributedMethod, { dim: number; codebookSize: number; commitment: number; k: number; knnWeight: number; distance: 'ce' | 'l2' }>>;
}

/** The quantizer's constants, read from the object (so a changed default reaches the twin), refusing what the twin does not cover. */
export function twinQuantizer(model: Autoencoder): TwinConfig['quantizers'][DistributedMethod] & object {
  const q = model.quantizer;
  if (!(q instanceof SmoothedQuantizer)) throw new Error(`distributed: the twin covers SmoothedQuantizer, got ${q.constructor.name}`);
  const r = q.regularizer;
  if (q.groups !== 1 || q.logitsKind !== 'distance' || r.type !== 'knn' || r.vertexSubset !== undefined || q.restart) {
    throw new Error('distributed: the twin covers one group, distance logits, the KNN regularizer over every vertex, no restart');
  }
  return { dim: q.dim, codebookSize: q.codebookSize, commitment: q.commitment, k: r.k ?? 1, knnWeight: r.weight ?? 1, distance: r.distance ?? 'ce' };
}

/** The first `count` batches of the app's Batcher (MNIST training set, the app's seed), and the output bias the app starts from. */
export function mnistBatches(count: number, batch: number): { batches: Float32Array[]; outputBias: number } {
  const { train } = loadMnist();
  const batcher = new Batcher(train.count, batch, { seed: DEFAULTS.seed });
  const batches = Array.from({ length: count }, () => gatherImages(train, batcher.next()));
  return { batches, outputBias: meanPixelLogit(train) };
}

/** Pixels [B·784] as an image tensor [B, 1, 28, 28] on the current backend. */
export const images = (pixels: Float32Array): Tensor => tensor(pixels.slice(), { shape: [pixels.length / 784, 1, 28, 28] });
