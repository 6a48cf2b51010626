/** simplexPanels: triangle geometry, points at their barycentric positions, panels side by side, errors. */
import { describe, expect, it } from 'vitest';
import { barycentricToXY, simplexPanels, simplexTriangle, type SimplexPanelsOptions } from '../src/index.js';
import { count, dark, decode, diffCentroid, near } from './png.js';

const titles = ['none', 'perplexity', 'knn-l2', 'knn-ce'];
const four = (points: Array<[number, number, number]>, at = 0): SimplexPanelsOptions => ({
  panels: titles.map((title, i) => ({ title, points: i === at ? points : [] })),
  scale: 1,
  pointRadius: 4,
  opacity: 1,
});

describe('barycentricToXY', () => {
  it('maps vertices to corners and the uniform point to the centroid', () => {
    const t = { e1: [0, 100], e2: [100, 100], e3: [50, 0] } as const satisfies Parameters<typeof barycentricToXY>[1];
    expect(barycentricToXY([1, 0, 0], t)).toEqual([0, 100]);
    expect(barycentricToXY([0, 1, 0], t)).toEqual([100, 100]);
    expect(barycentricToXY([0, 0, 1], t)).toEqual([50, 0]);
    const [x, y] = barycentricToXY([1 / 3, 1 / 3, 1 / 3], t);
    expect(x).toBeCloseTo(50, 10);
    expect(y).toBeCloseTo(200 / 3, 10);
  });
});

describe('simplexPanels', () => {
  it('lays out four panels side by side with e1 bottom-left, e2 bottom-right, e3 on top', async () => {
    const opts = four([]);
    const img = decode(await simplexPanels(opts));
    expect([img.width, img.height]).toEqual([4 * 260, 270]);
    for (let i = 0; i < 4; i++) {
      const t = simplexTriangle(opts, i);
      expect(t.e1[1]).toBeCloseTo(t.e2[1], 10);
      expect(t.e1[0]).toBeLessThan(t.e2[0]);
      expect(t.e3[1]).toBeLessThan(t.e1[1]);
      expect(t.e3[0]).toBeCloseTo((t.e1[0] + t.e2[0]) / 2, 10);
      expect(t.e2[0] - t.e1[0]).toBeGreaterThan(150); // a usable size
      expect(t.e1[0]).toBeGreaterThanOrEqual(i * 260);
      expect(t.e2[0]).toBeLessThanOrEqual((i + 1) * 260);
      // Title above each panel.
      expect(count(img, dark, { x0: i * 260, y0: 0, x1: (i + 1) * 260, y1: 28 })).toBeGreaterThan(40);
    }
    // Default scale 2 doubles the size.
    const { scale: _omit, ...unscaled } = opts;
    const big = decode(await simplexPanels(unscaled));
    expect([big.width, big.height]).toEqual([2 * 4 * 260, 2 * 270]);
  });

  it('puts a point at a vertex on that vertex, and the uniform point at the centroid', async () => {
    const empty = decode(await simplexPanels(four([])));
    const cases: Array<[[number, number, number], (t: ReturnType<typeof simplexTriangle>) => [number, number]]> = [
      [[1, 0, 0], (t) => t.e1],
      [[0, 1, 0], (t) => t.e2],
      [[0, 0, 1], (t) => t.e3],
      [[1 / 3, 1 / 3, 1 / 3], (t) => [(t.e1[0] + t.e2[0] + t.e3[0]) / 3, (t.e1[1] + t.e2[1] + t.e3[1]) / 3]],
      [[0.5, 0.5, 0], (t) => [(t.e1[0] + t.e2[0]) / 2, t.e1[1]]],
    ];
    for (const [p, where] of cases) {
      for (const panel of [0, 2]) {
        const opts = four([p], panel);
        const img = decode(await simplexPanels(opts));
        const d = diffCentroid(empty, img);
        const [ex, ey] = where(simplexTriangle(opts, panel));
        expect(d.n).toBeGreaterThan(10);
        expect(Math.abs(d.x - ex)).toBeLessThan(2.5);
        expect(Math.abs(d.y - ey)).toBeLessThan(2.5);
        // The dot is drawn in the point colour.
        expect(count(img, near('#4c78a8', 10), { x0: ex - 5, y0: ey - 5, x1: ex + 6, y1: ey + 6 })).toBeGreaterThan(5);
      }
    }
  });

  it('accepts subtitles and a figure title, keeping every triangle the same size', async () => {
    const opts: SimplexPanelsOptions = {
      title: 'Soft assignments',
      panels: [
        { title: 'a', subtitle: 'perplexity 2.9', points: [[0.2, 0.3, 0.5]] },
        { title: 'b', points: [[0.6, 0.2, 0.2]] },
      ],
    };
    const img = decode(await simplexPanels(opts));
    expect([img.width, img.height]).toEqual([2 * 2 * 260, 2 * (30 + 270)]);
    const [t0, t1] = [simplexTriangle(opts, 0), simplexTriangle(opts, 1)];
    expect(t0.e2[0] - t0.e1[0]).toBeCloseTo(t1.e2[0] - t1.e1[0], 10);
    expect(t0.e1[1]).toBeCloseTo(t1.e1[1], 10);
  });

  it('rejects points off the simplex with errors naming the point', async () => {
    const bad = (points: unknown[]) => simplexPanels({ panels: [{ title: 'ok', points: [] }, { title: 'bad', points: points as [number, number, number][] }] });
    await expect(bad([[0.5, 0.5, 0.5]])).rejects.toThrow(/simplexPanels: panels\[1\]\.points\[0\] must sum to 1/);
    await expect(bad([[1, 0, 0], [1.5, -0.5, 0]])).rejects.toThrow(/panels\[1\]\.points\[1\] must hold finite probabilities >= 0/);
    await expect(bad([[0.5, 0.5]])).rejects.toThrow(/panels\[1\]\.points\[0\] must be three numbers/);
    await expect(bad([[Number.NaN, 0.5, 0.5]])).rejects.toThrow(/panels\[1\]\.points\[0\] must hold finite probabilities/);
    await expect(simplexPanels({ panels: [] })).rejects.toThrow(/simplexPanels: panels is empty/);
    await expect(simplexPanels({ panels: [{ title: 'a', points: [] }], opacity: 2 })).rejects.toThrow(/simplexPanels: opacity must be in \(0, 1\]/);
    // Float32 round-off is fine.
    await expect(bad([[0.3333333, 0.3333333, 0.3333333]])).resolves.toBeInstanceOf(Uint8Array);
  });
});
