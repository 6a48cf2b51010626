/**
 * The CLI end to end, as a user runs it (the built dist/cli.js in a child process), on tiny
 * configurations.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS, normalizeSavedConfig, resolveConfig } from '../src/config.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'simplex-ae-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TINY = ['--codebook-size', '16', '--dim', '4', '--hidden', '8', '--batch-size', '4', '--eval-images', '20', '--checkpoint-every', '3'];

describe('simplex-ae', () => {
  it('prints help for the program and for every command', () => {
    const main = run(['--help']);
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Commands:[\s\S]*train[\s\S]*compare[\s\S]*toy/);
    for (const cmd of ['train', 'compare', 'toy']) {
      const r = run([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toContain(`Usage: simplex-ae ${cmd}`);
    }
  });

  it.each([
    [['train', '--method', 'nope'], /--method: unknown method 'nope'/],
    [['train', '--steps=-3'], /--steps: expected an integer/],
    [['train', '--steps', '0'], /--steps: expected an integer in \[1, 10000000\], got '0'/],
    [['train', '--lr', 'fast'], /--lr: expected a learning rate/],
    [['train', '--dim', '6', '--groups', '4'], /--groups: 4 groups do not divide --dim 6/],
    [['train', '--k', '9999', '--batch-size', '2'], /--k: K = 9999 exceeds the 98 latent vectors per shard/],
    [['train', '--bogus', '1'], /Unknown option '--bogus'/],
    [['toy', '--methods', 'ste'], /--methods does not apply to 'toy'/],
    [['compare', '--methods', 'ste,nope'], /--methods: unknown method 'nope'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['train', '--init', 'kmeans'], /--init: expected one of 'data', 'normal', 'none', got 'kmeans'/],
    [['train', '--method', 'ste', '--init', 'none'], /--init: ste learns a codebook: choose 'data' or 'normal'/],
    [['train', '--init-std', '0'], /--init-std: expected a standard deviation/],
    [['train', '--method', 'gumbel+restart'], /--method: unknown method 'gumbel\+restart'/],
    [['train', '--threads', '0'], /--threads: expected an integer in \[1, 256\]/],
    [['train', '--output-bias', 'zero'], /--output-bias: expected one of 'data', 'default'/],
    [['compare', '--init', 'data,kmeans'], /--init: expected 'data' or 'normal', got 'kmeans'/],
    [['sweep', '--vertex-subsets', '0.5,2'], /--vertex-subsets: '2' is not a fraction in \(0, 1\)/],
  ])('exits 2 with a message on bad input: %j', (args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('train writes every file, with metrics in range', () => {
    const out = join(work, 'train');
    const r = run(['train', '--method', 'knn-ce', '--steps', '6', '--out', out, ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['config.json', 'metrics.json', 'history.csv', 'checkpoint.safetensors', 'reconstructions.png', 'usage.png', 'training.png', 'report.md']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    // A run of a method other than rvq writes no `levels`: its config.json is what it was before rvq existed.
    const saved = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(saved).not.toHaveProperty('levels');
    expect(normalizeSavedConfig(saved)).toEqual(saved);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    const fields = ['method', 'codebookSize', 'dim', 'k', 'steps', 'seed', 'codeUsage', 'perplexityOfMean', 'perplexityOfMeanSoft', 'individualPerplexity', 'perSampleCodeUsage', 'mseHard', 'mseSoft', 'psnrHard', 'trainSeconds', 'stepsPerSecond'];
    for (const f of fields) expect(m, f).toHaveProperty(f);
    expect(m.method).toBe('knn-ce');
    expect(m.steps).toBe(6);
    expect(m.codeUsage).toBeGreaterThan(0);
    expect(m.codeUsage).toBeLessThanOrEqual(1);
    for (const f of ['perplexityOfMean', 'perplexityOfMeanSoft', 'individualPerplexity']) {
      expect(m[f]).toBeGreaterThanOrEqual(1 - 1e-9);
      expect(m[f]).toBeLessThanOrEqual(16 + 1e-9);
    }
    expect(m.perSampleCodeUsage).toBeGreaterThan(0);
    expect(m.perSampleCodeUsage).toBeLessThanOrEqual(1);
    expect(m.mseHard).toBeGreaterThan(0);
    expect(m.mseHard).toBeLessThan(1);
    expect(m.psnrHard).toBeCloseTo(10 * Math.log10(1 / m.mseHard), 6);
    expect(m.stepsPerSecond).toBeGreaterThan(0);
    const history = readFileSync(join(out, 'history.csv'), 'utf8').trim().split('\n');
    expect(history[0]).toBe('step,loss,recon,quantizer_loss,batch_usage,seconds');
    expect(history).toHaveLength(7);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('![reconstructions](reconstructions.png)');
  });

  it('train --method rvq trains residual stages: levels in config.json, a codebook per stage, each stage a group of the metrics', () => {
    const out = join(work, 'rvq');
    const r = run(['train', '--method', 'rvq', '--levels', '3', '--steps', '4', '--out', out, ...TINY]);
    expect(r.code, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ method: 'rvq', levels: 3, codebookSize: 16, init: 'data' });
    const header = readFileSync(join(out, 'checkpoint.safetensors')).toString('latin1', 8, 8 + readFileSync(join(out, 'checkpoint.safetensors')).readUInt32LE(0));
    for (const stage of [0, 1, 2]) expect(header).toContain(`"quantizer.stages.${stage}.codebook"`);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(m.method).toBe('rvq');
    expect(m.codebookSize).toBe(16);
    expect(m.histogram).toHaveLength(3 * 16); // one histogram per stage
    expect(m.codeUsage).toBeGreaterThan(0);
    expect(m.codeUsage).toBeLessThanOrEqual(1);
    expect(m.mseHard).toBeGreaterThan(0);
    expect(m.mseHard).toBeLessThan(1);
    expect(readFileSync(join(out, 'history.csv'), 'utf8').trim().split('\n')).toHaveLength(5);
    // The same run again is reused as the same settings; another --levels is another run.
    expect(run(['train', '--method', 'rvq', '--levels', '3', '--steps', '4', '--out', out, ...TINY]).code).toBe(0);
    const other = run(['train', '--method', 'rvq', '--levels', '2', '--steps', '4', '--out', out, ...TINY]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/holds a run made with other settings \(levels: 3 there, 2 now\)/);
    // Without --out the folder names the stages; --levels alone defaults rvq's stages, and only rvq takes it.
    const named = spawnSync(process.execPath, [CLI, 'train', '--method', 'rvq', '--levels', '2', '--steps', '2', ...TINY], { encoding: 'utf8', cwd: work, timeout: 300_000 });
    expect(named.status, named.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(work, 'runs', 'rvq2-data-seed0', 'config.json'), 'utf8')).levels).toBe(2);
    expect(resolveConfig({ method: 'rvq' }).levels).toBe(4);
    expect(resolveConfig({}).levels).toBeUndefined();
    expect(DEFAULTS).not.toHaveProperty('levels');
  });

  it('--resume continues an interrupted run to the same result as an uninterrupted one', () => {
    const full = join(work, 'full');
    const part = join(work, 'part');
    const args = ['--method', 'knn-ce', '--seed', '3', ...TINY];
    expect(run(['train', '--steps', '8', '--out', full, ...args]).code).toBe(0);
    // "Interrupted" after 6 steps (a checkpoint at step 6), then resumed to 8.
    expect(run(['train', '--steps', '6', '--out', part, ...args]).code).toBe(0);
    const resumed = run(['train', '--resume', part, '--steps', '8']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(full, 'metrics.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(part, 'metrics.json'), 'utf8'));
    for (const f of ['codeUsage', 'perplexityOfMean', 'individualPerplexity', 'mseHard', 'mseSoft', 'histogram']) expect(b[f], f).toEqual(a[f]);
    const rows = (d: string) => readFileSync(join(d, 'history.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 5).join(','));
    expect(rows(part)).toEqual(rows(full)); // the same losses at every step
  });

  it('compare writes a summary and a report with the table and charts, and reuses finished runs', () => {
    const out = join(work, 'compare');
    const args = ['compare', '--methods', 'ste,knn-ce,fsq', '--init', 'data,normal', '--seeds', '0,1', '--steps', '3', '--threads', '1', '--out', out, ...TINY];
    const r = run(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| knn-ce \(data\) \| 2 \|/);
    expect(r.stdout).toMatch(/\| fsq \| 2 \|/);
    // The printed table says which init each row used, and the line under it what the inits are.
    expect(r.stdout).toMatch(/Codebook init: 'data' \(k-means\+\+[^\n]*'normal' \(N\(0, 1²\)/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    // fsq has no codebook: it runs once, not once per init.
    expect(summary.map((s: { method: string; init: string; seed: number }) => `${s.method}/${s.init}/${s.seed}`)).toEqual([
      'ste/data/0', 'ste/data/1', 'knn-ce/data/0', 'knn-ce/data/1', 'fsq/none/0', 'fsq/none/1', 'ste/normal/0', 'ste/normal/1', 'knn-ce/normal/0', 'knn-ce/normal/1',
    ]);
    expect(existsSync(join(out, 'fsq-seed0', 'metrics.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'ste-normal-seed1', 'config.json'), 'utf8'))).toMatchObject({ method: 'ste', init: 'normal', seed: 1 });
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| method \(init\) \| seeds \| code usage/);
    expect(report).toContain('±');
    for (const f of ['usage-data.png', 'start-data.png', 'recon-data.png', 'usage-normal.png', 'start-normal.png', 'final-usage.png', 'individual-perplexity.png']) expect(existsSync(join(out, f)), f).toBe(true);
    const again = run(args);
    expect(again.code).toBe(0);
    expect(again.stdout.match(/finished earlier/g)).toHaveLength(10);
    // The thread count is not part of a run's identity: another --threads reuses the runs.
    const other = run(args.map((a, i) => (args[i - 1] === '--threads' ? '2' : a)));
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout.match(/finished earlier/g)).toHaveLength(10);
  });

  it('sweep runs every method × init per C, the vertex subsets, and judges the claims from the numbers', () => {
    const out = join(work, 'sweep');
    const methods = 'ste,smooth,perplexity,simvq,knn-l2,knn-ce,ste+restart,fsq,lfq';
    const r = run(['sweep', '--dims', '2,4', '--methods', methods, '--init', 'data,normal', '--seeds', '0', '--steps', '2', '--vertex-subsets', '0.5', '--subset-dim', '4', '--out', out, ...TINY.filter((_, i, a) => a[i] !== '--dim' && a[i - 1] !== '--dim')]);
    expect(r.code, r.stderr).toBe(0);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/## C = 2[\s\S]*## C = 4/);
    expect(report).toMatch(/### Init 'data'[\s\S]*### Init 'normal'/);
    expect(report).toMatch(/\*\*1\. KNN-CE reaches near-complete code usage[^*]*\*\* — (holds|does not hold|unclear)\. KNN-CE code usage at C = 2 \/ 4: [0-9.]+ \/ [0-9.]+/);
    expect(report).toMatch(/\*\*8 \(init 'normal'\)\. Vertex subsampling[^*]*\*\* — (holds|does not hold|unclear)/);
    expect(report).toMatch(/\| all \| [0-9.]+ \| [0-9.]+ \|\n\| 1\/2 \| [0-9.]+ \| [0-9.]+ \|/);
    for (const f of ['code-usage-data.png', 'individual-perplexity-normal.png', 'per-image-usage-data.png', 'mse-normal.png', 'c2/summary.json', 'c4/report.md', 'c4/start-data.png', 'subsets/knn-ce-data-v0.5-seed0/metrics.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
  }, 240_000); // one process trains 40 tiny runs: ~35 s on a quiet machine, more under load

  it('toy draws the triangle picture', () => {
    const out = join(work, 'toy');
    const r = run(['toy', '--steps', '30', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(out, 'simplex.png'))).toBe(true);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toMatch(/KNN-CE/);
  });
});
