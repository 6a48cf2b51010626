/**
 * The points of bench:scaling: three sweeps that each move one size of the autoencoder's step away
 * from a base point, and the model configurations (codebook M, latent C) they need. Pure: no I/O.
 *
 *   batch     B ∈ batches         at M = base M, C = base C
 *   codebook  M ∈ codebookSizes   at B = base batch, C = base C
 *   dim       C ∈ dims            at B = base batch, M = base M
 *
 * The sweeps share points (the base point is on all three when the lists hold it); each shared
 * point is timed once and reported in every sweep it belongs to.
 */

export const AXES = ['batch', 'codebook', 'dim'] as const;
export type Axis = (typeof AXES)[number];

/** What each axis moves, for tables and charts. */
export const AXIS_INFO: Record<Axis, { symbol: string; name: string; file: string }> = {
  batch: { symbol: 'B', name: 'batch size (images)', file: 'batch' },
  codebook: { symbol: 'M', name: 'codebook size M (codes)', file: 'codebook' },
  dim: { symbol: 'C', name: 'latent dimension C (channels)', file: 'dim' },
};

export interface Point {
  batch: number;
  codebookSize: number;
  dim: number;
}

/** The latent rows of a batch: each 28×28 image becomes a 7×7 grid of C-vectors. */
export const ROWS_PER_IMAGE = 49;

export const pointKey = (p: Point): string => `B${p.batch}-M${p.codebookSize}-C${p.dim}`;
export const configKey = (p: Pick<Point, 'codebookSize' | 'dim'>): string => `M${p.codebookSize}-C${p.dim}`;

export interface SweepOptions {
  axes: readonly Axis[];
  batches: readonly number[];
  codebookSizes: readonly number[];
  dims: readonly number[];
  /** The batch of the codebook and dim sweeps. */
  baseBatch: number;
  /** M of the batch and dim sweeps, C of the batch and codebook sweeps (the peer model's). */
  baseCodebookSize: number;
  baseDim: number;
}

export interface Sweep {
  axis: Axis;
  /** The axis's values, in the order given, each with its point. */
  points: Array<{ value: number; point: Point }>;
}

export interface Plan {
  sweeps: Sweep[];
  /** Every distinct point, in the order of the sweeps (each once). */
  points: Point[];
  /** Every model configuration, with the batch sizes its inputs file must hold. */
  configs: Array<{ codebookSize: number; dim: number; batches: number[] }>;
}

export function planSweeps(o: SweepOptions): Plan {
  const sweeps: Sweep[] = o.axes.map((axis) => {
    const values = axis === 'batch' ? o.batches : axis === 'codebook' ? o.codebookSizes : o.dims;
    return {
      axis,
      points: values.map((value) => ({
        value,
        point: {
          batch: axis === 'batch' ? value : o.baseBatch,
          codebookSize: axis === 'codebook' ? value : o.baseCodebookSize,
          dim: axis === 'dim' ? value : o.baseDim,
        },
      })),
    };
  });
  const points = new Map<string, Point>();
  for (const s of sweeps) for (const { point } of s.points) if (!points.has(pointKey(point))) points.set(pointKey(point), point);
  const configs = new Map<string, { codebookSize: number; dim: number; batches: number[] }>();
  for (const p of points.values()) {
    const c = configs.get(configKey(p)) ?? { codebookSize: p.codebookSize, dim: p.dim, batches: [] };
    if (!c.batches.includes(p.batch)) c.batches.push(p.batch);
    configs.set(configKey(p), c);
  }
  return { sweeps, points: [...points.values()], configs: [...configs.values()] };
}
