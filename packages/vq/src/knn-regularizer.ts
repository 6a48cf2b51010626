/**
 * The KNN regularizer of "Pushing Toward the Simplex Vertices" (Morita, 2025).
 *
 * Smoothed quantizers are points p_n of the probability simplex. For every vertex e_m (the one-hot
 * vector of code m) take its K nearest quantizers among the N rows and pull them toward it:
 *
 *     L_KNN = 1/(M·K) · Σ_m Σ_{k=1..K} D(e_m, p_(m,k))
 *
 *   CE:  D(e_m, p) = −log p_m             — the K nearest are the K largest entries of column m;
 *   L2:  D(e_m, p) = ‖e_m − p‖² = 1 − 2p_m + ‖p‖².
 *
 * Every vertex always gets K quantizers pulled toward it, which both revives unused codes and
 * sharpens p toward one-hot. The selection is made with `topk`, whose gradient reaches only the
 * selected entries: the selection itself carries no gradient, the selected distances do.
 *
 * Shards reproduce the paper's multi-GPU setting on one machine: the N rows are split into S equal
 * parts, K neighbours are found within each part, and the per-part losses are averaged.
 */
import { Generator, ShapeError, defaultGenerator, tensor, type Tensor } from '@simplex-vq/tensor';

export type KnnDistance = 'ce' | 'l2';

export interface KnnOptions {
  /** Neighbours per vertex (per shard). Default 1. */
  k?: number;
  /** 'ce' (default, the paper's recommendation) or 'l2'. */
  distance?: KnnDistance;
  /** Split the rows into this many equal parts, each finding its own K neighbours. Default 1. */
  shards?: number;
  /**
   * Use a random subset of the vertices each call: a fraction in (0, 1), or a count ≥ 1.
   * Default: every vertex. The loss averages over the subset.
   */
  vertexSubset?: number;
  /** Generator for the vertex subset (default: the global one). */
  generator?: Generator;
  /** What the input matrix holds: 'logits' (default), 'logProbs' or 'probs'. */
  input?: 'logits' | 'logProbs' | 'probs';
}

/** The vertices a call uses: all M, or a seeded random subset. */
export function chooseVertices(m: number, subset: number | undefined, generator: Generator): number[] | null {
  if (subset === undefined) return null;
  if (!(subset > 0)) throw new ShapeError('knnRegularizer', `vertexSubset must be a fraction in (0, 1) or a count ≥ 1, got ${subset}`);
  const count = subset < 1 ? Math.max(1, Math.round(subset * m)) : Math.min(m, Math.floor(subset));
  if (count >= m) return null;
  // Partial Fisher–Yates: the first `count` entries of a random permutation, sorted.
  const idx = Array.from({ length: m }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = generator.randint(i, m);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, count).sort((a, b) => a - b);
}

interface Prepared {
  /** The per-entry distances, negated so that the K nearest are the K largest: [S, N/S, M']. */
  score: Tensor;
  k: number;
}

/** Validates the input and builds −D for every (row, vertex) pair, split into shards. */
function prepare(x: Tensor, opts: KnnOptions): Prepared {
  const k = opts.k ?? 1;
  const shards = opts.shards ?? 1;
  const distance = opts.distance ?? 'ce';
  const input = opts.input ?? 'logits';
  if (x.ndim !== 2) throw new ShapeError('knnRegularizer', `expects a [N, M] matrix of ${input}, got shape [${x.shape.join(', ')}]`);
  const [n, m] = x.shape as [number, number];
  if (!Number.isInteger(k) || k < 1) throw new ShapeError('knnRegularizer', `k must be a positive integer, got ${k}`);
  if (!Number.isInteger(shards) || shards < 1) throw new ShapeError('knnRegularizer', `shards must be a positive integer, got ${shards}`);
  if (n % shards !== 0) throw new ShapeError('knnRegularizer', `N = ${n} rows cannot be split into ${shards} equal shards`);
  if (n / shards < k) {
    throw new ShapeError('knnRegularizer', `each shard needs at least K = ${k} rows, but N = ${n} rows in ${shards} shard(s) gives ${n / shards}`);
  }
  if (distance !== 'ce' && distance !== 'l2') throw new ShapeError('knnRegularizer', `distance must be 'ce' or 'l2', got '${distance}'`);
  let score: Tensor;
  if (distance === 'ce') {
    // −D = log p_m, from log-softmax (never log of a softmax).
    score = input === 'logits' ? x.logSoftmax(-1) : input === 'logProbs' ? x : x.log();
  } else {
    const p = input === 'logits' ? x.softmax(-1) : input === 'logProbs' ? x.exp() : x;
    // −D = 2p_m − ‖p‖² − 1
    score = p.mul(2).sub(p.square().sum(1, true)).sub(1);
  }
  const vertices = chooseVertices(m, opts.vertexSubset, opts.generator ?? defaultGenerator());
  if (vertices) score = score.indexSelect(1, tensor(Int32Array.from(vertices)));
  return { score: score.reshape([shards, n / shards, -1]), k };
}

/**
 * L_KNN for a [N, M] matrix of logits (or log-probabilities or probabilities, see `input`).
 * Returns a scalar tensor; differentiable with respect to the input.
 */
export function knnRegularizer(x: Tensor, opts: KnnOptions = {}): Tensor {
  const { score, k } = prepare(x, opts);
  // The K nearest quantizers of each vertex, per shard: [S, K, M'].
  const nearest = score.topk(k, 1).values;
  return nearest.mean().neg();
}

/**
 * The neighbours the regularizer selects: for each shard s, each vertex j of the used set and
 * each k, the row (within the whole matrix) of the k-th nearest quantizer. Also returns the
 * vertex list (null: all). For inspection and tests.
 */
export function knnNeighbours(x: Tensor, opts: KnnOptions = {}): { rows: number[][][]; vertices: number[] | null } {
  const gen = opts.generator ?? defaultGenerator();
  const state = gen.getState();
  const vertices = chooseVertices(x.shape[1]!, opts.vertexSubset, gen);
  gen.setState(state); // prepare() draws the same subset again
  const { score, k } = prepare(x, { ...opts, generator: gen });
  const idx = score.detach().topk(k, 1).indices.toArray() as number[][][];
  const perShard = score.shape[1]!;
  return { rows: idx.map((shard, s) => shard.map((row) => row.map((r) => r + s * perShard))), vertices };
}
