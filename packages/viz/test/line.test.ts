/** lineChart: size, a legend with one colour per series in order, the title drawn, and argument errors. */
import { describe, expect, it } from 'vitest';
import { lineChart, type LineSeries } from '../src/index.js';
import { count, dark, decode, near, nonWhite } from './png.js';

const steps = Array.from({ length: 50 }, (_, i) => i * 10);
const series: LineSeries[] = [
  { name: 'none', x: steps, y: steps.map((s) => 10 + s / 20) },
  { name: 'knn-ce', x: steps, y: Float64Array.from(steps, (s) => 40 + s / 10) },
];
const BLUE = '#4c78a8';
const ORANGE = '#f58518';

describe('lineChart', () => {
  it('returns a PNG of (scale·width)×(scale·height) with both series in the theme colours', async () => {
    const img = decode(await lineChart({ title: 'Code usage', xLabel: 'step', yLabel: 'codes used', series }));
    expect([img.width, img.height]).toEqual([1280, 800]);
    expect(count(img, nonWhite)).toBeGreaterThan(20_000);
    expect(count(img, near(BLUE))).toBeGreaterThan(500);
    expect(count(img, near(ORANGE))).toBeGreaterThan(500);
    // The legend sits on the right: series colours and label text appear there.
    const legend = { x0: img.width * 0.8, y0: 0, x1: img.width, y1: img.height * 0.5 };
    expect(count(img, near(BLUE), legend)).toBeGreaterThan(20);
    expect(count(img, near(ORANGE), legend)).toBeGreaterThan(20);
    expect(count(img, dark, legend)).toBeGreaterThan(50);
  });

  it('draws the title text in the top-left corner', async () => {
    const base = { xLabel: 'step', yLabel: 'codes used', series, width: 400, height: 260, scale: 1 };
    const titled = decode(await lineChart({ ...base, title: 'A long title for the chart' }));
    const plain = decode(await lineChart(base));
    expect([titled.width, titled.height]).toEqual([400, 260]);
    const titleArea = { x0: 0, y0: 0, x1: 300, y1: 28 };
    expect(count(titled, dark, titleArea)).toBeGreaterThan(150);
    expect(count(titled, dark, titleArea)).toBeGreaterThan(count(plain, dark, titleArea) + 100);
  });

  it('handles yDomain, logY, single points, and skips non-finite values', async () => {
    const img = decode(
      await lineChart({
        xLabel: 'step',
        yLabel: 'loss',
        logY: true,
        yDomain: [0.01, 10],
        series: [
          { name: 'a', x: [0, 1, 2, 3], y: [1, 0.5, Number.NaN, 0.1] },
          { name: 'b', x: [0], y: [2] },
          { name: 'c', x: [0, 1], y: [0, 3] }, // 0 is skipped on a log axis
        ],
        scale: 1,
      }),
    );
    expect([img.width, img.height]).toEqual([640, 400]);
    expect(count(img, near(BLUE))).toBeGreaterThan(20);
  });

  it('rejects bad arguments with errors naming them', async () => {
    const ok = { xLabel: 'x', yLabel: 'y', series };
    await expect(lineChart({ ...ok, series: [] })).rejects.toThrow(/lineChart: series is empty/);
    await expect(lineChart({ ...ok, series: [series[0]!, { name: 'bad', x: [1, 2, 3], y: [1, 2] }] })).rejects.toThrow(
      /lineChart: series\[1\] \("bad"\): x has 3 values but y has 2/,
    );
    await expect(lineChart({ ...ok, series: [{ name: 'e', x: [], y: [] }] })).rejects.toThrow(/series\[0\] \("e"\) has no points/);
    await expect(lineChart({ ...ok, series: [series[0]!, series[0]!] })).rejects.toThrow(/series\[1\] \("none"\): duplicate series name/);
    await expect(lineChart({ ...ok, series: [{ name: '', x: [1], y: [1] }] })).rejects.toThrow(/series\[0\]\.name must be a non-empty string/);
    await expect(lineChart({ ...ok, yDomain: [5, 1] })).rejects.toThrow(/lineChart: yDomain must be finite numbers with min < max/);
    await expect(lineChart({ ...ok, logY: true, yDomain: [0, 1] })).rejects.toThrow(/yDomain must be positive when logY/);
    await expect(lineChart({ ...ok, series: [{ name: 'nan', x: [1, 2], y: [Number.NaN, Number.NaN] }] })).rejects.toThrow(
      /lineChart: series has no finite \(x, y\) point to draw/,
    );
    await expect(lineChart({ ...ok, width: -1 })).rejects.toThrow(/lineChart: width must be a positive finite number/);
    // @ts-expect-error xLabel is required
    await expect(lineChart({ yLabel: 'y', series })).rejects.toThrow(/lineChart: xLabel must be a string/);
  });
});
