/**
 * The methods the experiments compare, by name (SPEC section 3), each a configured quantizer:
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
 * | `ste+restart`| `ste` with dead-code replacement (any method but gumbel takes `+restart`) |
 * | `fsq`        | FiniteScalarQuantizer: bounded rounding per channel, levels ≈ M codes |
 * | `lfq`        | LookupFreeQuantizer: sign per channel, 2^b codes, entropy terms |
 * | `rvq`        | ResidualQuantizer: Q stages of another method on successive residuals |
 *
 * The first eight are the paper's; the last three are what a practitioner reaches for against
 * collapse. Every codebook method takes the codebook initialization (`init`: 'normal' or 'data');
 * `fsq` and `lfq` have no codebook to initialize.
 *
 * `rvq` (ALL_METHODS) is built from them: a ResidualQuantizer of `residual.levels` stages of
 * `residual.stage` (default `ste`). It is not one of METHODS, the comparison: with Q stages it
 * gives each row Q codes of M, so it is not compared at equal M with the others.
 */
import { ShapeError, type Generator } from '@simplex-vq/tensor';
import type { CodebookInit, RestartOptions } from './codebook.js';
import { FiniteScalarQuantizer } from './fsq.js';
import { GumbelQuantizer } from './gumbel-quantizer.js';
import type { GradientEstimator } from './hard-quantizer.js';
import { LookupFreeQuantizer } from './lfq.js';
import type { Quantizer } from './quantizer.js';
import { ResidualQuantizer } from './residual-quantizer.js';
import { SimVQ } from './simvq.js';
import { SmoothedQuantizer } from './smoothed-quantizer.js';
import { VectorQuantizer } from './vector-quantizer.js';

/** The paper's eight methods (SPEC section 3). */
export const PAPER_METHODS = ['ste', 'ste-ema', 'gumbel', 'smooth', 'perplexity', 'simvq', 'knn-l2', 'knn-ce'] as const;
/** Every method of a full comparison: the paper's eight, dead-code replacement, and the two codebook-free quantizers. */
export const METHODS = [...PAPER_METHODS, 'ste+restart', 'fsq', 'lfq'] as const;
/** Every method name: the comparison's, and `rvq` (residual quantization with any of them as the stage). */
export const ALL_METHODS = [...METHODS, 'rvq'] as const;
/** Methods that take `+restart` (code choice by distance to a codebook). */
export const RESTARTABLE = ['ste', 'ste-ema', 'smooth', 'perplexity', 'simvq', 'knn-l2', 'knn-ce'] as const;

type Restartable = (typeof RESTARTABLE)[number];
export type Method = (typeof ALL_METHODS)[number] | `${Restartable}+restart`;

export interface MethodOptions {
  dim: number;
  codebookSize: number;
  groups?: number;
  /** Codebook methods: how the codebook starts, 'normal' (default here; the paper's) or 'data' (k-means on the first training batch). */
  init?: CodebookInit;
  /** Std of the initial entries for init 'normal' (default 1). */
  initStd?: number;
  /** `+restart` methods: the dead-code threshold and usage decay. */
  restart?: RestartOptions;
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
  /** ste, ste+restart, simvq: weight of the codebook loss (default 1). */
  codebookWeight?: number;
  /** ste, ste-ema, simvq: the gradient through the hard code, 'ste' (default) or 'rotation' (the rotation trick). */
  estimator?: GradientEstimator;
  /** ste, ste-ema, simvq: cosine-similarity codes (inputs and codes l2-normalized; default false). */
  cosine?: boolean;
  /** ste, simvq: weight of the orthogonal regularization of the codebook (default 0). */
  orthogonalWeight?: number;
  /** rvq: stages (`levels`, default 4), the stage method (default 'ste'), one shared codebook, quantizer dropout. */
  residual?: { levels?: number; stage?: Method; shared?: boolean; quantizerDropout?: boolean; minLevels?: number };
  /** Smoothed quantizers: 'distance' (default) or 'linear' logits. */
  logits?: 'distance' | 'linear';
  /** Smoothed quantizers: temperature τ (default 1) and whether it is learned. */
  temperature?: number;
  learnTemperature?: boolean;
  /** Gumbel: the annealing schedule of τ. */
  gumbelTemperature?: { start?: number; end?: number; decay?: number };
  /** Gumbel: diversity loss weight (default 0.1). */
  diversityWeight?: number;
  /** FSQ: the levels per channel (default: fsqLevels(codebookSize)). */
  levels?: readonly number[];
  generator?: Generator;
}

export function isMethod(name: string): name is Method {
  if ((ALL_METHODS as readonly string[]).includes(name)) return true;
  return name.endsWith('+restart') && (RESTARTABLE as readonly string[]).includes(name.slice(0, -'+restart'.length));
}

/** Whether the method learns a codebook (and so takes `init`): all but fsq and lfq (rvq: its stages take `init` when they have a codebook). */
export function hasCodebook(method: Method): boolean {
  return method !== 'fsq' && method !== 'lfq';
}

/** Builds the quantizer of a method ('rvq' gives a ResidualQuantizer, typed so: its `decode` is there). */
export function createQuantizer(method: 'rvq', o: MethodOptions): ResidualQuantizer;
export function createQuantizer(method: Method, o: MethodOptions): Quantizer;
export function createQuantizer(method: Method, o: MethodOptions): Quantizer {
  if (!isMethod(method)) throw new Error(`unknown method '${method as string}'; expected one of ${ALL_METHODS.join(', ')} (or <method>+restart for ${RESTARTABLE.join(', ')})`);
  const restarted = method.endsWith('+restart');
  const name = (restarted ? method.slice(0, -'+restart'.length) : method) as (typeof ALL_METHODS)[number];
  const base = { dim: o.dim, codebookSize: o.codebookSize, groups: o.groups, generator: o.generator };
  const codebook = { ...base, init: o.init, initStd: o.initStd, restart: restarted ? (o.restart ?? true) : false };
  const smoothed = { ...codebook, logits: o.logits, temperature: o.temperature, learnTemperature: o.learnTemperature, commitment: o.commitment };
  const knn = { k: o.k, shards: o.shards, vertexSubset: o.vertexSubset, weight: o.regularizerWeight };
  // ste-ema refuses codebookWeight and orthogonalWeight when given (its codebook is not learned by a loss).
  const learned = { ...codebook, commitment: o.commitment, estimator: o.estimator, cosine: o.cosine, codebookWeight: o.codebookWeight, orthogonalWeight: o.orthogonalWeight };
  switch (name) {
    case 'ste':
      return new VectorQuantizer(learned);
    case 'ste-ema':
      return new VectorQuantizer({ ...learned, ema: true });
    case 'gumbel':
      return new GumbelQuantizer({ ...codebook, temperature: o.gumbelTemperature, diversityWeight: o.diversityWeight });
    case 'smooth':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'none' } });
    case 'perplexity':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'perplexity', weight: o.regularizerWeight } });
    case 'simvq':
      return new SimVQ(learned);
    case 'knn-l2':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'knn', distance: 'l2', ...knn } });
    case 'knn-ce':
      return new SmoothedQuantizer({ ...smoothed, regularizer: { type: 'knn', distance: 'ce', ...knn } });
    case 'ste+restart':
      return new VectorQuantizer({ ...learned, restart: o.restart ?? true });
    case 'fsq':
      return new FiniteScalarQuantizer({ ...base, levels: o.levels });
    case 'lfq':
      return new LookupFreeQuantizer({ ...base, commitment: o.commitment });
    case 'rvq': {
      const r = o.residual ?? {};
      const stage = r.stage ?? 'ste';
      if (!isMethod(stage) || stage === 'rvq') throw new ShapeError('createQuantizer', `rvq: the stage must be one of ${METHODS.join(', ')} (or <method>+restart), got '${String(stage)}'`);
      const stageOptions = { ...o, residual: undefined };
      return new ResidualQuantizer({
        dim: o.dim,
        levels: r.levels ?? 4,
        shared: r.shared,
        quantizerDropout: r.quantizerDropout,
        minLevels: r.minLevels,
        generator: o.generator,
        stage: () => createQuantizer(stage, stageOptions),
      });
    }
  }
}
