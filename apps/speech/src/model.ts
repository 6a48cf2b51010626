/**
 * A wav2vec 2.0-style model at laptop scale.
 *
 *   waveform [B, L] (16 kHz) → feature encoder: 6 strided Conv1d (total stride 160: a frame every
 *   10 ms; GroupNorm after the first, GELU after each) → z [B, T, C]
 *   z → LayerNorm → Linear → masked spans replaced by a learned embedding → + convolutional
 *   positional embedding → transformer encoder (pre-norm) → context c [B, T, d]
 *   z (unmasked) → quantizer (any method) → targets q [B, T, C] → Linear → [B, T, e]
 *   c → Linear → [B, T, e]; the contrastive loss compares them at the masked steps.
 */
import { Generator, zeros, type Tensor } from '@simplex-vq/tensor';
import { Conv1d, GELU, GroupNorm, LayerNorm, Linear, Module, ModuleList, Parameter, TransformerEncoderLayer, init } from '@simplex-vq/nn';
import { createQuantizer, hasCodebook, type Method, type Quantizer, type QuantizerOutput } from '@simplex-vq/vq';

export interface SpeechModelConfig {
  method: Method;
  codebookSize: number;
  groups: number;
  /** Channels of the feature encoder (C, what the quantizer sees). */
  convChannels: number;
  /** Width of the transformer. */
  dModel: number;
  layers: number;
  heads: number;
  ffDim: number;
  /** Dimension both sides of the contrastive loss are projected to. */
  finalDim: number;
  k: number;
  shards: number;
  /** How the codebook starts (methods with one): from the first batch's features, or N(0, initStd²). */
  init?: 'data' | 'normal';
  initStd?: number;
}

/** (kernel, stride) of the feature encoder's convolutions: total stride 5·2⁵ = 160 samples. */
export const CONV_LAYERS: Array<[number, number]> = [[10, 5], [3, 2], [3, 2], [3, 2], [3, 2], [2, 2]];

/** Frames the feature encoder makes from `samples` samples. */
export function framesOf(samples: number): number {
  let n = samples;
  for (const [k, s] of CONV_LAYERS) n = Math.floor((n - k) / s) + 1;
  return Math.max(n, 0);
}

export interface SpeechForward {
  /** Context projections [B, T, e]. */
  context: Tensor;
  /** Target projections [B, T, e] (from the quantized features). */
  targets: Tensor;
  quantizer: QuantizerOutput;
  /** Encoder features z [B, T, C] (before masking). */
  features: Tensor;
}

export class SpeechModel extends Module {
  declare readonly convs: ModuleList<Conv1d>;
  declare readonly convNorm: GroupNorm;
  declare readonly featureNorm: LayerNorm;
  declare readonly featureProj: Linear;
  declare readonly maskEmbedding: Tensor;
  declare readonly posConv: Conv1d;
  declare readonly layers: ModuleList<TransformerEncoderLayer>;
  declare readonly finalNorm: LayerNorm;
  declare readonly quantizer: Quantizer;
  declare readonly projectTargets: Linear;
  declare readonly projectContext: Linear;
  private readonly gelu = new GELU();

  constructor(readonly config: SpeechModelConfig, generator: Generator) {
    super();
    const g = { generator };
    const C = config.convChannels, d = config.dModel;
    this.registerModule('convs', new ModuleList(CONV_LAYERS.map(([k, s], i) => new Conv1d(i === 0 ? 1 : C, C, k, { stride: s, bias: false, ...g }))));
    this.registerModule('convNorm', new GroupNorm(C, C));
    this.registerModule('featureNorm', new LayerNorm(C));
    this.registerModule('featureProj', new Linear(C, d, g));
    this.registerParameter('maskEmbedding', new Parameter(init.uniform(zeros([d]), 0, 1, g)));
    // The convolutional positional embedding (kernel 17, 4 groups, same length out).
    this.registerModule('posConv', new Conv1d(d, d, 17, { padding: 8, groups: 4, ...g }));
    this.registerModule('layers', new ModuleList(Array.from({ length: config.layers }, () => new TransformerEncoderLayer(d, config.heads, config.ffDim, { dropout: 0.1, activation: 'gelu', ...g }))));
    this.registerModule('finalNorm', new LayerNorm(d));
    this.registerModule('quantizer', createQuantizer(config.method, {
      dim: C,
      codebookSize: config.codebookSize,
      groups: config.groups,
      k: config.k,
      shards: config.shards,
      logits: config.method === 'gumbel' ? undefined : 'distance',
      ...(hasCodebook(config.method) ? { init: config.init, initStd: config.initStd } : {}),
      generator: new Generator(generator.nextUint32()),
    }));
    this.registerModule('projectTargets', new Linear(C, config.finalDim, g));
    this.registerModule('projectContext', new Linear(d, config.finalDim, g));
  }

  /** Encoder features z [B, T, C] of waveforms [B, L]. */
  encode(wave: Tensor): Tensor {
    let h = wave.unsqueeze(1); // [B, 1, L]
    let i = 0;
    for (const conv of this.convs) {
      h = conv.forward(h);
      if (i++ === 0) h = this.convNorm.forward(h);
      h = this.gelu.forward(h);
    }
    return h.permute([0, 2, 1]); // [B, T, C]
  }

  /**
   * `mask` [B, T] (float, 1 = masked) marks the steps whose input is replaced; `padding` [B, T]
   * (1 = past the end of the utterance) hides padded steps from attention.
   */
  override forward(wave: Tensor, mask: Tensor, padding?: Tensor): SpeechForward {
    const features = this.featureNorm.forward(this.encode(wave));
    const context = this.projectContext.forward(this.contextOf(features, mask, padding));
    const quantizer = this.quantizer.forward(features);
    const targets = this.projectTargets.forward(quantizer.quantized);
    return { context, targets, quantizer, features };
  }

  /** The transformer's output [B, T, d] for normalized features, with `mask`ed steps replaced. */
  contextOf(features: Tensor, mask: Tensor | null, padding?: Tensor): Tensor {
    let x = this.featureProj.forward(features); // [B, T, d]
    if (mask) {
      const m = mask.unsqueeze(-1);
      x = x.mul(m.neg().add(1)).add(m.mul(this.maskEmbedding));
    }
    const pos = this.gelu.forward(this.posConv.forward(x.permute([0, 2, 1]))).permute([0, 2, 1]);
    x = x.add(pos);
    for (const layer of this.layers) x = layer.forward(x, padding ? { keyPaddingMask: padding } : {});
    return this.finalNorm.forward(x);
  }

  /** Unmasked context features [B, T, d] of waveforms: what the linear probe reads. */
  features(wave: Tensor, padding?: Tensor): Tensor {
    return this.contextOf(this.featureNorm.forward(this.encode(wave)), null, padding);
  }
}
