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
    mkdirSync(data, { recursive: true });
    let seed = 1;
    const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (const speaker of ['ann', 'bob', 'cy']) {
      for (const digit of [1, 2, 3]) {
        for (let n = 0; n < 2; n++) {
          const x = Float32Array.from({ length: 4800 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 200 * digit * i) / 8000) + 0.05 * noise());
          writeFileSync(join(data, `${digit}_${speaker}_${n}.wav`), wav16(x, 8000));
        }
      }
    }
    writeFileSync(join(data, '9_bob_garbage.wav'), 'this is not a wav file');
    const dir = join(work, 'wavrun');
    const r = run(['train', '--data', data, '--label-pattern', '^(\\d+)_', '--speaker-pattern', '^\\d+_([a-z]+)_', '--steps', '2', '--out', dir, ...MODEL]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/skipped .*9_bob_garbage\.wav/);
    expect(r.stdout).toMatch(/18 WAV files/);
    const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    expect(m.data).toMatch(/1 skipped/);
    expect(m.probeAccuracy).toBeGreaterThanOrEqual(0);
  });

  it('trains, resumes and compares end to end', () => {
    const dir = join(work, 'run');
    const t = run(['train', '--method', 'knn-ce', '--groups', '2', '--steps', '2', '--out', dir, ...TINY]);
    expect(t.stderr).not.toMatch(/Error/);
    expect(t.code).toBe(0);
    for (const f of ['config.json', 'metrics.json', 'history.csv', 'checkpoint.safetensors', 'report.md', 'training.png', 'usage-g1.png', 'usage-g2.png']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
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
  });
});
