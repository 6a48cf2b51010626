/**
 * Dropout: in training, zeroes each element with probability p and scales the rest by 1/(1 − p),
 * so the expected value is unchanged; in eval() it is the identity.
 *
 * The masks come from the layer's own Generator, registered with the module so checkpoints save
 * its state and a resumed run draws the same masks. Without one given, the layer seeds a new
 * generator from the global one at construction (deterministic after `manualSeed`, and
 * independent between layers).
 */
import { Generator, defaultGenerator, tensor, type Tensor } from '@simplex-vq/tensor';
import { Module } from './module.js';

export interface DropoutOptions {
  /** Draw masks from this generator (it may be shared). */
  generator?: Generator;
  /** Or seed a new generator for this layer. */
  seed?: number;
}

export class Dropout extends Module {
  readonly generator: Generator;

  constructor(
    readonly p = 0.5,
    opts: DropoutOptions = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.generator = opts.generator ?? new Generator(opts.seed ?? defaultGenerator().nextUint32());
    this.registerGenerator('generator', this.generator);
  }

  override forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const keep = 1 / (1 - this.p);
    const mask = new Float32Array(x.size);
    for (let i = 0; i < mask.length; i++) mask[i] = this.generator.random() < this.p ? 0 : keep;
    return x.mul(tensor(mask, { shape: x.shape }));
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
