/**
 * Several variants (method × codebook initialization, optionally a KNN vertex subset) and seeds
 * with shared settings. Each run gets its own directory (and its own report); a run already
 * finished is read back instead of trained again, and an interrupted one resumes from its
 * checkpoint — so an interrupted compare continues where it stopped.
 */
import { join } from 'node:path';
import { aggregate as aggregateBy, makeFolder, meanCell as cell, runGrid, thin, type Aggregate } from '@simplex-vq/app-kit';
import { writeFileAtomic } from '@simplex-vq/nn/node';
import { barChart, lineChart, writePng } from '@simplex-vq/viz';
import { hasCodebook, type Method } from '@simplex-vq/vq';
import { NOT_IDENTITY, normalizeSavedConfig, type InitName, type TrainConfig } from './config.js';
import { runName } from './names.js';
import { readHistory, writeRunReport } from './report.js';
import { trainRun, type RunMetrics, type TrainOptions } from './train.js';

/** One row of a comparison: a method, how its codebook starts, and (KNN) a vertex subset. */
export interface Variant {
  method: Method;
  init: InitName;
  vertexSubset?: number;
}

/** Every method with every init; the methods without a codebook (fsq, lfq) once, with init 'none'. */
export function variantsOf(methods: readonly Method[], inits: readonly InitName[]): Variant[] {
  const out: Variant[] = [];
  for (const init of inits) {
    for (const method of methods) {
      const v: Variant = { method, init: hasCodebook(method) ? init : 'none' };
      if (!out.some((o) => o.method === v.method && o.init === v.init)) out.push(v);
    }
  }
  return out;
}

/** How a variant is named in tables: `ste (data)`, `fsq`, `knn-ce (normal), 1/4 of the vertices`. */
export function variantLabel(v: { method: string; init: string; vertexSubset?: number | null }): string {
  const subset = v.vertexSubset ? `, ${v.vertexSubset < 1 ? `${fraction(v.vertexSubset)} of the vertices` : `${v.vertexSubset} vertices`}` : '';
  return `${v.method}${v.init !== 'none' ? ` (${v.init})` : ''}${subset}`;
}

/** 0.25 → '1/4'; other fractions as they are. */
export const fraction = (f: number): string => (Number.isInteger(1 / f) ? `1/${1 / f}` : String(f));

export { runName };

export interface CompareOptions {
  variants: Variant[];
  seeds: number[];
  base: TrainConfig;
  out: string;
  /** Called before each run with its name, its position and the total. */
  onRun?: (name: string, index: number, total: number, reused: boolean) => void;
  train?: Omit<TrainOptions, 'resume'>;
  /** Steps drawn in the picture of the start (batch usage over the first steps); default 60. */
  startSteps?: number;
}

export async function compareRuns(o: CompareOptions): Promise<RunMetrics[]> {
  makeFolder(o.out, 'out');
  const runs = o.variants.flatMap((v) =>
    o.seeds.map((seed) => ({
      name: runName(v, seed),
      dir: join(o.out, runName(v, seed)),
      config: { ...o.base, method: v.method, init: v.init, vertexSubset: v.vertexSubset ?? o.base.vertexSubset, seed } as TrainConfig,
    })),
  );
  const results = await runGrid<TrainConfig, RunMetrics>({
    runs,
    ignore: NOT_IDENTITY,
    normalize: normalizeSavedConfig,
    onRun: o.onRun,
    train: async ({ dir, config }, resume) => {
      const run = await trainRun(dir, config, { ...o.train, resume });
      await writeRunReport(dir, run);
      return run.metrics;
    },
  });
  writeFileAtomic(join(o.out, 'summary.json'), new TextEncoder().encode(`${JSON.stringify(results.map((r) => ({ ...r, histogram: undefined })), null, 2)}\n`));
  await writeCompareReport(o, results);
  return results;
}

export type { Aggregate };

export const SUMMARY_FIELDS = ['codeUsage', 'perplexityOfMean', 'individualPerplexity', 'perSampleCodeUsage', 'mseHard', 'psnrHard', 'mseSoft', 'stepsPerSecond'] as const;

/** Mean and sample standard deviation over seeds, per variant (spread 0 for one seed). */
export function aggregate(results: RunMetrics[]): Aggregate[] {
  // Runs written before `init` existed started from N(0, 1).
  return aggregateBy(results, (r) => variantLabel({ ...r, init: r.init ?? 'normal' }), SUMMARY_FIELDS);
}

/** The results table in markdown (mean ± standard deviation over seeds). */
export function resultsTable(results: RunMetrics[]): string {
  const rows = aggregate(results);
  const header = '| method (init) | seeds | code usage | perplexity of mean | individual perplexity | per-image usage | MSE (hard) | PSNR (hard) | MSE (soft) | steps/s |\n|---|---|---|---|---|---|---|---|---|---|';
  const body = rows.map((a) => {
    const c = (f: string, d: number) => cell(a.mean[f]!, a.spread[f]!, d, a.n);
    return `| ${a.key} | ${a.n} | ${c('codeUsage', 3)} | ${c('perplexityOfMean', 1)} | ${c('individualPerplexity', 2)} | ${c('perSampleCodeUsage', 4)} | ${c('mseHard', 4)} | ${c('psnrHard', 2)} | ${c('mseSoft', 4)} | ${c('stepsPerSecond', 2)} |`;
  });
  return [header, ...body].join('\n');
}

/** One line per variant: `field` of history.csv averaged over seeds (first `limit` steps if given). */
function curves(o: CompareOptions, variants: Variant[], field: 'batchUsage' | 'recon', limit = Infinity) {
  return variants.map((v) => {
    const hs = o.seeds.map((s) => readHistory(join(o.out, runName(v, s))).filter((h) => h.step <= limit));
    const len = Math.min(...hs.map((h) => h.length));
    const avg = Array.from({ length: len }, (_, i) => ({ step: hs[0]![i]!.step, v: hs.reduce((s, h) => s + h[i]![field], 0) / hs.length }));
    const t = thin(avg, 300);
    return { name: variantLabel(v), x: t.map((p) => p.step), y: t.map((p) => p.v) };
  });
}

/** The inits of a comparison, each with its variants (the codebook-free ones appear under every init). */
function byInit(variants: Variant[]): Array<{ init: InitName; variants: Variant[] }> {
  const inits = [...new Set(variants.map((v) => v.init).filter((i) => i !== 'none'))];
  if (inits.length === 0) return [{ init: 'none', variants }];
  return inits.map((init) => ({ init, variants: variants.filter((v) => v.init === init || v.init === 'none') }));
}

async function writeCompareReport(o: CompareOptions, results: RunMetrics[]): Promise<void> {
  const startSteps = o.startSteps ?? 60;
  const groups = byInit(o.variants);
  const suffix = (init: InitName) => (groups.length > 1 ? `-${init}` : '');
  const initTitle = (init: InitName) => (init === 'none' ? '' : `, codebook init '${init}'`);
  for (const { init, variants } of groups) {
    await writePng(join(o.out, `usage${suffix(init)}.png`), await lineChart({ title: `Code usage of each training batch${initTitle(init)}`, xLabel: 'step', yLabel: 'fraction of codes used in the batch', series: curves(o, variants, 'batchUsage'), yDomain: [0, 1] }));
    await writePng(join(o.out, `start${suffix(init)}.png`), await lineChart({ title: `The start: batch code usage over the first ${startSteps} steps${initTitle(init)}`, xLabel: 'step', yLabel: 'fraction of codes used in the batch', series: curves(o, variants, 'batchUsage', startSteps), yDomain: [0, 1], points: false }));
    await writePng(join(o.out, `recon${suffix(init)}.png`), await lineChart({ title: `Reconstruction error during training${initTitle(init)}`, xLabel: 'step', yLabel: 'reconstruction MSE (training batch)', series: curves(o, variants, 'recon'), logY: true }));
  }
  const agg = aggregate(results);
  await writePng(join(o.out, 'final-usage.png'), await barChart({ title: 'Code usage on the test set', xLabel: 'method (init)', yLabel: 'fraction of codes used', bars: agg.map((a) => ({ label: a.key, value: a.mean.codeUsage!, error: a.spread.codeUsage })) }));
  await writePng(join(o.out, 'individual-perplexity.png'), await barChart({ title: 'Individual perplexity (1 = one-hot)', xLabel: 'method (init)', yLabel: 'mean exp H(p_n)', bars: agg.map((a) => ({ label: a.key, value: a.mean.individualPerplexity!, error: a.spread.individualPerplexity })) }));
  const b = o.base;
  const inits = [...new Set(o.variants.map((v) => v.init))];
  const pictures = groups
    .map(({ init }) => `![usage${suffix(init)}](usage${suffix(init)}.png)\n\n![start${suffix(init)}](start${suffix(init)}.png)\n\n![reconstruction${suffix(init)}](recon${suffix(init)}.png)`)
    .join('\n\n');
  const md = `# Discrete autoencoder: method comparison

Settings shared by every run: MNIST 28×28 → 7×7 latent grid, M = ${b.codebookSize} codes, C = ${b.dim} channels, ${b.groups} group(s),
K = ${b.k}, shards = ${b.shards}${b.vertexSubset ? `, vertex subset ${b.vertexSubset}` : ''}; ${b.steps} steps of batch ${b.batchSize}, Adam lr ${b.lr};
codebook initialization: ${describeInits(inits, b.initStd)};
seeds ${o.seeds.join(', ')}; evaluated on ${b.evalImages} test images with hard codes. Values are the mean${o.seeds.length > 1 ? ' ± standard deviation over seeds' : ' (one seed)'}.
Total training time ${results.reduce((s, r) => s + r.trainSeconds, 0).toFixed(0)} s on ${results[0]?.backend ?? '?'}.

${resultsTable(results)}

Code usage of the training batches, the same over the first ${startSteps} steps (the start), and
the reconstruction error of the training batches (averaged over seeds):

${pictures}

On the test set:

![final usage](final-usage.png)

![individual perplexity](individual-perplexity.png)

Each run's own report: ${o.variants.flatMap((v) => o.seeds.map((s) => `[${runName(v, s)}](${runName(v, s)}/report.md)`)).join(', ')}.
`;
  writeFileAtomic(join(o.out, 'report.md'), new TextEncoder().encode(md));
}

/** "'data' (k-means on the first batch's encoder outputs)" etc., for the report's settings line. */
export function describeInits(inits: readonly string[], std: number): string {
  const what: Record<string, string> = {
    data: "'data' (k-means++ and 10 Lloyd steps on the encoder outputs of the first training batch)",
    normal: `'normal' (N(0, ${std}²) entries, the paper's setting)`,
    none: "none for fsq and lfq (no codebook)",
  };
  return inits.map((i) => what[i] ?? i).join('; ');
}
