/**
 * The speech training loop end to end on a tiny synthetic corpus: metrics in range, and a resumed
 * run equal to an uninterrupted one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SPEECH_DEFAULTS, normalizeSavedSpeechConfig, resolveSpeechConfig, type SpeechConfig } from '../src/config.js';
import { spread } from '../src/data.js';
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
    for (const p of [m.probeAccuracy, m.probeFloor, m.probeChance]) expect(p >= 0 && p <= 1).toBe(true);
    // 3 speakers, 1 held out, named; every held-out utterance evaluated (under the default cap).
    expect(m.heldOutSpeakers).toHaveLength(1);
    expect(m.trainSpeakers).toHaveLength(2);
    expect(m.evalUtterances).toBe(m.heldOutUtterances);
    expect(m.init).toBe('data');
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
    expect(() => resolveSpeechConfig({ testFraction: 1 })).toThrow(/--test-fraction/);
    expect(() => resolveSpeechConfig({ evalUtterances: 2.5 })).toThrow(/--eval-utterances/);
    expect(() => resolveSpeechConfig({ init: 'uniform' })).toThrow(/--init: expected one of 'data', 'normal'/);
  });

  it('reads the words off, all and null as no trim and no cap', () => {
    const c = resolveSpeechConfig({ trimSilence: 'off', evalUtterances: 'all', probeUtterances: '50' });
    expect([c.trimSilence, c.evalUtterances, c.probeUtterances]).toEqual([null, null, 50]);
    expect(resolveSpeechConfig({ trimSilence: '35', evalUtterances: null }, c)).toMatchObject({ trimSilence: 35, evalUtterances: null });
  });

  it('a saved config from before a setting existed reads as what that run did, not as today\'s default', () => {
    const { init: _i, initStd: _s, testFraction: _f, trimSilence: _t, evalUtterances: _e, probeUtterances: _p, ...old } = SPEECH_DEFAULTS;
    expect(normalizeSavedSpeechConfig(old)).toEqual({ ...SPEECH_DEFAULTS, init: 'normal', initStd: 1, testFraction: 0.2, trimSilence: null, evalUtterances: null, probeUtterances: null });
    // A config saved now reads back unchanged.
    const now = { ...SPEECH_DEFAULTS, init: 'data', evalUtterances: 7 };
    expect(normalizeSavedSpeechConfig(JSON.parse(JSON.stringify(now)))).toEqual(now);
  });

  it('spread picks at most cap indices, evenly, the same every time', () => {
    expect(spread(10, 4)).toEqual([0, 2, 5, 7]);
    expect(spread(3, 10)).toEqual([0, 1, 2]);
    expect(spread(5, null)).toEqual([0, 1, 2, 3, 4]);
    expect(spread(0, 3)).toEqual([]);
  });
});
