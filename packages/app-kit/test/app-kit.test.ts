/** The shared CLI pieces: validators, dispatch and exit codes, run reuse, aggregation. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, aggregate, runConflictError, runGrid, choiceOption, intListOption, intOption, meanCell, numberOption, priorRun, runCli, thin, type CliDefinition } from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'app-kit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('option validators', () => {
  it('accept good values and name the option in kebab case on bad ones', () => {
    expect(intOption('codebookSize', '64', 2)).toBe(64);
    expect(() => intOption('codebookSize', '1', 2)).toThrow(/^--codebook-size: expected an integer ≥ 2, got '1'$/);
    expect(() => intOption('steps', '', 1)).toThrow(ConfigError);
    expect(() => intOption('steps', '2.5', 1, 10)).toThrow(/in \[1, 10\]/);
    expect(numberOption('lr', '1e-3', (n) => n > 0, 'a positive number')).toBe(0.001);
    expect(() => numberOption('lr', 'fast', (n) => n > 0, 'a positive number')).toThrow(/--lr: expected a positive number, got 'fast'/);
    expect(choiceOption('backend', 'cpu', ['cpu', 'gpujs'] as const)).toBe('cpu');
    expect(() => choiceOption('backend', 'tpu', ['cpu', 'gpujs'] as const)).toThrow(/--backend: expected one of 'cpu', 'gpujs', got 'tpu'/);
    expect(intListOption('seeds', '0, 1,2', 0)).toEqual([0, 1, 2]);
    expect(() => intListOption('seeds', '0,x', 0)).toThrow(/--seeds: 'x' is not an integer/);
    expect(() => intListOption('seeds', ',', 0)).toThrow(/comma-separated list/);
  });
});

describe('runCli', () => {
  const ran: unknown[] = [];
  const def: CliDefinition = {
    name: 'prog',
    help: 'Usage: prog <command>\n',
    spec: { steps: { type: 'string' }, out: { type: 'string' } },
    commands: {
      go: { help: 'Usage: prog go\n', options: ['steps'], run: (v) => void ran.push(intOption('steps', v.steps ?? '1', 1)) },
      boom: { help: '', options: [], run: () => { throw new Error('kaput'); } },
    },
  };
  const call = async (argv: string[]) => {
    let out = '', err = '';
    const code = await runCli(def, argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
    return { code, out, err };
  };

  it('runs a command and prints help', async () => {
    expect((await call(['go', '--steps', '3'])).code).toBe(0);
    expect(ran).toEqual([3]);
    expect(await call(['--help'])).toMatchObject({ code: 0, out: 'Usage: prog <command>\n' });
    expect(await call(['go', '-h'])).toMatchObject({ code: 0, out: 'Usage: prog go\n' });
    expect((await call([])).code).toBe(2);
  });

  it('exits 2 naming the problem, 1 with the stack on a crash', async () => {
    expect(await call(['go', '--steps', '0'])).toMatchObject({ code: 2, err: expect.stringMatching(/prog go: --steps: expected an integer ≥ 1/) });
    expect(await call(['go', '--out', 'x'])).toMatchObject({ code: 2, err: expect.stringMatching(/--out does not apply to 'go'/) });
    expect(await call(['go', '--bogus'])).toMatchObject({ code: 2, err: expect.stringMatching(/Unknown option '--bogus'/) });
    expect(await call(['nope'])).toMatchObject({ code: 2, err: expect.stringMatching(/unknown command 'nope'/) });
    expect(await call(['boom'])).toMatchObject({ code: 1, err: expect.stringMatching(/kaput/) });
  });
});

describe('priorRun', () => {
  it('tells new, interrupted and finished runs apart, ignoring the listed keys', () => {
    const dir = join(work, 'run');
    expect(priorRun(dir, { a: 1 }).status).toBe('new');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ a: 1, every: 5 }));
    expect(priorRun(dir, { a: 1, every: 5 }).status).toBe('new'); // no checkpoint yet
    expect(priorRun(dir, { a: 2 }).status).toBe('new'); // other settings, but nothing of value to keep
    writeFileSync(join(dir, 'checkpoint.safetensors'), '');
    expect(priorRun(dir, { every: 9, a: 1 }, ['every']).status).toBe('interrupted');
    expect(priorRun(dir, { a: 2, every: 5 })).toEqual({ status: 'conflict', differences: ['a: 1 there, 2 now'] });
    writeFileSync(join(dir, 'metrics.json'), JSON.stringify({ score: 7 }));
    expect(priorRun<{ score: number }>(dir, { a: 1, every: 5 })).toEqual({ status: 'finished', metrics: { score: 7 } });
    // A field added since the run was saved: a conflict, unless normalize fills it in.
    expect(priorRun(dir, { a: 1, every: 5, b: null }).status).toBe('conflict');
    expect(priorRun(dir, { a: 1, every: 5, b: null }, [], (saved) => ({ b: null, ...saved })).status).toBe('finished');
    expect(runConflictError(dir, ['a: 1 there, 2 now']).message).toMatch(/^--out: .*run holds a run made with other settings \(a: 1 there, 2 now\)/);
  });
});

describe('runGrid', () => {
  it('reuses finished runs, resumes interrupted ones, and refuses a clash before training anything', async () => {
    const root = join(work, 'grid');
    const runs = ['a', 'b', 'c'].map((name) => ({ name, dir: join(root, name), config: { name, steps: 2 } }));
    mkdirSync(runs[0]!.dir, { recursive: true });
    writeFileSync(join(runs[0]!.dir, 'config.json'), JSON.stringify(runs[0]!.config));
    writeFileSync(join(runs[0]!.dir, 'metrics.json'), JSON.stringify({ score: 1 }));
    mkdirSync(runs[1]!.dir, { recursive: true });
    writeFileSync(join(runs[1]!.dir, 'config.json'), JSON.stringify(runs[1]!.config));
    writeFileSync(join(runs[1]!.dir, 'checkpoint.safetensors'), '');
    const trained: string[] = [];
    const seen: boolean[] = [];
    const out = await runGrid({
      runs,
      onRun: (_n, _i, _t, reused) => void seen.push(reused),
      train: async (r, resume) => {
        trained.push(`${r.name}${resume ? ' (resumed)' : ''}`);
        return { score: 2 };
      },
    });
    expect(out).toEqual([{ score: 1 }, { score: 2 }, { score: 2 }]);
    expect(trained).toEqual(['b (resumed)', 'c']);
    expect(seen).toEqual([true, false, false]);
    const clash = runs.map((r) => ({ ...r, config: { ...r.config, steps: 3 } }));
    trained.length = 0;
    await expect(runGrid({ runs: clash, train: async () => void trained.push('x') })).rejects.toThrow(/a holds a run made with other settings \(steps: 2 there, 3 now\)/);
    expect(trained).toEqual([]);
  });
});

describe('aggregate', () => {
  it('gives mean and sample standard deviation per group', () => {
    const rs = [{ m: 'a', x: 1 }, { m: 'a', x: 3 }, { m: 'b', x: 5 }];
    const [a, b] = aggregate(rs, (r) => r.m, ['x']);
    expect(a).toEqual({ key: 'a', n: 2, mean: { x: 2 }, spread: { x: Math.SQRT2 } });
    expect(b).toEqual({ key: 'b', n: 1, mean: { x: 5 }, spread: { x: 0 } });
    expect(meanCell(2, Math.SQRT2, 2, 2)).toBe('2.00 ± 1.41');
    expect(meanCell(NaN, 0, 2, 1)).toBe('–');
    expect(thin(Array.from({ length: 1000 }, (_, i) => i), 100).at(-1)).toBe(999);
  });
});
