/**
 * Float64 arrays in a safetensors file (dtype "F64"), for the resync check's states. packages/nn
 * writes F32 and I32 only (checkpoints are float32), and `Tensor.data()` gives float32 even on the
 * float64 backend, so float64 values are read with `toArray()` and written here, byte for byte.
 * Layout as in packages/nn/src/safetensors.ts: an 8-byte little-endian header length, the JSON
 * header (padded with spaces to a multiple of 8), then each tensor's data in name order.
 */
import { writeFileSync } from 'node:fs';
import type { Tensor } from '@simplex-vq/tensor';

export interface F64Array {
  shape: number[];
  data: Float64Array;
}

/** A tensor's values at full precision (float64 on the float64 backend). */
export function f64Of(t: Tensor): F64Array {
  const data = new Float64Array(t.size);
  let i = 0;
  const walk = (v: unknown): void => {
    if (typeof v === 'number') data[i++] = v;
    else for (const e of v as unknown[]) walk(e);
  };
  walk(t.toArray());
  return { shape: [...t.shape], data };
}

export function writeF64Safetensors(file: string, tensors: Record<string, F64Array>): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const name of names) {
    const bytes = tensors[name]!.data.length * 8;
    header[name] = { dtype: 'F64', shape: tensors[name]!.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const name of names) {
    for (const v of tensors[name]!.data) {
      view.setFloat64(pos, v, true);
      pos += 8;
    }
  }
  writeFileSync(file, out);
}
