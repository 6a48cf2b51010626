/**
 * The toy picture (the paper's Figure 1): M = 3 codes, 2-D data, so every smoothed quantizer p_n
 * is a point of a triangle. A small MLP autoencoder with a smoothed quantizer is trained with no
 * regularizer, the perplexity regularizer, KNN-L2 and KNN-CE; each panel shows where the p_n of
 * the data end up.
 *
 * ToyModel is the setup and one training step, so the CLI's `toy` command (runToy, offline) and
 * the playground (apps/playground, a step at a time in a page) train the same model. It imports
 * nothing from Node.
 */
import { Generator, noGrad, tensor, type Tensor } from '@simplex-vq/tensor';
import { Adam, Linear, ReLU, Sequential } from '@simplex-vq/nn';
import { createQuantizer, type Method, type Quantizer, type QuantizerOutput } from '@simplex-vq/vq';

export const TOY_METHODS: Array<{ method: Method; title: string }> = [
  { method: 'smooth', title: 'no regularizer' },
  { method: 'perplexity', title: 'perplexity' },
  { method: 'knn-l2', title: 'KNN-L2' },
  { method: 'knn-ce', title: 'KNN-CE' },
];

export interface ToyResult {
  method: Method;
  title: string;
  /** p_n of every data point after training. */
  points: Array<[number, number, number]>;
  /** Mean distance of the p_n to their nearest vertex (0 = all one-hot). */
  meanVertexDistance: number;
  /** How many of the 3 vertices are the argmax of at least one point. */
  verticesUsed: number;
}

/** The toy data's blobs, in the order of toyData's rows: centre and number of points. */
export const TOY_BLOBS: ReadonlyArray<{ centre: readonly [number, number]; size: number }> = [
  { centre: [-2, 0], size: 200 },
  { centre: [2, 0], size: 100 },
  { centre: [0, 3], size: 50 },
];

/** Three Gaussian blobs in the plane (std 0.6), unequal in size (200/100/50 points, in that order). */
export function toyData(generator: Generator): Tensor {
  const v: number[] = [];
  for (const { centre: [cx, cy], size } of TOY_BLOBS) {
    for (let j = 0; j < size; j++) v.push(cx + 0.6 * generator.normal(), cy + 0.6 * generator.normal());
  }
  return tensor(Float32Array.from(v), { shape: [v.length / 2, 2] });
}

export interface ToyOptions {
  /** Seeds the data and the encoder/decoder (seed) and the quantizer (seed + 1). Default 0. */
  seed?: number;
  /** Adam's learning rate (default 0.01). */
  lr?: number;
  /** KNN: neighbours per vertex (default 8). */
  k?: number;
  /** Smoothed quantizers: the softmax temperature τ (default: the quantizer's, 1). */
  temperature?: number;
}

/**
 * The toy autoencoder, 2-32-2 MLPs around a quantizer of 3 codes on 2-D vectors, trained by Adam
 * on the whole set (350 points) each step. Tensors are made on the current backend.
 */
export class ToyModel {
  readonly x: Tensor;
  readonly encoder: Sequential;
  readonly decoder: Sequential;
  readonly quantizer: Quantizer;
  readonly optimizer: Adam;

  constructor(readonly method: Method, opts: ToyOptions = {}) {
    const seed = opts.seed ?? 0;
    const g = new Generator(seed);
    this.x = toyData(g);
    this.encoder = new Sequential(new Linear(2, 32, { generator: g }), new ReLU(), new Linear(32, 2, { generator: g }));
    this.decoder = new Sequential(new Linear(2, 32, { generator: g }), new ReLU(), new Linear(32, 2, { generator: g }));
    this.quantizer = createQuantizer(method, { dim: 2, codebookSize: 3, k: opts.k ?? 8, temperature: opts.temperature, generator: new Generator(seed + 1) });
    this.optimizer = new Adam([...this.encoder.parameters(), ...this.decoder.parameters(), ...this.quantizer.parameters()], { lr: opts.lr ?? 0.01 });
  }

  /**
   * One Adam step on reconstruction MSE + the quantizer's loss. Returns the loss tensor and the
   * quantizer's output of this step's forward pass (its probs are the p_n before the update);
   * nothing is read back from the backend here.
   */
  step(): { loss: Tensor; out: QuantizerOutput } {
    this.optimizer.zeroGrad();
    const out = this.quantizer.forward(this.encoder.forward(this.x));
    const loss = this.decoder.forward(out.quantized).sub(this.x).square().mean().add(out.loss);
    loss.backward();
    this.optimizer.step();
    return { loss, out };
  }

  /** The p_n of every point now, [350, 3] (without recording a graph). */
  probs(): Tensor {
    return noGrad(() => this.quantizer.forward(this.encoder.forward(this.x)).probs!);
  }
}

export function runToy(method: Method, title: string, seed = 0, steps = 600): ToyResult {
  const model = new ToyModel(method, { seed });
  for (let s = 0; s < steps; s++) model.step();
  const rows = model.probs().toArray() as number[][];
  const points = rows.map((r) => [r[0]!, r[1]!, r[2]!] as [number, number, number]);
  const used = new Set(points.map((p) => p.indexOf(Math.max(...p))));
  const meanVertexDistance = points.reduce((s, p) => s + (1 - Math.max(...p)), 0) / points.length;
  return { method, title, points, meanVertexDistance, verticesUsed: used.size };
}
