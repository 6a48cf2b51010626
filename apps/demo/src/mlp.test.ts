import { describe, expect, it } from 'vitest';
import { Generator, noGrad } from '@simplex-vq/tensor';
import { createAdam, createMlp, crossEntropy } from './mlp.js';
import { twoSpirals } from './spirals.js';

describe('demo MLP', () => {
  it('learns the two spirals (test accuracy ≥ 90%)', () => {
    const g = new Generator(0);
    const train = twoSpirals(256, 0.02, g);
    const test = twoSpirals(256, 0.02, g);
    const model = createMlp([2, 32, 32, 2], g);
    const adam = createAdam(model.params, 0.02);
    let first = 0, last = 0;
    for (let step = 0; step < 300; step++) {
      adam.zeroGrad();
      const loss = crossEntropy(model.forward(train.x), train.y);
      loss.backward();
      adam.step();
      if (step === 0) first = loss.item();
      last = loss.item();
    }
    expect(last).toBeLessThan(first / 4);
    const acc = noGrad(() => model.forward(test.x).argmax(1).eq(test.y).float().mean().item());
    expect(acc).toBeGreaterThanOrEqual(0.9);
  });

  it('crossEntropy equals −log softmax at the label', () => {
    const g = new Generator(1);
    const { x, y } = twoSpirals(4, 0, g);
    const logits = x.matmul(x.transpose(0, 1)).slice(1, 0, 2);
    const p = logits.softmax(-1).toArray() as number[][];
    const labels = y.toArray() as number[];
    const expected = -labels.reduce((s, l, i) => s + Math.log(p[i]![l]!), 0) / labels.length;
    expect(crossEntropy(logits, y).item()).toBeCloseTo(expected, 5);
  });
});
