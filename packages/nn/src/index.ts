/**
 * @simplex-vq/nn — layers, losses, optimizers, schedules and checkpoints on @simplex-vq/tensor,
 * named like torch.nn (in camelCase) so a PyTorch user can guess them.
 *
 * Where to read: module.ts (Module, Parameter, state dicts), the layer files (one concept each),
 * losses.ts, optim/ (SGD, Adam/AdamW, schedules, clipping), safetensors.ts and checkpoint.ts.
 *
 * Everything here loads in a browser as well as in Node: nothing imports a Node module. Checkpoint
 * files (node:fs) are in the separate entry '@simplex-vq/nn/node' (node/index.ts).
 */
export { Module, Parameter, functionalCall, type LoadStateDictResult, type StateDict } from './module.js';
export { CheckpointError, ModuleError, StateDictError } from './errors.js';
export * as init from './init.js';
export type { InitOptions, KaimingOptions, Nonlinearity } from './init.js';

export { Linear, type LinearOptions } from './linear.js';
export {
  Conv1d,
  Conv2d,
  ConvTranspose1d,
  ConvTranspose2d,
  type Conv1dLayerOptions,
  type Conv2dLayerOptions,
  type ConvTranspose1dLayerOptions,
  type ConvTranspose2dLayerOptions,
} from './conv.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { GroupNorm, LayerNorm, type GroupNormOptions, type LayerNormOptions } from './norm.js';
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from './batchnorm.js';
export { Dropout, type DropoutOptions } from './dropout.js';
export { GELU, ReLU, SiLU, Sigmoid, Tanh } from './activations.js';
export { Flatten, Identity } from './flatten.js';
export { ModuleList, Sequential, type TensorModule } from './sequential.js';
export { MASKED_SCORE, MultiheadSelfAttention, type AttentionForwardOptions, type MultiheadSelfAttentionOptions } from './attention.js';
export { TransformerEncoderLayer, type TransformerEncoderLayerOptions } from './transformer.js';
export { ResidualBlock, type ResidualBlockOptions } from './residual.js';

export {
  binaryCrossEntropyWithLogits,
  cosineSimilarity,
  crossEntropy,
  mseLoss,
  type CrossEntropyOptions,
  type Reduction,
} from './losses.js';

export { Optimizer, type OptimizerStateDict, type ParamGroup, type ParamState, type ParamsInput } from './optim/optimizer.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export { Adam, AdamW, type AdamOptions } from './optim/adam.js';
export {
  LambdaLR,
  linearWarmup,
  warmupCosine,
  warmupLinear,
  type LRSchedulerState,
  type Schedule,
  type WarmupDecayOptions,
} from './optim/schedule.js';
export { clipGradNorm } from './optim/clip.js';

export { parseSafetensors, serializeSafetensors, type SafetensorsContents, type SafetensorsDType } from './safetensors.js';
// Checkpoints as bytes (any page, worker or Node); as files: the '@simplex-vq/nn/node' entry.
export {
  CHECKPOINT_FORMAT,
  parseCheckpoint,
  restoreCheckpoint,
  serializeCheckpoint,
  type CheckpointContents,
  type CheckpointTargets,
  type LoadedCheckpoint,
} from './checkpoint.js';
