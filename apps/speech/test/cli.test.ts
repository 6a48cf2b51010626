/**
 * simplex-speech as a user runs it (the built dist/cli.js in a child process): help, bad input,
 * and train, resume and compare end to end on a tiny corpus and model.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'simplex-speech-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TINY = [
  '--vocabulary', '3', '--per-word', '3', '--sequences', '1', '--speakers', '3', '--cache-dir', join(work, 'cache'),
  '--codebook-size', '8', '--conv-channels', '8', '--d-model', '16', '--heads', '2', '--ff-dim', '32', '--final-dim', '8',
  '--layers', '1', '--batch-size', '4', '--max-seconds', '0.6', '--checkpoint-every', '2',
];

/** A 16-bit PCM mono WAV file at `rate` Hz holding `samples` in [-1, 1]. */
function wav16(samples: Float32Array, rate: number): Buffer {
  const b = Buffer.alloc(44 + samples.length * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples.length * 2, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples.length * 2, 40);
  samples.forEach((v, i) => b.writeInt16LE(Math.round(v * 32767), 44 + 2 * i));
  return b;
}

const MODEL = TINY.slice(10);

/** Two 0.3 s tones (with a little noise) per digit 1–3 for `speaker` into `dir`, named by `name`. */
function writeDigits(dir: string, speaker: string, name: (digit: number, n: number) => string): void {
  mkdirSync(dir, { recursive: true });
  let seed = speaker.charCodeAt(0);
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  for (const digit of [1, 2, 3]) {
    for (let n = 0; n < 2; n++) {
      // 0.1 s of near-silence on each side, so --trim-silence has something to cut.
      const x = Float32Array.from({ length: 4000 }, (_, i) => (i >= 800 && i < 3200 ? 0.5 * Math.sin((2 * Math.PI * 200 * digit * i) / 8000) : 0) + 0.005 * noise());
      writeFileSync(join(dir, name(digit, n)), wav16(x, 8000));
    }
  }
}

describe('simplex-speech', () => {
  it('prints help for the program and each command', () => {
    const main = run(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Commands:[\s\S]*train[\s\S]*compare/);
    for (const cmd of ['train', 'compare']) {
      const r = run([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toContain(`Usage: simplex-speech ${cmd}`);
      expect(r.stdout).toContain('--label-pattern');
    }
  });

  it.each([
    [['train', '--method', 'nope'], /--method: unknown method 'nope'/],
    [['train', '--groups', '3'], /--groups: 3 groups do not divide the 32 feature channels/],
    [['train', '--mask-prob', '1.5'], /--mask-prob: expected a probability/],
    [['train', '--label-pattern', '(', '--data', '.'], /--label-pattern: not a regular expression/],
    [['train', '--label-pattern', '^(\\d+)_'], /--label-pattern: applies only with --data/],
    [['train', '--resume', 'x', '--lr', '0.1'], /--resume: a resumed run keeps its settings/],
    [['compare', '--groups', '1,3'], /--groups: 3 groups do not divide/],
    [['compare', '--method', 'ste'], /--method does not apply to 'compare'/],
    [['compare', '--seeds', 'a'], /--seeds: 'a' is not an integer/],
    [['train', '--bogus'], /Unknown option '--bogus'/],
    [['train', '--test-fraction', '0'], /--test-fraction: expected a fraction of the speakers in \(0, 1\), got '0'/],
    [['train', '--test-fraction', '1'], /--test-fraction: expected a fraction/],
    [['train', '--test-fraction', 'half'], /--test-fraction: expected a fraction/],
    [['compare', '--test-fraction', '1.5'], /--test-fraction: expected a fraction/],
    [['train', '--trim-silence', '40'], /--trim-silence: applies only with --data/],
    [['train', '--trim-silence', 'loud', '--data', '.'], /--trim-silence: expected a level in dB in \(0, 120\], or 'off'/],
    [['train', '--eval-utterances', '0'], /--eval-utterances: expected a positive integer, or 'all'/],
    [['train', '--probe-utterances', '1'], /--probe-utterances: expected an integer ≥ 2, or 'all'/],
    [['train', '--init', 'kmeans'], /--init: expected one of 'data', 'normal'/],
    [['train', '--init-std', '0.5'], /--init-std: applies only with --init normal/],
    [['train', '--init', 'normal', '--init-std', '0'], /--init-std: expected a positive standard deviation/],
    [['train', '--method', 'fsq', '--init', 'normal'], /--init: fsq has no codebook to initialize/],
    [['train', '--resume', 'x', '--test-fraction', '0.5'], /--resume: a resumed run keeps its settings/],
  ])('exits 2 naming the problem: %j', (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('refuses a --data folder that does not exist, naming it', () => {
    const r = run(['train', '--data', join(work, 'no-such-folder'), '--out', join(work, 'nodata')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--data: '.*no-such-folder' is not a folder/);
    expect(existsSync(join(work, 'nodata'))).toBe(false);
  });

  it('trains on a folder of WAV files, labels and speakers from the names, skipping an unreadable file', () => {
    const data = join(work, 'wavs');
    for (const speaker of ['ann', 'bob', 'cy']) writeDigits(data, speaker, (digit, n) => `${digit}_${speaker}_${n}.wav`);
    writeFileSync(join(data, '9_bob_garbage.wav'), 'this is not a wav file');
    const dir = join(work, 'wavrun');
    const r = run([
      'train', '--data', data, '--label-pattern', '^(\\d+)_', '--speaker-pattern', '^\\d+_([a-z]+)_', '--steps', '2', '--out', dir,
      '--test-fraction', '0.5', '--eval-utterances', '5', '--probe-utterances', '4', '--trim-silence', '30', '--init', 'normal', '--init-std', '0.5', ...MODEL,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/skipped .*9_bob_garbage\.wav/);
    expect(r.stdout).toMatch(/18 WAV files .*silence trimmed at 30 dB/);
    const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    expect(m.data).toMatch(/1 skipped/);
    expect(m.probeAccuracy).toBeGreaterThanOrEqual(0);
    // Half of 3 speakers rounds to 2 held out, named on stdout, in metrics.json and in the report.
    expect(m.heldOutSpeakers).toHaveLength(2);
    expect([...m.heldOutSpeakers, ...m.trainSpeakers].sort()).toEqual(['ann', 'bob', 'cy']);
    expect(m.testFraction).toBe(0.5);
    expect(r.stdout).toContain(`speakers: 1 train, 2 held out (${m.heldOutSpeakers.join(', ')})`);
    const report = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(report).toContain(`Held-out speakers (2 of 3, --test-fraction 0.5): ${m.heldOutSpeakers.join(', ')}; 1 train speakers.`);
    // The caps: 12 held-out files, 5 evaluated; the probe reads 4 of each side.
    expect([m.evalUtterances, m.heldOutUtterances]).toEqual([5, 12]);
    expect([m.probeTrainUtterances, m.probeTestUtterances, m.probeWords]).toEqual([4, 4, 3]);
    expect(report).toContain('Evaluated on 5 of the 12 held-out utterances (--eval-utterances 5)');
    expect(report).toMatch(/probe read 4 train and 4 held-out single-word utterances of 3 words \(at most 4 a side, --probe-utterances\)/);
    expect(r.stdout).toMatch(/on 5 of 12 held-out utterances/);
    expect(m.probeChance).toBeGreaterThanOrEqual(0);
    // The init, recorded.
    expect([m.init, m.initStd]).toEqual(['normal', 0.5]);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ init: 'normal', initStd: 0.5, testFraction: 0.5, trimSilence: 30, evalUtterances: 5, probeUtterances: 4 });
    expect(report).toContain('Codebook init: normal (N(0, 0.5²))');
  });

  it('refuses a folder with one speaker in one line, with the hint to pass --speaker-pattern', () => {
    const data = join(work, 'onespeaker');
    writeDigits(data, 'ann', (digit, n) => `${digit}_ann_${n}.wav`);
    const r = run(['train', '--data', data, '--steps', '1', '--out', join(work, 'onespeaker-run'), ...MODEL]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--speaker-pattern: found 1 speaker in the 6 WAV files, from their subfolder \('\.'\); .*give --speaker-pattern <regex>/);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('    at '))).toEqual([]); // no stack trace
    expect(existsSync(join(work, 'onespeaker-run'))).toBe(false);
    const c = run(['compare', '--data', data, '--methods', 'ste', '--groups', '1', '--seeds', '0', '--steps', '1', '--out', join(work, 'onespeaker-cmp'), ...MODEL]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--speaker-pattern: found 1 speaker/);
    expect(existsSync(join(work, 'onespeaker-cmp'))).toBe(false);
  });

  it('compares on an unlabelled WAV folder (speakers from subfolders): no probe, said so, the held-out speaker named', () => {
    const data = join(work, 'unlabelled');
    for (const speaker of ['ann', 'bob', 'cy']) writeDigits(join(data, speaker), speaker, (digit, n) => `take${digit}${n}.wav`);
    const out = join(work, 'unlabelled-cmp');
    const c = run(['compare', '--data', data, '--methods', 'ste,knn-ce', '--groups', '1', '--seeds', '0', '--steps', '2', '--eval-utterances', '4', '--out', out, ...MODEL]);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/speakers: 2 train, 1 held out \((ann|bob|cy)\)/);
    expect(c.stdout).not.toMatch(/probe acc/);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('No labels: no probe');
    expect(report).not.toContain('probe.png');
    expect(report).toMatch(/Held-out speakers \(1 of 3, --test-fraction 0\.2\): (ann|bob|cy); 2 train speakers\./);
    expect(report).toContain('Evaluated on 4 of the 6 held-out utterances');
    expect(existsSync(join(out, 'probe.png'))).toBe(false);
    expect(existsSync(join(out, 'final-usage.png'))).toBe(true);
    const m = JSON.parse(readFileSync(join(out, 'knn-ce-g1-seed0', 'metrics.json'), 'utf8'));
    expect([m.probeWords, m.probeAccuracy, m.evalUtterances, m.init]).toEqual([0, null, 4, 'data']);
    expect(readFileSync(join(out, 'knn-ce-g1-seed0', 'report.md'), 'utf8')).toContain('no labels: no probe');
    // Run again: reused, the report written again from metrics.json (whose NaN probe is null).
    const again = run(['compare', '--data', data, '--methods', 'ste,knn-ce', '--groups', '1', '--seeds', '0', '--steps', '2', '--eval-utterances', '4', '--out', out, ...MODEL]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.match(/finished earlier, reusing its metrics/g)).toHaveLength(2);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('No labels: no probe');
  });

  it('trains, resumes and compares end to end', () => {
    const dir = join(work, 'run');
    const t = run(['train', '--method', 'knn-ce', '--groups', '2', '--steps', '2', '--out', dir, ...TINY]);
    expect(t.stderr).not.toMatch(/Error/);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/speakers: 2 train, 1 held out \([^)]+\)/);
    for (const f of ['config.json', 'metrics.json', 'history.csv', 'checkpoint.safetensors', 'report.md', 'training.png', 'usage-g1.png', 'usage-g2.png']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    expect([m.init, m.initStd, m.heldOutSpeakers.length, m.trainSpeakers.length]).toEqual(['data', null, 1, 2]);
    for (const k of ['method', 'groups', 'codebookSize', 'steps', 'seed', 'codeUsage', 'codeUsagePerGroup', 'perplexityOfMean', 'individualPerplexity', 'perSampleCodeUsage', 'contrastiveAccuracy', 'probeAccuracy', 'probeFloor', 'trainSeconds', 'stepsPerSecond']) {
      expect(m, k).toHaveProperty(k);
    }
    expect(m.codeUsagePerGroup).toHaveLength(2);

    const r = run(['train', '--resume', dir, '--steps', '4']);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).steps).toBe(4);
    expect(readFileSync(join(dir, 'history.csv'), 'utf8').trim().split('\n')).toHaveLength(5);

    const out = join(work, 'cmp');
    const c = run(['compare', '--methods', 'ste,knn-ce', '--groups', '1,2', '--seeds', '0', '--steps', '2', '--out', out, ...TINY]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/G = 1[\s\S]*\| ste \|[\s\S]*\| knn-ce \|[\s\S]*G = 2/);
    for (const f of ['summary.json', 'report.md', 'usage-g1.png', 'usage-g2.png', 'accuracy-g1.png', 'final-usage.png', 'probe.png']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toHaveLength(4);
    // Run again: every run is reused, nothing retrained.
    const again = run(['compare', '--methods', 'ste,knn-ce', '--groups', '1,2', '--seeds', '0', '--steps', '2', '--out', out, ...TINY]);
    expect(again.code).toBe(0);
    expect(again.stdout.match(/finished earlier, reusing its metrics/g)).toHaveLength(4);
    // Other settings into the same folder: refused before anything is trained or overwritten.
    const before = readFileSync(join(out, 'ste-g1-seed0', 'metrics.json'), 'utf8');
    const clash = run(['compare', '--methods', 'ste,knn-ce', '--groups', '1,2', '--seeds', '0', '--steps', '3', '--out', out, ...TINY]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--out: .*ste-g1-seed0 holds a run made with other settings \(steps: 2 there, 3 now\)/);
    expect(readFileSync(join(out, 'ste-g1-seed0', 'metrics.json'), 'utf8')).toBe(before);
    // A run saved before --init existed started N(0, 1): it must not pass for a run with the data init.
    const path = join(out, 'ste-g1-seed0', 'config.json');
    const { init: _i, initStd: _s, testFraction: _f, trimSilence: _t, evalUtterances: _e, probeUtterances: _p, ...old } = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify(old));
    const legacy = run(['compare', '--methods', 'ste,knn-ce', '--groups', '1,2', '--seeds', '0', '--steps', '2', '--out', out, ...TINY]);
    expect(legacy.code).toBe(2);
    expect(legacy.stderr).toMatch(/ste-g1-seed0 holds a run made with other settings \(evalUtterances: null there, 400 now; init: "normal" there, "data" now; probeUtterances: null there, 800 now\)/);
  });
});
