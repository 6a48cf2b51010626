/** usageChart: codes sorted by use, used/M and perplexity reported; usageSummary's arithmetic. */
import { describe, expect, it } from 'vitest';
import { usageChart, usageSummary } from '../src/index.js';
import { count, dark, decode, near, rgb } from './png.js';

describe('usageSummary', () => {
  it('counts used codes and the perplexity exp(H) of the usage distribution', () => {
    expect(usageSummary([5, 0, 5, 0])).toEqual({ codes: 4, used: 2, perplexity: 2 });
    const uniform = usageSummary(new Float32Array(16).fill(3));
    expect(uniform.used).toBe(16);
    expect(uniform.perplexity).toBeCloseTo(16, 10);
    expect(usageSummary([0, 0, 0])).toEqual({ codes: 3, used: 0, perplexity: 0 });
    expect(usageSummary([7])).toEqual({ codes: 1, used: 1, perplexity: 1 });
  });
});

describe('usageChart', () => {
  it('draws the codes sorted by use: bar heights never increase from left to right', async () => {
    const counts = [1, 3, 0, 10, 2, 0, 0, 5];
    const img = decode(await usageChart({ counts, scale: 1 }));
    expect([img.width, img.height]).toEqual([640, 360]);
    const isBar = near('#4c78a8', 6);
    const columns: number[] = [];
    for (let x = 0; x < img.width; x++) {
      let h = 0;
      for (let y = 0; y < img.height; y++) if (isBar(...rgb(img, x, y))) h++;
      if (h > 0) columns.push(h);
    }
    expect(columns.length).toBeGreaterThan(100);
    for (let i = 1; i < columns.length; i++) expect(columns[i]!).toBeLessThanOrEqual(columns[i - 1]! + 1);
    // Tallest (10) against the shortest used (1).
    expect(columns[0]! / columns[columns.length - 1]!).toBeGreaterThan(7);
    // A dashed red rule marks where the unused codes start, and title and subtitle are drawn.
    expect(count(img, near('#e45756', 20))).toBeGreaterThan(50);
    expect(count(img, dark, { x0: 0, y0: 0, x1: 300, y1: 50 })).toBeGreaterThan(200);
  });

  it('handles large codebooks, all-unused codebooks and a symlog axis', async () => {
    const big = Array.from({ length: 1024 }, (_, i) => (i % 3 === 0 ? 0 : 1000 / (1 + i)));
    expect(decode(await usageChart({ title: 'M = 1024', counts: big, logY: true })).width).toBe(1280);
    expect(decode(await usageChart({ counts: [0, 0, 0, 0], scale: 1 })).height).toBe(360);
  });

  it('rejects bad counts with errors naming them', async () => {
    await expect(usageChart({ counts: [] })).rejects.toThrow(/usageChart: counts is empty/);
    await expect(usageChart({ counts: [1, -2] })).rejects.toThrow(/usageChart: counts\[1\] must be a finite number >= 0, got -2/);
    await expect(usageChart({ counts: [1, Number.NaN] })).rejects.toThrow(/counts\[1\] must be a finite number >= 0, got NaN/);
    // @ts-expect-error counts must be numbers
    await expect(usageChart({ counts: 'abc' })).rejects.toThrow(/usageChart: counts must be an array of numbers/);
  });
});
