/**
 * The methods the paper compares, by name (SPEC section 3), each a configured quantizer:
 *
 * | method       | quantizer                                                    |
 * |--------------|--------------------------------------------------------------|
 * | `ste`        | VectorQuantizer: nearest code, straight-through, codebook + commitment loss |
 * | `ste-ema`    | VectorQuantizer with EMA codebook updates                    |
 * | `gumbel`     | GumbelQuantizer (wav2vec 2.0), diversity loss 0.1, τ 2 → 0.5 |
 * | `smooth`     | SmoothedQuantizer, no regularizer (collapses)                |
 * | `perplexity` | SmoothedQuantizer + perplexity regularizer on the batch mean |
 * | `simvq`      | SimVQ: frozen random basis × learned linear map              |
 * | `knn-l2`     | SmoothedQuantizer + L_KNN with D = L2                        |
 * | `knn-ce`     | SmoothedQuantizer + L_KNN with D = CE (the paper's recommendation) |
 */
import type { Generator } from '@simplex-vq/tensor';
import { GumbelQuantizer } from './gumbel-quantizer.js';
import type { Quantizer } from './quantizer.js';
import { SimVQ } from './simvq.js';
import { SmoothedQuantizer } from './smoothed-quantizer.js';
import { VectorQuantizer } from './vector-quantizer.js';

export const METHODS = ['ste', 'ste-ema', 'gumbel', 'smooth', 'perplexity', 'simvq', 'knn-l2', 'knn-ce'] as const;
export type Method = (typeof METHODS)[number];

export interface MethodOptions {
  dim: number;
  codebookSize: number;
  groups?: number;
  /** KNN: neighbours per vertex and shard (default 1). */
  k?: number;
  /** KNN: shards (default 1). */
  shards?: number;
  /** KNN: vertex subset, a fraction or a count. */
  vertexSubset?: number;
  /** Weight λ of the regularizer (KNN, perplexity; default 1). */
  regularizerWeight?: number;
  /** Commitment weight β (default 0.25 where the method has one). */
  commitment?: number;
  /** Smoothed quantizers: 'distance' (default) or 'linear' logits. */
  logits?: 'distance' | 'linear';
  /** Smoothed quantizers: temperature τ (default 1) and whether it is learned. */
  temperature?: number;
  learnTemperature?: boolean;
  /** Gumbel: the annealing schedule of τ. */
  gumbelTemperature?: { start?: number; end?: number; decay?: number };
  /** Gumbel: diversity loss weight (default 0.1). */
  diversityWeight?: number;
  generator?: Generator;
}

export function isMethod(name: string): name is Method {
  return (METHODS as readonly string[]).includes(name);
}

/** Builds the quantizer of a method. */
export function createQuantizer(method: Method, o: MethodOptions): Quantizer {
  const base = { dim: o.dim, codebookSize: o.codebookSize, groups: o.groups, generator: o.generator };
  const smoothed = { ...base, logits: o.logits, temperature: o.temperature, learnTemperature: o.learnTemperature, commitment: o.commitment };
  const knn = { k: o.k, shards: o.shards, vertexSubset: o.vertexSubset, weight: o.regularizerWeight };
  switch (method) {
    case 'ste':
      return new VectorQuantizer({ ...base, commitment: o.commitment });
    case 'ste-ema':
      return new VectorQuantizer({ ...base, commitment: o.commitment, ema: true });
    case 'gumbel':
      return new GumbelQuantizer({ ...base, temperature: o.gumbelTemperature, diversityWeight: o.diversityWeight });
    case 'smooth':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'none' } });
    case 'perplexity':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'perplexity', weight: o.regularizerWeight } });
    case 'simvq':
      return new SimVQ({ ...base, commitment: o.commitment });
    case 'knn-l2':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'knn', distance: 'l2', ...knn } });
    case 'knn-ce':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'knn', distance: 'ce', ...knn } });
    default:
      throw new Error(`unknown method '${method as string}'; expected one of ${METHODS.join(', ')}`);
  }
}
