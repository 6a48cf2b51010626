/**
 * @simplex-vq/nn/node — checkpoints as files, for Node only (node:fs, node:crypto, node:path).
 *
 * The package's main entry reads and writes checkpoints as bytes and loads in any page; this
 * entry adds the file system around it:
 *   saveCheckpoint / loadCheckpoint   serializeCheckpoint / parseCheckpoint to and from a file
 *   writeFileAtomic                   any bytes, written so readers see the old file or the new one
 *   removeStaleTempFiles              the temporary files that writes interrupted by a crash left
 * Files are written to a temporary file beside the target, flushed to disk, then renamed over it,
 * so a crash leaves either the old checkpoint or the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseCheckpoint, serializeCheckpoint, type CheckpointContents, type CheckpointTargets, type LoadedCheckpoint } from '../checkpoint.js';
import { CheckpointError } from '../errors.js';

/** Writes a checkpoint atomically (temporary file, fsync, rename); see serializeCheckpoint. */
export function saveCheckpoint(path: string, c: CheckpointContents): void {
  writeFileAtomic(path, serializeCheckpoint(c, path));
}

/**
 * Writes bytes to `path` so that readers see the old file or the new one, never a partial one:
 * a temporary file beside it (`<path>.tmp-<pid>-<random>`), fsync, rename, fsync of the folder.
 */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may not exist
    }
    throw new CheckpointError(path, undefined, `could not be written: ${(e as Error).message}`);
  }
  try {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Folders cannot be opened or synced on every platform (Windows); the rename is done.
  }
}

/** `<name>.tmp-<pid>-<hex>`: a temporary file of writeFileAtomic, and the process that wrote it. */
const TEMP_FILE = /\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * Removes the temporary files that writes interrupted by a crash left in `dir` (those of this
 * process, whose writes are synchronous and so finished, and of processes no longer running; a
 * running process's are left alone). Returns the names removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_FILE.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && isRunning(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/**
 * Reads a checkpoint file and, for each target given, restores it (see parseCheckpoint): a file
 * that cannot be read, is not a valid checkpoint or does not fit the targets raises a
 * CheckpointError naming the file (and the tensor); a failed restore changes nothing.
 */
export function loadCheckpoint(path: string, targets: CheckpointTargets = {}): LoadedCheckpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(path, undefined, `could not be read: ${(e as Error).message}`);
  }
  return parseCheckpoint(bytes, path, targets);
}
