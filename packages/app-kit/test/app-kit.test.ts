/** The shared CLI pieces: validators, dispatch and exit codes, run reuse, aggregation. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensor } from '@simplex-vq/tensor';
import {
  ConfigError, RunError, RunFileError, aggregate, checkStateFinite, checkStepFinite, gridFolderOption, historyUpTo, listOption, makeFolder, refuseWithResume, resumeFolderOption,
  runConflictError, runFolderOption, runGrid, choiceOption, intListOption, intOption, meanCell, numberOption, priorRun, runCli, thin, type CliDefinition,
} from '../src/index.js';

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
    expect(() => intListOption('seeds', '0,1e30', 0, 2 ** 31)).toThrow(/--seeds: '1e30' is not an integer in \[0, 2147483648\]/);
    expect(() => intListOption('seeds', '1,01', 0)).toThrow(/--seeds: '01' is given twice \(as '1'\)$/);
    expect(() => listOption('methods', 'ste,knn,ste', (x) => x)).toThrow(/--methods: 'ste' is given twice$/);
  });
});

describe('folder options', () => {
  it('refuse an empty --out, a file, a place under a file or one that cannot be made, creating nothing', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    expect(() => runFolderOption('out', '')).toThrow(/^--out: expected a folder, got ''$/);
    expect(() => runFolderOption('out', '  ')).toThrow(/--out: expected a folder/);
    expect(() => runFolderOption('out', file)).toThrow(/--out: '.*a-file' is a file, not a folder/);
    expect(() => gridFolderOption('out', join(file, 'sub', 'deeper'))).toThrow(/--out: '.*a-file' is a file, so '.*deeper' cannot be made/);
    expect(runFolderOption('out', join(work, 'new', 'run'))).toBe(join(work, 'new', 'run'));
    expect(existsSync(join(work, 'new'))).toBe(false);
    // Under /proc a folder cannot be made (and a recursive mkdir would spin): refused, nothing left.
    expect(() => makeFolder('/proc/simplex-vq-test/a/b', 'out')).toThrow(/--out: '\/proc\/simplex-vq-test\/a\/b' cannot be created \(ENOENT\)/);
    makeFolder(join(work, 'made', 'here'));
    expect(existsSync(join(work, 'made', 'here'))).toBe(true);
  });

  it('a run folder must hold a run or nothing; a comparison folder must not be a run', () => {
    const other = join(work, 'someones-files');
    mkdirSync(other);
    writeFileSync(join(other, 'thesis.tex'), 'x');
    expect(() => runFolderOption('out', other)).toThrow(/--out: '.*someones-files' holds files that are not a run's \(thesis\.tex\) and no config\.json; choose a new or empty folder/);
    const run = join(work, 'a-run');
    mkdirSync(run);
    writeFileSync(join(run, 'config.json'), '{}');
    writeFileSync(join(run, 'report.md'), '');
    expect(runFolderOption('out', run)).toBe(run);
    expect(() => gridFolderOption('out', run)).toThrow(/--out: '.*a-run' holds a single run \(config\.json\)/);
    expect(gridFolderOption('out', other)).toBe(other);
  });

  it('--resume needs a folder holding a run whose config.json is a JSON object', () => {
    expect(() => resumeFolderOption('resume', '')).toThrow(/--resume: expected a run folder/);
    expect(() => resumeFolderOption('resume', join(work, 'nowhere'))).toThrow(/--resume: '.*nowhere' does not exist/);
    expect(() => resumeFolderOption('resume', join(work, 'a-file'))).toThrow(/--resume: '.*a-file' is a file, not a run folder/);
    expect(() => resumeFolderOption('resume', join(work, 'someones-files'))).toThrow(/--resume: '.*someones-files' holds no run \(no config\.json\)/);
    const bad = join(work, 'bad-config');
    mkdirSync(bad);
    writeFileSync(join(bad, 'config.json'), '{"steps": 3,');
    expect(() => resumeFolderOption('resume', bad)).toThrow(/--resume: .*config\.json is not valid JSON/);
    writeFileSync(join(bad, 'config.json'), '[1]');
    expect(() => resumeFolderOption('resume', bad)).toThrow(/is not a JSON object of settings/);
    writeFileSync(join(bad, 'config.json'), '{"steps": 3}');
    expect(resumeFolderOption('resume', bad)).toEqual({ dir: bad, saved: { steps: 3 } });
  });
});

describe('resuming', () => {
  it('refuses options a resumed run would ignore', () => {
    expect(() => refuseWithResume({ resume: 'x', steps: '9', threads: '1' })).not.toThrow();
    expect(() => refuseWithResume({ resume: 'x', lr: '0.1', seed: '2', steps: '9' })).toThrow(/^--resume: a resumed run keeps its settings; only --steps and --threads may be given with it \(got --lr, --seed\)$/);
  });

  it('keeps the history rows up to the checkpoint, and refuses a history that disagrees with it', () => {
    const h = join(work, 'history.csv');
    const header = 'step,loss';
    writeFileSync(h, `${header}\n1,0.5\n2,0.4\n3,0.3\n4,0.2\n`);
    expect(historyUpTo(h, header, 3)).toBe(`${header}\n1,0.5\n2,0.4\n3,0.3\n`);
    expect(historyUpTo(h, header, 0)).toBe(`${header}\n`);
    expect(() => historyUpTo(h, header, 6)).toThrow(/history\.csv: ends at step 4, but the checkpoint is at step 6/);
    expect(() => historyUpTo(h, 'step,loss,x', 2)).toThrow(/does not start with the header 'step,loss,x'/);
    writeFileSync(h, `${header}\n1,0.5\n3,0.3\n`);
    expect(() => historyUpTo(h, header, 2)).toThrow(/line 3 is step 3 where step 2 was expected/);
    writeFileSync(h, `${header}\n1,0.5\n2\n`);
    expect(() => historyUpTo(h, header, 2)).toThrow(RunFileError);
    expect(() => historyUpTo(join(work, 'none.csv'), header, 2)).toThrow(/none\.csv: is missing, but the checkpoint is at step 2/);
    expect(historyUpTo(join(work, 'none.csv'), header, 0)).toBe(`${header}\n`);
  });

  it('non-finite figures or state stop training, naming the step, the quantity and the checkpoint kept', () => {
    const last = { step: 10, file: 'run/checkpoint.safetensors', hint: 'a smaller --lr' };
    expect(() => checkStepFinite(12, { loss: 1, recon: 0.5 }, last)).not.toThrow();
    expect(() => checkStepFinite(12, { quantizerLoss: Infinity, loss: NaN }, last)).toThrow(/^training diverged at step 12: quantizerLoss is Infinity; the last good checkpoint \(step 10\) is kept in run\/checkpoint\.safetensors; nothing after it was saved; try a smaller --lr$/);
    expect(() => checkStepFinite(3, { loss: NaN }, { step: null, file: 'x' })).toThrow(/at step 3: loss is NaN; no checkpoint had been saved yet/);
    expect(() => checkStateFinite(20, [['a', tensor([1, 2])], ['b', tensor([[0, 1], [NaN, 2]])]], last)).toThrow(/at step 20: tensor "b" holds NaN \(element 2 of 4\)/);
    expect(() => checkStateFinite(20, [['i', tensor(Int32Array.from([1]))]], last)).not.toThrow();
    expect(() => checkStepFinite(1, { loss: NaN }, last)).toThrow(RunError);
  });
});

class FileProblem extends Error {}

describe('runCli', () => {
  const ran: unknown[] = [];
  const def: CliDefinition = {
    name: 'prog',
    help: 'Usage: prog <command>\n',
    spec: { steps: { type: 'string' }, out: { type: 'string' } },
    commands: {
      go: { help: 'Usage: prog go\n', options: ['steps'], run: (v) => void ran.push(intOption('steps', v.steps ?? '1', 1)) },
      boom: { help: '', options: [], run: () => { throw new Error('kaput'); } },
      bad: { help: '', options: [], run: () => { throw new FileProblem('run/checkpoint.safetensors: tensor "w": holds NaN'); } },
      diverge: { help: '', options: [], run: () => { throw new RunError('training diverged at step 3: loss is NaN'); } },
      history: { help: '', options: [], run: () => { throw new RunFileError('run/history.csv', 'ends at step 2'); } },
    },
    inputErrors: [FileProblem],
  };
  const call = async (argv: string[], env: Record<string, string> = {}) => {
    let out = '', err = '';
    const code = await runCli(def, argv, { out: (s) => void (out += s), err: (s) => void (err += s) }, env);
    return { code, out, err };
  };

  it('runs a command and prints help', async () => {
    expect((await call(['go', '--steps', '3'])).code).toBe(0);
    expect(ran).toEqual([3]);
    expect(await call(['--help'])).toMatchObject({ code: 0, out: 'Usage: prog <command>\n' });
    expect(await call(['go', '-h'])).toMatchObject({ code: 0, out: 'Usage: prog go\n' });
    expect((await call([])).code).toBe(2);
  });

  it('exits 2 naming the problem in one line; 1 for a run that stopped', async () => {
    expect(await call(['go', '--steps', '0'])).toEqual({ code: 2, out: '', err: "prog go: --steps: expected an integer ≥ 1, got '0' (see 'prog go --help')\n" });
    expect((await call(['go', '--steps', '-3'])).err).toBe("prog go: --steps: expected an integer ≥ 1, got '-3' (see 'prog go --help')\n");
    expect((await call(['go', '--steps', '-Infinity'])).err).toMatch(/--steps: expected an integer ≥ 1, got '-Infinity'/);
    expect(await call(['go', '--out', 'x'])).toMatchObject({ code: 2, err: expect.stringMatching(/--out does not apply to 'go'/) });
    expect(await call(['go', '--bogus'])).toMatchObject({ code: 2, err: expect.stringMatching(/Unknown option '--bogus'/) });
    expect(await call(['nope'])).toEqual({ code: 2, out: '', err: "prog: unknown command 'nope'; the commands are go, boom, bad, diverge, history (see 'prog --help')\n" });
    expect(await call(['bad'])).toEqual({ code: 2, out: '', err: 'prog bad: run/checkpoint.safetensors: tensor "w": holds NaN\n' });
    expect(await call(['history'])).toEqual({ code: 2, out: '', err: 'prog history: run/history.csv: ends at step 2\n' });
    expect(await call(['diverge'])).toEqual({ code: 1, out: '', err: 'prog diverge: training diverged at step 3: loss is NaN\n' });
  });

  it('a bug prints one line: what failed, where, and where to report it; the stack only with SIMPLEX_DEBUG=1', async () => {
    const r = await call(['boom']);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(2); // one line and its newline
    expect(r.err).toMatch(/^prog boom: unexpected error: Error: kaput \(at app-kit\.test\.ts:\d+:\d+\); this is a bug, please report it with the command line to the simplex-vq repository's issues \(SIMPLEX_DEBUG=1 prints the stack\)\n$/);
    const d = await call(['boom'], { SIMPLEX_DEBUG: '1' });
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/^prog boom: unexpected error: Error: kaput \(at [^)]*\); this is a bug, please report it with the command line to the simplex-vq repository's issues\nError: kaput\n    at /);
    expect((await call(['go', '--steps', '0'], { SIMPLEX_DEBUG: '1' })).err).toMatch(/\n    at /);
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

  it('looks at each folder again before its turn: a run another process finished meanwhile is reused', async () => {
    const root = join(work, 'grid-shared');
    const runs = ['a', 'b'].map((name) => ({ name, dir: join(root, name), config: { name, steps: 2 } }));
    const trained: string[] = [];
    const out = await runGrid({
      runs,
      train: async (r) => {
        trained.push(r.name);
        // Meanwhile another sweep into the same folder finishes b.
        mkdirSync(runs[1]!.dir, { recursive: true });
        writeFileSync(join(runs[1]!.dir, 'config.json'), JSON.stringify(runs[1]!.config));
        writeFileSync(join(runs[1]!.dir, 'metrics.json'), JSON.stringify({ score: 7 }));
        return { score: 2 };
      },
    });
    expect(trained).toEqual(['a']);
    expect(out).toEqual([{ score: 2 }, { score: 7 }]);
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
