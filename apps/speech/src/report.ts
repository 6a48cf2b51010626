/**
 * report.md of one speech run, with its curves (from history.csv) and code-usage pictures (from
 * metrics.json).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { thin } from '@simplex-vq/app-kit';
import { writeFileAtomic } from '@simplex-vq/nn/node';
import { lineChart, usageChart, writePng } from '@simplex-vq/viz';
import { hasCodebook } from '@simplex-vq/vq';
import type { SpeechConfig } from './config.js';
import type { SpeechMetrics } from './train.js';

export interface SpeechHistoryRow {
  step: number;
  loss: number;
  contrastive: number;
  quantizerLoss: number;
  accuracy: number;
  batchUsage: number;
  seconds: number;
}

export function readSpeechHistory(dir: string): SpeechHistoryRow[] {
  const lines = readFileSync(join(dir, 'history.csv'), 'utf8').trim().split('\n').slice(1);
  return lines.filter(Boolean).map((l) => {
    const [step, loss, contrastive, quantizerLoss, accuracy, batchUsage, seconds] = l.split(',').map(Number) as number[];
    return { step: step!, loss: loss!, contrastive: contrastive!, quantizerLoss: quantizerLoss!, accuracy: accuracy!, batchUsage: batchUsage!, seconds: seconds! };
  });
}

/** A moving average over `w` rows, so the noisy per-batch curves can be read. */
export function smooth(values: number[], w = 10): number[] {
  let sum = 0;
  return values.map((v, i) => {
    sum += v;
    if (i >= w) sum -= values[i - w]!;
    return sum / Math.min(i + 1, w);
  });
}

const fmt = (v: number | undefined | null, digits: number) => (v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(digits));

/** Why a run has no probe ('' when it has one): it needs two words among the single-word utterances. */
export function noProbeReason(words: number): string {
  if (words >= 2) return '';
  return words === 0 ? 'no labels: no probe (give --label-pattern to read each file\'s word from its name)' : 'one word only: no probe (it needs two words to tell apart)';
}

/** The split, for a report: the held-out speakers by name, the training ones by count. */
export function splitLine(heldOut: readonly string[], train: readonly string[], fraction: number): string {
  return `Held-out speakers (${heldOut.length} of ${heldOut.length + train.length}, --test-fraction ${fraction}): ${heldOut.join(', ')}; ${train.length} train speakers.`;
}

/** Where the codebooks started, in words. */
export function initLine(c: Pick<SpeechConfig, 'method' | 'init' | 'initStd'>): string {
  if (!hasCodebook(c.method)) return `no codebook to initialize (${c.method})`;
  return c.init === 'data' ? 'data (k-means++ and 10 Lloyd steps on the encoder\'s outputs of the first batch)' : `normal (N(0, ${c.initStd}²))`;
}

/** What the probe read, or why there is none. */
export function probeUse(m: Pick<SpeechMetrics, 'probeWords' | 'probeTrainUtterances' | 'probeTestUtterances'>, c: Pick<SpeechConfig, 'probeUtterances'>): string {
  if (m.probeWords < 2) return noProbeReason(m.probeWords);
  return `the word probe read ${m.probeTrainUtterances} train and ${m.probeTestUtterances} held-out single-word utterances of ${m.probeWords} words (${c.probeUtterances === null ? 'every one' : `at most ${c.probeUtterances} a side, --probe-utterances`})`;
}

/** Writes training.png, usage-g<g>.png and report.md into `dir`. */
export async function writeSpeechReport(dir: string, c: SpeechConfig, m: SpeechMetrics): Promise<void> {
  const h = thin(readSpeechHistory(dir));
  const x = h.map((r) => r.step);
  await writePng(
    join(dir, 'training.png'),
    await lineChart({
      title: `Training: ${m.method}, G = ${m.groups}`,
      subtitle: 'moving averages over 10 logged steps',
      xLabel: 'step',
      yLabel: 'value',
      series: [
        { name: 'contrastive loss', x, y: smooth(h.map((r) => r.contrastive)) },
        { name: 'contrastive accuracy', x, y: smooth(h.map((r) => r.accuracy)) },
        { name: 'batch code usage', x, y: smooth(h.map((r) => r.batchUsage)) },
      ],
    }),
  );
  const groups = m.histograms ?? [];
  for (let g = 0; g < groups.length; g++) {
    await writePng(join(dir, `usage-g${g + 1}.png`), await usageChart({ title: `Codes of group ${g + 1} on the test set: ${m.method}`, counts: groups[g]! }));
  }
  const md = `# Speech run: ${m.method}, G = ${m.groups}

Data: ${m.data}. Model: ${c.convChannels} encoder channels, a ${c.layers}-layer transformer of width
${c.dModel} (${c.heads} heads), M = ${c.codebookSize} codes per group, G = ${c.groups}${c.method.startsWith('knn') ? `, K = ${c.k}` : ''}.
Training: ${c.steps} steps of ${c.batchSize} utterances (crops of at most ${c.maxSeconds} s), Adam lr ${c.lr},
mask probability ${c.maskProb} with spans of ${c.maskSpan}, ${c.distractors} distractors, κ = ${c.temperature}; seed ${c.seed}.
Codebook init: ${initLine(c)}.
Training took ${m.trainSeconds.toFixed(1)} s (${m.stepsPerSecond.toFixed(2)} steps/s).

${splitLine(m.heldOutSpeakers, m.trainSpeakers, m.testFraction)}
Evaluated on ${m.evalUtterances} of the ${m.heldOutUtterances} held-out utterances${m.evalUtterances < m.heldOutUtterances ? ` (--eval-utterances ${c.evalUtterances})` : ''}; ${probeUse(m, c)}.

| metric (test speakers) | value |
|---|---|
| code usage, overall | ${fmt(m.codeUsage, 3)} |
| code usage per group | ${m.codeUsagePerGroup.map((u) => fmt(u, 3)).join(', ')} |
| perplexity of the mean | ${fmt(m.perplexityOfMean, 1)} of ${c.codebookSize} |
| individual perplexity | ${fmt(m.individualPerplexity, 2)} (1 = one-hot) |
| per-utterance code usage | ${fmt(m.perSampleCodeUsage, 4)} |
| contrastive accuracy (masked steps) | ${fmt(m.contrastiveAccuracy, 3)} |
| word probe accuracy | ${m.probeWords >= 2 ? `${fmt(m.probeAccuracy, 3)} (random model: ${fmt(m.probeFloor, 3)}, chance: ${fmt(m.probeChance, 3)})` : noProbeReason(m.probeWords)} |

![training](training.png)

${groups.map((_, g) => `![usage of group ${g + 1}](usage-g${g + 1}.png)`).join('\n\n')}

Files: \`config.json\`, \`metrics.json\`, \`history.csv\`, \`checkpoint.safetensors\`.
`;
  writeFileAtomic(join(dir, 'report.md'), new TextEncoder().encode(md));
}
