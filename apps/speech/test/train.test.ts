/**
 * The speech training loop end to end on a tiny synthetic corpus: metrics in range, and a resumed
 * run equal to an uninterrupted one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SPEECH_DEFAULTS, resolveSpeechConfig, type SpeechConfig } from '../src/config.js';
import { trainSpeechRun } from '../src/train.js';

const work = mkdtempSync(join(tmpdir(), 'simplex-speech-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const TINY: SpeechConfig = {
  ...SPEECH_DEFAULTS,
  vocabulary: 3,
  perWord: 3,
  sequences: 1,
  speakers: 3,
  codebookSize: 8,
  convChannels: 8,
  dModel: 16,
  heads: 2,
  ffDim: 32,
  finalDim: 8,
  layers: 1,
  batchSize: 4,
  maxSeconds: 0.6,
  checkpointEvery: 2,
  cacheDir: join(work, 'cache'),
};

describe('trainSpeechRun', () => {
  it('trains, evaluates and probes, with every metric in range', async () => {
    const { metrics: m } = await trainSpeechRun(join(work, 'a'), { ...TINY, steps: 3, groups: 2 });
    expect(m.groups).toBe(2);
    expect(m.codeUsagePerGroup).toHaveLength(2);
    for (const u of [m.codeUsage, ...m.codeUsagePerGroup, m.perSampleCodeUsage, m.contrastiveAccuracy]) {
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThanOrEqual(1);
    }
    expect(m.perplexityOfMean).toBeGreaterThanOrEqual(1);
    expect(m.perplexityOfMean).toBeLessThanOrEqual(8);
    expect(m.individualPerplexity).toBeGreaterThanOrEqual(1);
    expect(m.individualPerplexity).toBeLessThanOrEqual(8 + 1e-9);
    for (const p of [m.probeAccuracy, m.probeFloor]) expect(p >= 0 && p <= 1).toBe(true);
    expect(readFileSync(join(work, 'a', 'history.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('a run resumed from its checkpoint equals the uninterrupted run', async () => {
    const full = await trainSpeechRun(join(work, 'full'), { ...TINY, steps: 4 });
    await trainSpeechRun(join(work, 'part'), { ...TINY, steps: 2 });
    const resumed = await trainSpeechRun(join(work, 'part'), { ...TINY, steps: 4 }, { resume: true });
    const rows = (d: string) => readFileSync(join(work, d, 'history.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 6).join(','));
    expect(rows('part')).toEqual(rows('full'));
    expect(resumed.metrics.codeUsage).toBe(full.metrics.codeUsage);
    expect(resumed.metrics.contrastiveAccuracy).toBe(full.metrics.contrastiveAccuracy);
  });

  it('rejects bad settings, naming the option', () => {
    expect(() => resolveSpeechConfig({ method: 'nope' })).toThrow(/--method: unknown method 'nope'/);
    expect(() => resolveSpeechConfig({ groups: 3 })).toThrow(/--groups: 3 groups do not divide the 32 feature channels/);
    expect(() => resolveSpeechConfig({ labelPattern: '(' })).toThrow(/--label-pattern: not a regular expression/);
    expect(() => resolveSpeechConfig({ maxSeconds: 0 })).toThrow(/--max-seconds/);
  });
});
