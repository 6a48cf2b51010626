/** writePng: atomic write (temp file + rename), folder creation, refusal of non-PNG bytes. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageGrid, isPng, writePng } from '../src/index.js';

describe('writePng', () => {
  it('writes the bytes, creating folders, replacing an old file and leaving no temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'viz-write-'));
    const path = join(dir, 'report', 'figs', 'grid.png');
    const bytes = imageGrid({ images: [[0, 1]], width: 2, height: 1, columns: 1 });
    await writePng(path, bytes);
    expect(new Uint8Array(readFileSync(path))).toEqual(bytes);
    writeFileSync(path, 'old');
    const other = imageGrid({ images: [[1, 0]], width: 2, height: 1, columns: 1 });
    await writePng(path, other);
    expect(new Uint8Array(readFileSync(path))).toEqual(other);
    expect(readdirSync(join(dir, 'report', 'figs'))).toEqual(['grid.png']);
  });

  it('refuses data that is not a PNG, with a hint for a forgotten await', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'viz-write-'));
    await expect(writePng(join(dir, 'x.png'), new Uint8Array([1, 2, 3]))).rejects.toThrow(/writePng: bytes must be PNG data.*3 bytes without the PNG signature/);
    const pending = Promise.resolve(new Uint8Array());
    await expect(writePng(join(dir, 'x.png'), pending as unknown as Uint8Array)).rejects.toThrow(/a Promise \(did you forget await\?\)/);
    await expect(writePng('', new Uint8Array())).rejects.toThrow(/writePng: path must be a non-empty string/);
    expect(readdirSync(dir)).toEqual([]);
    expect(isPng(imageGrid({ images: [[0]], width: 1, height: 1, columns: 1 }))).toBe(true);
  });
});
