/**
 * The demo's command line as a user runs it (the built dist/main.js in a child process): a bad
 * value of every option exits 2 with one line naming it, no stack trace; a short run prints its loss.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('simplex-demo command line', () => {
  it.each([
    [['--steps', '0'], /--steps must be an integer in \[1, 1000000\], got '0'/],
    [['--steps', '1e12'], /--steps must be an integer in \[1, 1000000\]/],
    [['--lr', '0'], /--lr must be a number in \(0, 10\], got '0'/],
    [['--lr', 'fast'], /--lr must be a number/],
    [['--hidden', '1e9'], /--hidden must be an integer in \[1, 4096\], got '1e9'/],
    [['--hidden', '2.5'], /--hidden must be an integer/],
    [['--points', '1'], /--points must be an integer in \[2, 1000000\]/],
    [['--points', '1e12'], /--points must be an integer in \[2, 1000000\]/],
    [['--seed=-1'], /--seed must be an integer in \[0, 2147483648\]/],
    [['--seed', ''], /--seed must be an integer/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('%j exits 2 naming the option', (args, message) => {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('trains and prints its loss and accuracy', () => {
    const r = run(['--steps', '5', '--points', '64', '--hidden', '8']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/step +5 {2}loss \d\.\d{4}/);
    expect(r.stdout).toMatch(/accuracy: train \d+\.\d%, test \d+\.\d%/);
  });
});
