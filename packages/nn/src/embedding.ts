/**
 * Embedding: a lookup table [numEmbeddings, embeddingDim]; row i is the vector of index i.
 * The gradient adds each output row back onto the row it was read from (indexSelect's VJP).
 */
import { DTypeError, IndexError, defaultGenerator, tensor, zeros, type Generator, type Tensor } from '@simplex-vq/tensor';
import { normal } from './init.js';
import { Module, Parameter } from './module.js';

export interface EmbeddingOptions {
  /**
   * An index whose output is zero and which receives no gradient (padding tokens). Its row is
   * initialized to zeros, as in PyTorch.
   */
  paddingIdx?: number;
  /** Generator for the initial values, N(0, 1) (default: the global one). */
  generator?: Generator;
}

export class Embedding extends Module {
  declare readonly weight: Tensor;
  readonly paddingIdx: number | undefined;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: EmbeddingOptions = {},
  ) {
    super();
    let pad = opts.paddingIdx;
    if (pad !== undefined) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
        throw new IndexError('Embedding', `paddingIdx ${pad} is out of range for ${numEmbeddings} embeddings`);
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.registerParameter('weight', new Parameter(zeros([numEmbeddings, embeddingDim])));
    this.resetParameters(opts.generator ?? defaultGenerator());
  }

  resetParameters(generator?: Generator): void {
    normal(this.weight, 0, 1, { generator });
    if (this.paddingIdx !== undefined) {
      const v = this.weight.data() as Float32Array;
      v.fill(0, this.paddingIdx * this.embeddingDim, (this.paddingIdx + 1) * this.embeddingDim);
      this.weight.assign(tensor(v, { shape: this.weight.shape }));
    }
  }

  /** indices: int32 of any shape → [...indices.shape, embeddingDim]. */
  override forward(indices: Tensor): Tensor {
    if (indices.dtype !== 'int32') throw new DTypeError('Embedding', `indices must be int32, got ${indices.dtype}`);
    const flat = indices.data();
    for (let i = 0; i < flat.length; i++) {
      const j = flat[i]!;
      if (j < 0 || j >= this.numEmbeddings) throw new IndexError('Embedding', `index ${j} is out of range for ${this.numEmbeddings} embeddings`);
    }
    let out = this.weight.indexSelect(0, indices.reshape([indices.size]));
    if (this.paddingIdx !== undefined) out = out.mul(indices.reshape([indices.size, 1]).ne(this.paddingIdx).float());
    return out.reshape([...indices.shape, this.embeddingDim]);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === undefined ? '' : `, paddingIdx=${this.paddingIdx}`}`;
  }
}
