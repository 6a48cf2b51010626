/**
 * @simplex-vq/vq — vector quantizers and their metrics.
 *
 * Where to read: knn-regularizer.ts (the paper's method, in forty lines), smoothed-quantizer.ts
 * (smoothed VQ), then the baselines (vector-quantizer.ts, gumbel-quantizer.ts, simvq.ts,
 * perplexity.ts), methods.ts (the paper's method names), metrics.ts (code usage and perplexities).
 */
export { Quantizer, squaredDistances, type QuantizerBaseOptions, type QuantizerOutput } from './quantizer.js';
export { SmoothedQuantizer, type Regularizer, type SmoothedQuantizerOptions } from './smoothed-quantizer.js';
export { VectorQuantizer, kmeans, type VectorQuantizerOptions } from './vector-quantizer.js';
export { GumbelQuantizer, type GumbelQuantizerOptions } from './gumbel-quantizer.js';
export { SimVQ, type SimVQOptions } from './simvq.js';
export { chooseVertices, knnNeighbours, knnRegularizer, type KnnDistance, type KnnOptions } from './knn-regularizer.js';
export { entropy, perplexityRegularizer } from './perplexity.js';
export { CodeUsageTracker, type UsageStats, type UsageUpdate } from './metrics.js';
export { METHODS, createQuantizer, isMethod, type Method, type MethodOptions } from './methods.js';
