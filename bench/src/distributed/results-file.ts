/**
 * Reads the safetensors files PyTorch's side writes (ddp_twin.write_safetensors): F64 results, and
 * F32 or I32 tensors. packages/nn's parseSafetensors reads F32 and I32 only (checkpoints are
 * float32) and makes tensors on the current backend; results are only compared, so here every
 * tensor becomes a Float64Array (exact for all three dtypes). Same layout: an 8-byte
 * little-endian header length, the JSON header, then the data at [begin, end) of each entry.
 */
import { readFileSync } from 'node:fs';
import type { F64Array } from '../trajectory/f64-file.js';

export interface ResultsFile {
  tensors: Record<string, F64Array>;
  metadata: Record<string, string>;
}

const WIDTH = { F64: 8, F32: 4, I32: 4 } as const;

export function readResultsFile(file: string): ResultsFile {
  const bytes = readFileSync(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new Error(`${file}: header length ${n} runs past the end of the file`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: Record<string, F64Array> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = raw as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(e.dtype in WIDTH)) throw new Error(`${file}: tensor ${name} has dtype ${e.dtype}, expected F64, F32 or I32`);
    const width = WIDTH[e.dtype as keyof typeof WIDTH];
    const [begin, end] = e.data_offsets;
    const count = (end - begin) / width;
    if (count !== e.shape.reduce((a, b) => a * b, 1) || 8 + n + end > bytes.length) throw new Error(`${file}: tensor ${name}'s data does not fit its shape or the file`);
    const data = new Float64Array(count);
    const at = 8 + n + begin;
    for (let i = 0; i < count; i++) {
      const p = at + i * width;
      data[i] = e.dtype === 'F64' ? view.getFloat64(p, true) : e.dtype === 'F32' ? view.getFloat32(p, true) : view.getInt32(p, true);
    }
    tensors[name] = { shape: e.shape, data };
  }
  return { tensors, metadata };
}
