/**
 * End-to-end learning: an MLP on a generated two-moons set reaches ≥ 95% test accuracy, and a
 * small conv net overfits a batch of MNIST-sized images (memorizes random labels).
 */
import { describe, expect, it } from 'vitest';
import { Generator, noGrad, tensor, type Tensor } from '@simplex-vq/tensor';
import {
  Adam,
  AdamW,
  Conv2d,
  Flatten,
  GroupNorm,
  LambdaLR,
  Linear,
  ReLU,
  Sequential,
  clipGradNorm,
  crossEntropy,
  warmupCosine,
} from '../src/index.js';

/** Two interleaved half circles (as sklearn's make_moons) with Gaussian noise; labels 0/1. */
function twoMoons(n: number, noise: number, g: Generator): { x: Tensor; y: Tensor } {
  const xs = new Float32Array(2 * n), ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const t = Math.PI * g.random();
    const [cx, cy] = label === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    xs[2 * i] = cx + noise * g.normal();
    xs[2 * i + 1] = cy + noise * g.normal();
    ys[i] = label;
  }
  return { x: tensor(xs, { shape: [n, 2] }), y: tensor(ys) };
}

const accuracy = (logits: Tensor, y: Tensor) => noGrad(() => logits.argmax(1).eq(y).float().mean().item());

describe('training', () => {
  it('an MLP learns two moons to ≥ 95% test accuracy', () => {
    const g = new Generator(0);
    const train = twoMoons(400, 0.1, g), test = twoMoons(400, 0.1, g);
    const model = new Sequential(new Linear(2, 32, { generator: g }), new ReLU(), new Linear(32, 32, { generator: g }), new ReLU(), new Linear(32, 2, { generator: g }));
    const opt = new AdamW(model.parameters(), { lr: 0.02, weightDecay: 1e-4 });
    const sched = new LambdaLR(opt, warmupCosine({ warmupSteps: 10, totalSteps: 300, minFactor: 0.05 }));
    const before = accuracy(model.forward(test.x), test.y);
    for (let step = 0; step < 300; step++) {
      opt.zeroGrad();
      crossEntropy(model.forward(train.x), train.y).backward();
      clipGradNorm(model.parameters(), 5);
      opt.step();
      sched.step();
    }
    const after = accuracy(model.forward(test.x), test.y);
    expect(before).toBeLessThan(0.9);
    expect(after).toBeGreaterThanOrEqual(0.95);
  });

  it('a small conv net overfits 8 images of 1×28×28 with random labels', () => {
    const g = new Generator(1);
    const n = 8;
    const images = tensor(Float32Array.from({ length: n * 28 * 28 }, () => g.random()), { shape: [n, 1, 28, 28] });
    const labels = tensor(Int32Array.from({ length: n }, () => g.randint(0, 10)));
    const model = new Sequential(
      new Conv2d(1, 8, 3, { stride: 2, padding: 1, generator: g }), // → 8×14×14
      new GroupNorm(2, 8),
      new ReLU(),
      new Conv2d(8, 16, 3, { stride: 2, padding: 1, generator: g }), // → 16×7×7
      new ReLU(),
      new Flatten(),
      new Linear(16 * 7 * 7, 10, { generator: g }),
    );
    const opt = new Adam(model.parameters(), { lr: 3e-3 });
    let first = 0, last = 0;
    for (let step = 0; step < 60; step++) {
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(images), labels);
      loss.backward();
      opt.step();
      if (step === 0) first = loss.item();
      last = loss.item();
    }
    expect(first).toBeGreaterThan(1.5); // chance level is ln 10 ≈ 2.3
    expect(last).toBeLessThan(0.05);
    expect(accuracy(model.forward(images), labels)).toBe(1);
  });
});
