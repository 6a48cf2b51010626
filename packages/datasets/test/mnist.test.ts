import { describe, expect, it } from 'vitest';
import { Batcher, gatherImages, loadMnist } from '../src/index.js';

describe('loadMnist', () => {
  const { train, test } = loadMnist();

  it('has a fixed 9,000 / 1,000 split of 28×28 images in [0, 1]', () => {
    expect(train.count).toBe(9000);
    expect(test.count).toBe(1000);
    expect(train.images.length).toBe(9000 * 784);
    let min = Infinity, max = -Infinity;
    for (const v of test.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9); // real digits, not blank
  });

  it('balances classes: 100 test images per digit, interleaved', () => {
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(100));
    expect(Array.from(test.labels.subarray(0, 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('shares no image between train and test', () => {
    const key = (imgs: Float32Array, i: number) => Array.from(imgs.subarray(i * 784, (i + 1) * 784)).join(',');
    const trainKeys = new Set(Array.from({ length: 2000 }, (_, i) => key(train.images, i)));
    for (let i = 0; i < test.count; i++) expect(trainKeys.has(key(test.images, i))).toBe(false);
  });

  it('gathers images by index', () => {
    const g = gatherImages(test, [3, 0]);
    expect(Array.from(g.subarray(0, 784))).toEqual(Array.from(test.images.subarray(3 * 784, 4 * 784)));
    expect(() => gatherImages(test, [1000])).toThrow(/out of range/);
  });
});

describe('Batcher', () => {
  it('visits every example once per epoch, in a seeded order', () => {
    const b = new Batcher(10, 3, { seed: 1, dropLast: false });
    const seen = [...b.next(), ...b.next(), ...b.next(), ...b.next()];
    expect(seen.slice().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again = new Batcher(10, 3, { seed: 1, dropLast: false });
    expect([...again.next()]).toEqual(seen.slice(0, 3));
    expect([...new Batcher(10, 3, { seed: 2 }).next()]).not.toEqual(seen.slice(0, 3));
  });

  it('resumes exactly from a saved state', () => {
    const a = new Batcher(50, 8, { seed: 3 });
    for (let i = 0; i < 9; i++) a.next(); // into the second epoch
    const state = a.getState();
    const rest = Array.from({ length: 5 }, () => [...a.next()]);
    const b = new Batcher(50, 8, { seed: 3 });
    b.setState(state);
    expect(Array.from({ length: 5 }, () => [...b.next()])).toEqual(rest);
  });

  it('drops the incomplete last batch by default', () => {
    const b = new Batcher(10, 4, { shuffle: false });
    expect([...b.next()]).toEqual([0, 1, 2, 3]);
    expect([...b.next()]).toEqual([4, 5, 6, 7]);
    expect([...b.next()]).toEqual([0, 1, 2, 3]);
    expect(() => new Batcher(3, 4)).toThrow(/batchSize 4 is larger than the 3 examples/);
  });
});
