/**
 * The folders a CLI writes into and resumes from. Checking them is part of validating the command
 * line: an empty `--out`, one that names a file or a place that cannot be written, and a `--resume`
 * folder that holds no run are refused (ConfigError, exit 2) before anything is created. Only then
 * is the folder made (`makeFolder`), one level at a time, so a failure leaves nothing behind.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** The file every run folder holds first; a folder without it holds no run. */
export const RUN_CONFIG = 'config.json';

/** A folder path given on the command line, checked and made absolute; nothing is created. */
export function folderOption(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(option, `expected a folder, got '${value === undefined ? '' : String(value)}'`);
  if (value.includes('\0')) throw new ConfigError(option, 'the path holds a NUL character');
  const dir = resolve(value);
  // The folder itself, or the nearest of its parents that exists, must be a writable folder.
  let at = dir;
  while (!existsSync(at)) {
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  let isDir: boolean;
  try {
    isDir = statSync(at).isDirectory();
  } catch (e) {
    throw new ConfigError(option, `'${at}' cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!isDir) throw new ConfigError(option, at === dir ? `'${dir}' is a file, not a folder` : `'${at}' is a file, so '${dir}' cannot be made`);
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new ConfigError(option, `'${at}' is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return dir;
}

/**
 * `--out` of a command that writes one run (config.json, metrics.json, … in the folder): a new
 * folder, an empty one, or one holding a run (whether its settings may be overwritten is for
 * priorRun to say). A folder with other files and no config.json is refused: it is not a run's.
 */
export function runFolderOption(option: string, value: unknown): string {
  const dir = folderOption(option, value);
  if (existsSync(dir) && !existsSync(join(dir, RUN_CONFIG))) {
    const other = readdirSync(dir).filter((f) => !/\.tmp-\d+-[0-9a-f]+$/.test(f));
    if (other.length > 0) throw new ConfigError(option, `'${dir}' holds files that are not a run's (${other.slice(0, 3).join(', ')}${other.length > 3 ? ', …' : ''}) and no ${RUN_CONFIG}; choose a new or empty folder`);
  }
  return dir;
}

/**
 * `--out` of a command that writes many runs in subfolders and a report beside them (compare,
 * sweep): refused when it is itself a run's folder, whose report it would overwrite.
 */
export function gridFolderOption(option: string, value: unknown): string {
  const dir = folderOption(option, value);
  if (existsSync(join(dir, RUN_CONFIG))) throw new ConfigError(option, `'${dir}' holds a single run (${RUN_CONFIG}); a comparison writes its runs in subfolders of a folder of its own: choose another --${option}`);
  return dir;
}

/**
 * `--resume <dir>`: a folder holding a run, i.e. its config.json, which is returned parsed
 * (not validated: that is the app's). Creates nothing.
 */
export function resumeFolderOption(option: string, value: unknown): { dir: string; saved: Record<string, unknown> } {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(option, `expected a run folder, got '${value === undefined ? '' : String(value)}'`);
  const dir = resolve(value);
  if (!existsSync(dir)) throw new ConfigError(option, `'${dir}' does not exist`);
  if (!statSync(dir).isDirectory()) throw new ConfigError(option, `'${dir}' is a file, not a run folder`);
  const path = join(dir, RUN_CONFIG);
  if (!existsSync(path)) throw new ConfigError(option, `'${dir}' holds no run (no ${RUN_CONFIG})`);
  let saved: unknown;
  try {
    saved = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(option, `${path} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) throw new ConfigError(option, `${path} is not a JSON object of settings`);
  return { dir, saved: saved as Record<string, unknown> };
}

/**
 * Makes `dir` and its missing parents, one level at a time (a recursive mkdir can spin forever
 * under /proc). On failure the levels made are removed again and a ConfigError names `option`.
 */
export function makeFolder(dir: string, option = 'out'): void {
  const missing: string[] = [];
  for (let at = resolve(dir); !existsSync(at); at = dirname(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  const made: string[] = [];
  try {
    for (const d of missing) {
      mkdirSync(d);
      made.push(d);
    }
  } catch (e) {
    for (const d of made.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // leave it: the original error is the one to report
      }
    }
    throw new ConfigError(option, `'${dir}' cannot be created (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
