/**
 * Several methods and seeds with shared settings. Each run gets its own directory (and its own
 * report); a run already finished is read back instead of trained again, and an interrupted one
 * resumes from its checkpoint — so an interrupted compare continues where it stopped.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { aggregate as aggregateBy, meanCell as cell, runGrid, thin, type Aggregate } from '@simplex-vq/app-kit';
import { writeFileAtomic } from '@simplex-vq/nn';
import { barChart, lineChart, writePng } from '@simplex-vq/viz';
import type { Method } from '@simplex-vq/vq';
import { resolveConfig, type TrainConfig } from './config.js';
import { readHistory, writeRunReport } from './report.js';
import { trainRun, type RunMetrics, type TrainOptions } from './train.js';

export interface CompareOptions {
  methods: Method[];
  seeds: number[];
  base: TrainConfig;
  out: string;
  /** Called before each run with its name, its position and the total. */
  onRun?: (name: string, index: number, total: number, reused: boolean) => void;
  train?: Omit<TrainOptions, 'resume'>;
}

export const runName = (method: string, seed: number) => `${method}-seed${seed}`;

export async function compareRuns(o: CompareOptions): Promise<RunMetrics[]> {
  mkdirSync(o.out, { recursive: true });
  const runs = o.methods.flatMap((method) =>
    o.seeds.map((seed) => ({ name: runName(method, seed), dir: join(o.out, runName(method, seed)), config: { ...o.base, method, seed } as TrainConfig })),
  );
  const results = await runGrid<TrainConfig, RunMetrics>({
    runs,
    ignore: ['checkpointEvery'],
    normalize: (saved) => resolveConfig(saved),
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

/** Mean and sample standard deviation over seeds, per method (spread 0 for one seed). */
export function aggregate(results: RunMetrics[]): Aggregate[] {
  return aggregateBy(results, (r) => r.method, SUMMARY_FIELDS);
}

/** The results table in markdown (mean ± standard deviation over seeds). */
export function resultsTable(results: RunMetrics[]): string {
  const rows = aggregate(results);
  const header = '| method | seeds | code usage | perplexity of mean | individual perplexity | per-image usage | MSE (hard) | PSNR (hard) | MSE (soft) | steps/s |\n|---|---|---|---|---|---|---|---|---|---|';
  const body = rows.map((a) => {
    const c = (f: string, d: number) => cell(a.mean[f]!, a.spread[f]!, d, a.n);
    return `| ${a.key} | ${a.n} | ${c('codeUsage', 3)} | ${c('perplexityOfMean', 1)} | ${c('individualPerplexity', 2)} | ${c('perSampleCodeUsage', 4)} | ${c('mseHard', 4)} | ${c('psnrHard', 2)} | ${c('mseSoft', 4)} | ${c('stepsPerSecond', 2)} |`;
  });
  return [header, ...body].join('\n');
}

async function writeCompareReport(o: CompareOptions, results: RunMetrics[]): Promise<void> {
  // Curves averaged over seeds, one series per method.
  const curves = (field: 'batchUsage' | 'loss') =>
    o.methods.map((method) => {
      const hs = o.seeds.map((s) => readHistory(join(o.out, runName(method, s))));
      const len = Math.min(...hs.map((h) => h.length));
      const avg = Array.from({ length: len }, (_, i) => ({ step: hs[0]![i]!.step, v: hs.reduce((s, h) => s + h[i]![field], 0) / hs.length }));
      const t = thin(avg, 300);
      return { name: method, x: t.map((p) => p.step), y: t.map((p) => p.v) };
    });
  await writePng(join(o.out, 'usage.png'), await lineChart({ title: 'Code usage of each training batch', xLabel: 'step', yLabel: 'fraction of codes used in the batch', series: curves('batchUsage'), yDomain: [0, 1] }));
  await writePng(join(o.out, 'loss.png'), await lineChart({ title: 'Training loss', xLabel: 'step', yLabel: 'loss (reconstruction + quantizer)', series: curves('loss'), logY: true }));
  const agg = aggregate(results);
  await writePng(join(o.out, 'final-usage.png'), await barChart({ title: 'Code usage on the test set', xLabel: 'method', yLabel: 'fraction of codes used', bars: agg.map((a) => ({ label: a.key, value: a.mean.codeUsage!, error: a.spread.codeUsage })) }));
  await writePng(join(o.out, 'individual-perplexity.png'), await barChart({ title: 'Individual perplexity (1 = one-hot)', xLabel: 'method', yLabel: 'mean exp H(p_n)', bars: agg.map((a) => ({ label: a.key, value: a.mean.individualPerplexity!, error: a.spread.individualPerplexity })) }));
  const b = o.base;
  const md = `# Discrete autoencoder: method comparison

Settings shared by every run: MNIST 28×28 → 7×7 latent grid, M = ${b.codebookSize} codes, C = ${b.dim} channels, ${b.groups} group(s),
K = ${b.k}, shards = ${b.shards}${b.vertexSubset ? `, vertex subset ${b.vertexSubset}` : ''}; ${b.steps} steps of batch ${b.batchSize}, Adam lr ${b.lr};
seeds ${o.seeds.join(', ')}; evaluated on ${b.evalImages} test images with hard codes. Values are the mean${o.seeds.length > 1 ? ' ± standard deviation over seeds' : ' (one seed)'}.
Total training time ${results.reduce((s, r) => s + r.trainSeconds, 0).toFixed(0)} s on ${results[0]?.backend ?? '?'}.

${resultsTable(results)}

Code usage of the training batches, and the training loss (averaged over seeds):

![usage](usage.png)

![loss](loss.png)

On the test set:

![final usage](final-usage.png)

![individual perplexity](individual-perplexity.png)

Each run's own report: ${o.methods.flatMap((m) => o.seeds.map((s) => `[${runName(m, s)}](${runName(m, s)}/report.md)`)).join(', ')}.
`;
  writeFileAtomic(join(o.out, 'report.md'), new TextEncoder().encode(md));
}
