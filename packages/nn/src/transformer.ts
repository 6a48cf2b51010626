/**
 * A pre-norm transformer encoder layer (torch.nn.TransformerEncoderLayer with norm_first=True,
 * batch_first=True):
 *
 *   x = x + dropout1(selfAttn(norm1(x)))
 *   x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))
 *
 * Normalizing before each block (rather than after the residual sum) keeps the residual path an
 * identity, which trains stably without a learning-rate warm-up being critical.
 */
import { defaultGenerator, type Generator, type Tensor } from '@simplex-vq/tensor';
import { GELU, ReLU } from './activations.js';
import { MultiheadSelfAttention, type AttentionForwardOptions } from './attention.js';
import { Dropout } from './dropout.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { LayerNorm } from './norm.js';

export interface TransformerEncoderLayerOptions {
  /** Dropout after attention, inside and after the feed-forward block (default 0.1, as PyTorch). */
  dropout?: number;
  /** The feed-forward activation (default 'relu', as PyTorch). */
  activation?: 'relu' | 'gelu';
  /** LayerNorm epsilon (default 1e-5). */
  layerNormEps?: number;
  /** Biases in the projections and the layer norms (default true). */
  bias?: boolean;
  /** Generator for the initial values and the dropout seeds (default: the global one). */
  generator?: Generator;
}

export class TransformerEncoderLayer extends Module {
  declare readonly selfAttn: MultiheadSelfAttention;
  declare readonly linear1: Linear;
  declare readonly linear2: Linear;
  declare readonly norm1: LayerNorm;
  declare readonly norm2: LayerNorm;
  declare readonly dropout: Dropout;
  declare readonly dropout1: Dropout;
  declare readonly dropout2: Dropout;
  declare readonly activation: ReLU | GELU;

  constructor(
    readonly dModel: number,
    readonly nHead: number,
    readonly dimFeedforward = 2048,
    opts: TransformerEncoderLayerOptions = {},
  ) {
    super();
    const generator = opts.generator ?? defaultGenerator();
    const p = opts.dropout ?? 0.1;
    const bias = opts.bias ?? true;
    const norm = { eps: opts.layerNormEps ?? 1e-5, bias };
    this.registerModule('selfAttn', new MultiheadSelfAttention(dModel, nHead, { dropout: p, bias, generator }));
    this.registerModule('linear1', new Linear(dModel, dimFeedforward, { bias, generator }));
    this.registerModule('dropout', new Dropout(p, { seed: generator.nextUint32() }));
    this.registerModule('linear2', new Linear(dimFeedforward, dModel, { bias, generator }));
    this.registerModule('norm1', new LayerNorm(dModel, norm));
    this.registerModule('norm2', new LayerNorm(dModel, norm));
    this.registerModule('dropout1', new Dropout(p, { seed: generator.nextUint32() }));
    this.registerModule('dropout2', new Dropout(p, { seed: generator.nextUint32() }));
    this.registerModule('activation', (opts.activation ?? 'relu') === 'gelu' ? new GELU() : new ReLU());
  }

  /** x [B, T, dModel] → [B, T, dModel]; the options go to the attention (padding mask, causality). */
  override forward(x: Tensor, opts: AttentionForwardOptions = {}): Tensor {
    x = x.add(this.dropout1.forward(this.selfAttn.forward(this.norm1.forward(x), opts)));
    const h = this.dropout.forward(this.activation.forward(this.linear1.forward(this.norm2.forward(x))));
    return x.add(this.dropout2.forward(this.linear2.forward(h)));
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, nHead=${this.nHead}, dimFeedforward=${this.dimFeedforward}`;
  }
}
