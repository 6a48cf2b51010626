/** Layers that only reshape or pass through: Flatten and Identity. */
import type { Tensor } from '@simplex-vq/tensor';
import { Module } from './module.js';

/** Flattens axes startDim..endDim into one (default: all but the batch axis). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }

  override forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** Returns its input (a placeholder where a layer is optional). */
export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    return x;
  }
}
