/**
 * Pictures and report.md for one run, from its metrics, history and model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '@simplex-vq/tensor';
import { thin } from '@simplex-vq/app-kit';
import { writeFileAtomic } from '@simplex-vq/nn/node';
import { imageGrid, lineChart, usageChart, writePng } from '@simplex-vq/viz';
import type { TrainConfig } from './config.js';
import { batchTensor, type RunResult } from './train.js';

export interface HistoryRow {
  step: number;
  loss: number;
  recon: number;
  quantizerLoss: number;
  batchUsage: number;
  seconds: number;
}

export function readHistory(dir: string): HistoryRow[] {
  const lines = readFileSync(join(dir, 'history.csv'), 'utf8').trim().split('\n').slice(1);
  return lines.filter(Boolean).map((l) => {
    const [step, loss, recon, q, usage, seconds] = l.split(',').map(Number) as number[];
    return { step: step!, loss: loss!, recon: recon!, quantizerLoss: q!, batchUsage: usage!, seconds: seconds! };
  });
}

const fmt = (v: number | null | undefined, digits = 4) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));

/** Writes reconstructions.png, usage.png, training.png and report.md into `dir`. */
export async function writeRunReport(dir: string, run: RunResult): Promise<void> {
  const { metrics: m, model, config, test } = run;
  // Ten test digits (one per class), their hard-code reconstructions, and the soft ones.
  const idx = Array.from({ length: 10 }, (_, i) => i);
  const rows = noGrad(() => {
    model.eval();
    const x = batchTensor(test, idx);
    const hard = model.forward(x).reconstruction;
    model.train();
    return [x.data() as Float32Array, hard.data() as Float32Array];
  });
  const images = rows.flatMap((r) => idx.map((i) => r.subarray(i * 784, (i + 1) * 784)));
  await writePng(join(dir, 'reconstructions.png'), imageGrid({ images, width: 28, height: 28, columns: 10, scale: 3, padding: 2 }));
  await writePng(join(dir, 'usage.png'), await usageChart({ title: `Code usage on the test set: ${m.method}`, counts: m.histogram }));
  const history = thin(readHistory(dir));
  await writePng(
    join(dir, 'training.png'),
    await lineChart({
      title: `Training: ${m.method}`,
      xLabel: 'step',
      yLabel: 'value',
      series: [
        { name: 'loss', x: history.map((h) => h.step), y: history.map((h) => h.loss) },
        { name: 'reconstruction MSE', x: history.map((h) => h.step), y: history.map((h) => h.recon) },
        { name: 'batch code usage', x: history.map((h) => h.step), y: history.map((h) => h.batchUsage) },
      ],
    }),
  );
  writeFileAtomic(join(dir, 'report.md'), new TextEncoder().encode(runMarkdown(config, m)));
}

function runMarkdown(c: TrainConfig, m: RunResult['metrics']): string {
  return `# Discrete autoencoder run: ${m.method}

Settings: M = ${c.codebookSize} codes, C = ${c.dim} channels, ${c.groups} group(s), K = ${c.k}, shards = ${c.shards}${c.vertexSubset ? `, vertex subset ${c.vertexSubset}` : ''},
${c.steps} steps of batch ${c.batchSize}, Adam lr ${c.lr}, seed ${c.seed}, backend ${m.backend}.
Codebook init: ${c.init === 'none' ? 'none (no codebook)' : c.init === 'data' ? "'data' (k-means on the first batch's encoder outputs)" : `'normal' (N(0, ${c.initStd}²))`}; decoder output bias at the start: ${c.outputBias === 'data' ? 'logit of the mean training pixel' : "PyTorch's default"}.
Training took ${m.trainSeconds.toFixed(1)} s (${m.stepsPerSecond.toFixed(2)} steps/s). Evaluated on the first ${c.evalImages} images of the fixed MNIST test set.

| metric | value |
|---|---|
| code usage (test set) | ${fmt(m.codeUsage, 3)} |
| perplexity of the mean (hard) | ${fmt(m.perplexityOfMean, 1)} of ${c.codebookSize} |
| perplexity of the mean (soft) | ${fmt(m.perplexityOfMeanSoft, 1)} |
| individual perplexity | ${fmt(m.individualPerplexity, 2)} (1 = one-hot) |
| per-image code usage | ${fmt(m.perSampleCodeUsage, 4)} |
| MSE, hard codes | ${fmt(m.mseHard, 5)} (PSNR ${fmt(m.psnrHard, 2)} dB) |
| MSE, soft codes | ${fmt(m.mseSoft, 5)} (PSNR ${fmt(m.psnrSoft, 2)} dB) |

Test digits (top) and their reconstructions from hard codes (bottom):

![reconstructions](reconstructions.png)

Codes sorted by how often the test set uses them:

![usage](usage.png)

Loss, reconstruction error and the batch's code usage during training:

![training](training.png)

Files: \`config.json\`, \`metrics.json\`, \`history.csv\`, \`checkpoint.safetensors\`.
`;
}
