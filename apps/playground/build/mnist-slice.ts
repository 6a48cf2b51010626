/**
 * Build time (Node): a slice of MNIST as one small binary file the page fetches, made from the
 * `mnist` package through @simplex-vq/datasets (the same split the experiments train on). Never
 * committed: `vite build` writes it into dist/data/.
 *
 * Layout (little-endian), read back by src/mnist-slice.ts:
 *   magic "SVQM" · u32 count · u16 height · u16 width · u32 reserved 0   (16 bytes)
 *   count·height·width pixels, u8 (value · 255, rounded)
 *   count labels, u8
 */
import { loadMnist } from '@simplex-vq/datasets';
import { MNIST_SLICE_COUNT, MNIST_SLICE_MAGIC } from '../src/mnist-format.js';

/** The first `count` training digits (the split interleaves the ten classes, so every class is there). */
export function mnistSliceBytes(count = MNIST_SLICE_COUNT): Uint8Array {
  const { train } = loadMnist();
  if (count > train.count) throw new RangeError(`the MNIST training split has ${train.count} digits, not ${count}`);
  const pixels = train.height * train.width;
  const out = new Uint8Array(16 + count * pixels + count);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = MNIST_SLICE_MAGIC.charCodeAt(i);
  view.setUint32(4, count, true);
  view.setUint16(8, train.height, true);
  view.setUint16(10, train.width, true);
  for (let i = 0; i < count * pixels; i++) out[16 + i] = Math.round(train.images[i]! * 255);
  for (let i = 0; i < count; i++) out[16 + count * pixels + i] = train.labels[i]!;
  return out;
}
