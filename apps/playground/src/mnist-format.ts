/** The MNIST slice's file format, shared by the build step that writes it and the page that reads it. */
export const MNIST_SLICE_MAGIC = 'SVQM';
/** Digits in the slice: 512 × 785 bytes ≈ 400 kB. */
export const MNIST_SLICE_COUNT = 512;
/** Where the page finds it, relative to index.html. */
export const MNIST_SLICE_PATH = 'data/mnist-slice.bin';

export interface MnistSlice {
  /** [count, 1, height, width] pixels in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** Reads the bytes build/mnist-slice.ts wrote; a wrong or cut file raises an error saying so. */
export function parseMnistSlice(bytes: Uint8Array): MnistSlice {
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (bytes.length < 16 || magic !== MNIST_SLICE_MAGIC) throw new Error(`${MNIST_SLICE_PATH}: not an MNIST slice (magic "${magic}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  const height = view.getUint16(8, true);
  const width = view.getUint16(10, true);
  const pixels = count * height * width;
  if (bytes.length !== 16 + pixels + count) throw new Error(`${MNIST_SLICE_PATH}: ${bytes.length} bytes, expected ${16 + pixels + count} for ${count} digits of ${height}×${width}`);
  const images = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) images[i] = bytes[16 + i]! / 255;
  return { images, labels: bytes.slice(16 + pixels), count, height, width };
}
