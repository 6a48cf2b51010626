/**
 * @simplex-vq/vq — vector quantizers and their metrics.
 *
 * Where to read: knn-regularizer.ts (the paper's method, in forty lines), smoothed-quantizer.ts
 * (smoothed VQ), then the baselines (vector-quantizer.ts, gumbel-quantizer.ts, simvq.ts,
 * perplexity.ts), the codebook-free quantizers (fsq.ts, lfq.ts), codebook.ts (initialization and
 * dead-code replacement), hard-quantizer.ts (what the nearest-code quantizers share: the rotation
 * trick of rotation-trick.ts, cosine codes, loss weights, orthogonal-regularizer.ts),
 * residual-quantizer.ts (Q stages of any of them), methods.ts (the method names), metrics.ts
 * (code usage and perplexities).
 */
export { Quantizer, l2normalize, squaredDistances, type QuantizerBaseOptions, type QuantizerOutput } from './quantizer.js';
export { SmoothedQuantizer, type Regularizer, type SmoothedQuantizerOptions } from './smoothed-quantizer.js';
export { CodebookQuantizer, kmeans, type CodebookInit, type CodebookOptions, type RestartOptions } from './codebook.js';
export { HardQuantizer, type GradientEstimator, type HardQuantizerOptions } from './hard-quantizer.js';
export { rotateTo } from './rotation-trick.js';
export { orthogonalRegularizer } from './orthogonal-regularizer.js';
export { VectorQuantizer, type VectorQuantizerOptions } from './vector-quantizer.js';
export { FiniteScalarQuantizer, fsqLevels, type FiniteScalarQuantizerOptions } from './fsq.js';
export { LookupFreeQuantizer, type LookupFreeQuantizerOptions } from './lfq.js';
export { GroupedLinear } from './projection.js';
export { GumbelQuantizer, type GumbelQuantizerOptions } from './gumbel-quantizer.js';
export { SimVQ, type SimVQOptions } from './simvq.js';
export { ResidualQuantizer, type ResidualQuantizerOptions, type ResidualQuantizerOutput } from './residual-quantizer.js';
export { chooseVertices, knnNeighbours, knnRegularizer, type KnnDistance, type KnnOptions } from './knn-regularizer.js';
export { entropy, perplexityRegularizer } from './perplexity.js';
export { CodeUsageTracker, type UsageStats, type UsageUpdate } from './metrics.js';
export { ALL_METHODS, METHODS, PAPER_METHODS, RESTARTABLE, createQuantizer, hasCodebook, isMethod, type Method, type MethodOptions } from './methods.js';
