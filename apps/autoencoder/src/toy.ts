/**
 * The toy picture (the paper's Figure 1): M = 3 codes, 2-D data, so every smoothed quantizer p_n
 * is a point of a triangle. A small MLP autoencoder with a smoothed quantizer is trained with no
 * regularizer, the perplexity regularizer, KNN-L2 and KNN-CE; each panel shows where the p_n of
 * the data end up.
 */
import { Generator, noGrad, tensor, type Tensor } from '@simplex-vq/tensor';
import { Adam, Linear, ReLU, Sequential } from '@simplex-vq/nn';
import { createQuantizer, type Method } from '@simplex-vq/vq';

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

/** Three Gaussian blobs in the plane, unequal in size (200/100/50 points). */
export function toyData(generator: Generator): Tensor {
  const centres = [[-2, 0], [2, 0], [0, 3]];
  const sizes = [200, 100, 50];
  const v: number[] = [];
  centres.forEach(([cx, cy], i) => {
    for (let j = 0; j < sizes[i]!; j++) v.push(cx! + 0.6 * generator.normal(), cy! + 0.6 * generator.normal());
  });
  return tensor(Float32Array.from(v), { shape: [v.length / 2, 2] });
}

export function runToy(method: Method, title: string, seed = 0, steps = 600): ToyResult {
  const g = new Generator(seed);
  const x = toyData(g);
  const enc = new Sequential(new Linear(2, 32, { generator: g }), new ReLU(), new Linear(32, 2, { generator: g }));
  const dec = new Sequential(new Linear(2, 32, { generator: g }), new ReLU(), new Linear(32, 2, { generator: g }));
  const q = createQuantizer(method, { dim: 2, codebookSize: 3, k: 8, generator: new Generator(seed + 1) });
  const opt = new Adam([...enc.parameters(), ...dec.parameters(), ...q.parameters()], { lr: 0.01 });
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    const out = q.forward(enc.forward(x));
    const loss = dec.forward(out.quantized).sub(x).square().mean().add(out.loss);
    loss.backward();
    opt.step();
  }
  const probs = noGrad(() => q.forward(enc.forward(x)).probs!);
  const rows = probs.toArray() as number[][];
  const points = rows.map((r) => [r[0]!, r[1]!, r[2]!] as [number, number, number]);
  const used = new Set(points.map((p) => p.indexOf(Math.max(...p))));
  const meanVertexDistance = points.reduce((s, p) => s + (1 - Math.max(...p)), 0) / points.length;
  return { method, title, points, meanVertexDistance, verticesUsed: used.size };
}
