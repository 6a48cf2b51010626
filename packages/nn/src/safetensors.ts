/**
 * The safetensors format (as the `safetensors` library reads and writes it), in pure TypeScript:
 *
 *   bytes 0..8      N, the header length, an unsigned 64-bit little-endian integer
 *   bytes 8..8+N    a UTF-8 JSON object: for each tensor name
 *                     { "dtype": "F32" | "I32", "shape": [...], "data_offsets": [begin, end] }
 *                   and optionally "__metadata__": { string: string }
 *   bytes 8+N..     the data: each tensor's elements, row-major, little-endian, at
 *                   [begin, end) counted from the start of this section
 *
 * Writing: tensors in name order, packed without gaps; the header is padded with spaces to a
 * multiple of 8 bytes so every tensor starts 8-byte aligned in the file. Reading checks
 * everything the reference library checks (the header fits the file, the JSON is an object,
 * dtypes are known, every tensor's byte size is its element count × 4, the offsets cover the
 * data exactly once with no gap or overlap) and raises a CheckpointError naming the file and
 * the tensor. No Node API is used: these run in a browser too.
 */
import { tensor, type Tensor } from '@simplex-vq/tensor';
import { CheckpointError } from './errors.js';

export type SafetensorsDType = 'F32' | 'I32';

export interface SafetensorsContents {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: SafetensorsDType;
  shape: number[];
  data_offsets: [number, number];
}

/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER = 100_000_000;
const METADATA = '__metadata__';
/** dtypes of the format this package does not store (reported as unsupported rather than unknown). */
const OTHER_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'U32', 'I64', 'U64', 'F64']);
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The raw little-endian bytes of a tensor's elements. */
function tensorBytes(t: Tensor): Uint8Array {
  const data = t.data(); // a fresh Float32Array or Int32Array
  if (littleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i]!, true);
    else view.setInt32(i * 4, data[i]!, true);
  }
  return out;
}

/** Serializes tensors (float32 → F32, int32 → I32) and string metadata into safetensors bytes. */
export function serializeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new CheckpointError('<serialize>', undefined, `metadata "${k}" must be a string, got ${typeof v}`);
    }
    header[METADATA] = metadata;
  }
  const names = Object.keys(tensors).sort();
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    if (name === METADATA) throw new CheckpointError('<serialize>', name, 'this name is reserved for metadata');
    const t = tensors[name]!;
    const bytes = tensorBytes(t);
    const entry: HeaderEntry = { dtype: t.dtype === 'int32' ? 'I32' : 'F32', shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    header[name] = entry;
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen); // space padding, allowed by the format
  let pos = 8 + headerLen;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

const isNatural = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses safetensors bytes. `file` names the source in error messages. Tensors are created on the
 * current backend; F32 and I32 are supported.
 */
export function parseSafetensors(bytes: Uint8Array, file = '<bytes>'): SafetensorsContents {
  function fail(message: string, tensorName?: string): never {
    throw new CheckpointError(file, tensorName, message);
  }
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true), hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (n > MAX_HEADER) fail(`header length ${n} exceeds the 100 MB limit (corrupt file?)`);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  if (n === 0 || bytes[8] !== 0x7b) fail('header does not start with "{" (not a safetensors file?)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('header is not a JSON object');
  const header = parsed as Record<string, unknown>;
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  if (METADATA in header) {
    const m = header[METADATA];
    if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('"__metadata__" is not an object');
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`metadata "${k}" is not a string`);
      metadata[k] = v as string;
    }
  }

  const entries: Array<[string, HeaderEntry]> = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA) continue;
    if (typeof raw !== 'object' || raw === null) fail('header entry is not an object', name);
    const e = raw as Record<string, unknown>;
    if (typeof e.dtype !== 'string') fail('missing dtype', name);
    const dtype = e.dtype as string;
    if (dtype !== 'F32' && dtype !== 'I32') {
      fail(OTHER_DTYPES.has(dtype) ? `dtype ${dtype} is not supported (only F32 and I32)` : `unknown dtype "${dtype}"`, name);
    }
    if (!Array.isArray(e.shape) || !e.shape.every(isNatural)) fail(`shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`, name);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isNatural) || off[0] > off[1]) {
      fail(`data_offsets ${JSON.stringify(off)} are not [begin, end] with 0 ≤ begin ≤ end`, name);
    }
    const shape = e.shape as number[];
    const [begin, end] = off as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4) {
      fail(`holds ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${count * 4}`, name);
    }
    if (end > dataLen) fail(`data_offsets [${begin}, ${end}] run past the ${dataLen} bytes of data (truncated?)`, name);
    entries.push([name, { dtype: dtype as SafetensorsDType, shape, data_offsets: [begin, end] }]);
  }

  // The data must be covered exactly: sorted by offset, each tensor starts where the last ended.
  const byOffset = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
  let expected = 0;
  let previous: string | undefined;
  for (const [name, e] of byOffset) {
    const [begin, end] = e.data_offsets;
    if (begin < expected) fail(`data_offsets [${begin}, ${end}] overlap tensor "${previous}" (which ends at ${expected})`, name);
    if (begin > expected) fail(`data_offsets [${begin}, ${end}] leave a gap of ${begin - expected} bytes after ${previous ? `tensor "${previous}"` : 'the header'}`, name);
    expected = end;
    previous = name;
  }
  if (expected !== dataLen) fail(`${dataLen - expected} bytes of data after the last tensor are not covered by any tensor (corrupt file?)`);

  const tensors: Record<string, Tensor> = {};
  for (const [name, e] of entries) {
    const [begin, end] = e.data_offsets;
    // A copy (aligned, and owned by the tensor). Not bytes.slice: on a Node Buffer that is a view.
    const raw = new Uint8Array(end - begin);
    raw.set(bytes.subarray(dataStart + begin, dataStart + end));
    let values: Float32Array | Int32Array;
    if (littleEndian) values = e.dtype === 'F32' ? new Float32Array(raw.buffer) : new Int32Array(raw.buffer);
    else {
      const v = new DataView(raw.buffer);
      const count = raw.length / 4;
      values = e.dtype === 'F32' ? Float32Array.from({ length: count }, (_, i) => v.getFloat32(i * 4, true)) : Int32Array.from({ length: count }, (_, i) => v.getInt32(i * 4, true));
    }
    tensors[name] = tensor(values, { shape: e.shape });
  }
  return { tensors, metadata };
}
