import { randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { failType } from './errors.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the bytes start with the 8-byte PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Writes PNG bytes to `path` atomically: to a temporary file in the same folder, then renamed over
 * the target, so a reader never sees half a picture. Creates the folder when missing.
 */
export async function writePng(path: string, bytes: Uint8Array): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) failType('writePng', 'path must be a non-empty string');
  if (!isPng(bytes)) {
    failType('writePng', `bytes must be PNG data (Uint8Array starting with the PNG signature); got ${describe(bytes)}`);
  }
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

function describe(v: unknown): string {
  if (v instanceof Promise) return 'a Promise (did you forget await?)';
  if (v instanceof Uint8Array) return `${v.length} bytes without the PNG signature`;
  return v === null ? 'null' : typeof v;
}
