/** A generated two-class "two spirals" set: points on two interleaved arms with Gaussian noise. */
import { Generator, tensor, type Tensor } from '@simplex-vq/tensor';

export interface Dataset {
  /** [n, 2] float32 coordinates. */
  x: Tensor;
  /** [n] int32 labels, 0 or 1. */
  y: Tensor;
}

export function twoSpirals(n: number, noise: number, generator: Generator): Dataset {
  const xs = new Float32Array(n * 2);
  const ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const t = 0.25 + 2.75 * Math.PI * generator.random(); // angle along the arm
    const r = t / (3 * Math.PI); // radius grows with the angle
    const phase = label * Math.PI;
    xs[2 * i] = r * Math.cos(t + phase) + noise * generator.normal();
    xs[2 * i + 1] = r * Math.sin(t + phase) + noise * generator.normal();
    ys[i] = label;
  }
  return { x: tensor(xs, { shape: [n, 2] }), y: tensor(ys) };
}
