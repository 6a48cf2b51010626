/** Elementwise activations as modules (for Sequential), each a one-line forward. */
import type { Tensor } from '@simplex-vq/tensor';
import { Module } from './module.js';

/** max(x, 0) */
export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/**
 * x·Φ(x) with Φ the standard normal CDF (exact, via erf), or with `approximate: 'tanh'`
 * ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
 */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor(opts: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    this.approximate = opts.approximate ?? 'none';
  }

  override forward(x: Tensor): Tensor {
    if (this.approximate === 'none') return x.gelu();
    const inner = x.add(x.square().mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return x.mul(inner.tanh().add(1)).mul(0.5);
  }

  override extraRepr(): string {
    return this.approximate === 'none' ? '' : `approximate='${this.approximate}'`;
  }
}

/** x·σ(x) (also called swish). */
export class SiLU extends Module {
  override forward(x: Tensor): Tensor {
    return x.mul(x.sigmoid());
  }
}

export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
