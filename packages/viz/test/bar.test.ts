/** barChart: bar heights proportional to values, error bars drawn, grouped bars coloured, argument errors. */
import { describe, expect, it } from 'vitest';
import { barChart } from '../src/index.js';
import { count, type Decoded, dark, decode, near, rgb } from './png.js';

const BLUE = '#4c78a8';

/** Horizontal runs of columns that contain the colour, with each run's tallest extent in that colour. */
function barsOf(img: Decoded, color: string): Array<{ x0: number; x1: number; height: number }> {
  const is = near(color, 6);
  const heights: number[] = [];
  for (let x = 0; x < img.width; x++) {
    let h = 0;
    for (let y = 0; y < img.height; y++) if (is(...rgb(img, x, y))) h++;
    heights.push(h);
  }
  const runs: Array<{ x0: number; x1: number; height: number }> = [];
  for (let x = 0; x < img.width; x++) {
    if (heights[x]! > 5) {
      const last = runs[runs.length - 1];
      if (last && last.x1 === x) {
        last.x1 = x + 1;
        last.height = Math.max(last.height, heights[x]!);
      } else runs.push({ x0: x, x1: x + 1, height: heights[x]! });
    }
  }
  return runs.filter((r) => r.x1 - r.x0 > 3);
}

describe('barChart', () => {
  it('draws one bar per entry, heights proportional to the values from a zero baseline', async () => {
    const img = decode(
      await barChart({
        title: 'Perplexity',
        xLabel: 'method',
        yLabel: 'perplexity',
        bars: [
          { label: 'none', value: 10 },
          { label: 'ema', value: 20 },
          { label: 'knn-ce', value: 40 },
        ],
        scale: 1,
      }),
    );
    expect([img.width, img.height]).toEqual([640, 400]);
    const bars = barsOf(img, BLUE);
    expect(bars).toHaveLength(3);
    const [a, b, c] = bars.map((r) => r.height);
    expect(b! / a!).toBeCloseTo(2, 1);
    expect(c! / a!).toBeCloseTo(4, 1);
    expect(count(img, dark, { x0: 0, y0: 0, x1: 200, y1: 30 })).toBeGreaterThan(50); // title
  });

  it('adds error bars (value ± error) in dark ink', async () => {
    const base = { xLabel: 'method', yLabel: 'used codes', scale: 1 };
    const plain = decode(await barChart({ ...base, bars: [{ label: 'a', value: 5 }, { label: 'b', value: 7 }] }));
    const errs = decode(await barChart({ ...base, bars: [{ label: 'a', value: 5, error: 1 }, { label: 'b', value: 7, error: 2 }] }));
    const plot = { x0: 80, y0: 0, x1: 640, y1: 340 };
    expect(count(errs, dark, plot)).toBeGreaterThan(count(plain, dark, plot) + 40);
  });

  it('groups bars along x and colours them by label, with a legend', async () => {
    const methods = ['none', 'perplexity', 'knn-ce'];
    const bars = ['M = 64', 'M = 256'].flatMap((group, g) => methods.map((label, m) => ({ label, group, value: 10 + 5 * m + g, error: 1 })));
    const img = decode(await barChart({ xLabel: 'codebook size', yLabel: 'used codes', bars, scale: 1 }));
    expect(barsOf(img, BLUE).filter((r) => r.height > 50)).toHaveLength(2);
    expect(barsOf(img, '#f58518').filter((r) => r.height > 50)).toHaveLength(2);
    expect(barsOf(img, '#e45756').filter((r) => r.height > 50)).toHaveLength(2);
    const legend = { x0: 520, y0: 0, x1: 640, y1: 200 };
    expect(count(img, dark, legend)).toBeGreaterThan(50);
  });

  it('draws labelled horizontal rules at their values, across the plot', async () => {
    const base = { xLabel: 'method', yLabel: 'accuracy', bars: [{ label: 'a', value: 1 }, { label: 'b', value: 0.8 }], yDomain: [0, 1] as [number, number], scale: 1 };
    const plain = decode(await barChart(base));
    const ruled = decode(await barChart({ ...base, rules: [{ value: 0.25, label: 'floor' }, { value: 0.5, label: 'chance' }] }));
    const grey = near('#555555', 20);
    // The rows where most of the plot's width is rule-grey: two lines, none without rules.
    const rows = (img: Decoded) => Array.from({ length: img.height }, (_, y) => y).filter((y) => count(img, grey, { x0: 0, y0: y, x1: img.width, y1: y + 1 }) > img.width * 0.3);
    expect(rows(plain)).toEqual([]);
    const lines = rows(ruled).filter((y, i, all) => i === 0 || all[i - 1] !== y - 1); // first row of each line
    expect(lines).toHaveLength(2);
    // The tall bar (value 1) spans the y axis from 1 down to 0: the rules sit at 1/2 and 1/4 of it.
    const bar = barsOf(ruled, BLUE)[0]!;
    let top = 0;
    while (!near(BLUE, 6)(...rgb(ruled, Math.floor((bar.x0 + bar.x1) / 2), top))) top++;
    const zero = top + bar.height;
    expect(Math.abs(lines[0]! - (zero - 0.5 * bar.height))).toBeLessThanOrEqual(2);
    expect(Math.abs(lines[1]! - (zero - 0.25 * bar.height))).toBeLessThanOrEqual(2);
    // Their labels are drawn near the right end.
    const right = { x0: ruled.width - 120, y0: 0, x1: ruled.width, y1: ruled.height };
    expect(count(ruled, dark, right)).toBeGreaterThan(count(plain, dark, right) + 20);
  });

  it('rejects bad arguments with errors naming them', async () => {
    const ok = { xLabel: 'x', yLabel: 'y' };
    await expect(barChart({ ...ok, bars: [] })).rejects.toThrow(/barChart: bars is empty/);
    await expect(barChart({ ...ok, bars: [{ label: 'a', value: Number.NaN }] })).rejects.toThrow(/bars\[0\] \("a"\)\.value must be a finite number/);
    await expect(barChart({ ...ok, bars: [{ label: 'a', value: 1, error: -1 }] })).rejects.toThrow(/bars\[0\] \("a"\)\.error must be a finite number >= 0/);
    await expect(barChart({ ...ok, bars: [{ label: 'a', value: 1, group: 'g' }, { label: 'b', value: 1 }] })).rejects.toThrow(
      /bars\[1\] \("b"\)\.group: either every bar has a group or none has/,
    );
    await expect(barChart({ ...ok, bars: [{ label: 'a', value: 1 }, { label: 'a', value: 2 }] })).rejects.toThrow(/bars\[1\] \("a"\): duplicate bar/);
    await expect(barChart({ ...ok, bars: [{ label: '', value: 1 }] })).rejects.toThrow(/bars\[0\]\.label must be a non-empty string/);
    await expect(barChart({ ...ok, bars: [{ label: 'a', value: 1 }], rules: [{ value: Number.NaN, label: 'chance' }] })).rejects.toThrow(/barChart: rules\[0\]\.value must be a finite number/);
  });
});
