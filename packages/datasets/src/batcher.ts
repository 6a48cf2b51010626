/**
 * Seeded, resumable mini-batches. Each epoch visits every example once in an order drawn from
 * (seed, epoch) alone, so a run stopped at any batch resumes from `{ epoch, position }` with
 * exactly the batches it would have seen.
 */
import { Generator } from '@simplex-vq/tensor';

export interface BatcherState {
  epoch: number;
  /** Examples of the current epoch already served. */
  position: number;
}

export interface BatcherOptions {
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Seed of the epoch orders (default 0). */
  seed?: number;
  /** Skip an incomplete final batch (default true, so every batch has batchSize examples). */
  dropLast?: boolean;
}

export class Batcher {
  private order: Int32Array;
  private state: BatcherState = { epoch: 0, position: 0 };
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly dropLast: boolean;

  constructor(
    readonly count: number,
    readonly batchSize: number,
    opts: BatcherOptions = {},
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    this.shuffle = opts.shuffle ?? true;
    this.seed = opts.seed ?? 0;
    this.dropLast = opts.dropLast ?? true;
    if (this.dropLast && batchSize > count) throw new RangeError(`batchSize ${batchSize} is larger than the ${count} examples`);
    this.order = this.orderOf(0);
  }

  /** The visiting order of an epoch. */
  private orderOf(epoch: number): Int32Array {
    const order = Int32Array.from({ length: this.count }, (_, i) => i);
    if (!this.shuffle) return order;
    const g = new Generator(this.seed * 1_000_003 + epoch);
    for (let i = this.count - 1; i > 0; i--) {
      const j = g.randint(0, i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    return order;
  }

  /** The indices of the next batch. */
  next(): Int32Array {
    let { epoch, position } = this.state;
    const remaining = this.count - position;
    if (remaining === 0 || (this.dropLast && remaining < this.batchSize)) {
      epoch++;
      position = 0;
      this.order = this.orderOf(epoch);
    }
    const size = Math.min(this.batchSize, this.count - position);
    const batch = this.order.slice(position, position + size);
    this.state = { epoch, position: position + size };
    return batch;
  }

  getState(): BatcherState {
    return { ...this.state };
  }

  setState(state: BatcherState): void {
    if (state.position < 0 || state.position > this.count) throw new RangeError(`position ${state.position} is out of range for ${this.count} examples`);
    this.state = { ...state };
    this.order = this.orderOf(state.epoch);
  }
}
