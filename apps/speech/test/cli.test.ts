/**
 * simplex-speech as a user runs it (the built dist/cli.js in a child process): help, bad input,
 * and train, resume and compare end to end on a tiny corpus and model.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    [['train', '--label-pattern', '('], /--label-pattern: not a regular expression/],
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

  it('reports an unreadable --data folder and exits 1 rather than training on nothing', () => {
    const r = run(['train', '--data', join(work, 'no-such-folder'), '--out', join(work, 'nodata'), ...TINY.slice(10)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-folder/);
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
  });
});
