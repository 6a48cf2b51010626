/**
 * The safetensors codec: the exact byte layout, bit-exact round trips (NaN, −0, ±∞, subnormals,
 * int32 extremes, scalars, empty tensors), files written by hand from the format description, and
 * every kind of corrupt or truncated buffer raising a CheckpointError that names the file and
 * the tensor.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '@simplex-vq/tensor';
import { CheckpointError, parseSafetensors, serializeSafetensors } from '../src/index.js';

const bitsOf = (t: Tensor) => Array.from(new Uint32Array(t.data().buffer.slice(0)));
const f32 = (v: number[], shape = [v.length]) => tensor(Float32Array.from(v), { shape });
const i32 = (v: number[], shape = [v.length]) => tensor(Int32Array.from(v), { shape });

/** A file assembled by hand: u64 LE header length, the header text, the data bytes. */
function handMade(header: string, data: number[] = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** The bytes of float32 values, little-endian. */
const le32 = (...v: number[]) => {
  const b = new Uint8Array(4 * v.length);
  v.forEach((x, i) => new DataView(b.buffer).setFloat32(4 * i, x, true));
  return [...b];
};

function errorOf(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

describe('serializeSafetensors: the byte layout', () => {
  const bytes = serializeSafetensors({ 'b.weight': f32([1, -2], [1, 2]), a: i32([7]) }, { step: '12' });
  const n = new DataView(bytes.buffer).getUint32(0, true);
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const header = JSON.parse(headerText);

  it('starts with the header length as a little-endian u64, padded to a multiple of 8 with spaces', () => {
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    expect(headerText.startsWith('{')).toBe(true);
    expect(headerText.trimEnd().endsWith('}')).toBe(true);
    expect(/^ *$/.test(headerText.slice(headerText.lastIndexOf('}') + 1))).toBe(true);
    expect(bytes.length).toBe(8 + n + 12);
  });

  it('lists dtype, shape and contiguous data_offsets in name order, and the metadata', () => {
    expect(header).toEqual({
      __metadata__: { step: '12' },
      a: { dtype: 'I32', shape: [1], data_offsets: [0, 4] },
      'b.weight': { dtype: 'F32', shape: [1, 2], data_offsets: [4, 12] },
    });
  });

  it('stores the data row-major, little-endian', () => {
    expect([...bytes.subarray(8 + n)]).toEqual([7, 0, 0, 0, ...le32(1, -2)]);
  });
});

describe('round trips', () => {
  it('are bit-exact for special floats, int32 extremes, scalars and empty tensors', () => {
    const special = f32([NaN, -0, 0, Infinity, -Infinity, 1e-45, 1.1754942e-38, 3.4028235e38, -1 / 3, Math.PI], [2, 5]);
    const tensors = {
      special,
      ints: i32([-2147483648, 2147483647, 0, -1]),
      scalar: f32([2.5], []),
      empty: f32([], [0, 3]),
      'unicode ✓ name.with.dots': i32([1, 2, 3, 4, 5, 6], [3, 2]),
    };
    const { tensors: back, metadata } = parseSafetensors(serializeSafetensors(tensors, { config: '{"a":1}' }));
    expect(metadata).toEqual({ config: '{"a":1}' });
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) {
      expect(back[k]!.shape).toEqual(t.shape);
      expect(back[k]!.dtype).toBe(t.dtype);
      expect(bitsOf(back[k]!)).toEqual(bitsOf(t));
    }
  });

  it('work from a Node Buffer and from an unaligned view into a larger buffer', () => {
    const bytes = serializeSafetensors({ w: f32([1.5, -2, 3]), i: i32([9]) });
    const big = Buffer.alloc(bytes.length + 10, 0xee);
    big.set(bytes, 3);
    for (const view of [Buffer.from(bytes), big.subarray(3, 3 + bytes.length)]) {
      const t = parseSafetensors(view).tensors;
      expect(Array.from(t.w!.data())).toEqual([1.5, -2, 3]);
      expect(t.i!.item()).toBe(9);
    }
  });

  it('keep a NaN payload', () => {
    const raw = new Uint32Array([0x7fc00001, 0xffc12345]);
    const t = tensor(new Float32Array(raw.buffer), { shape: [2] });
    expect(bitsOf(parseSafetensors(serializeSafetensors({ t })).tensors.t!)).toEqual([...raw]);
  });

  it('hold for generated tensors (property)', () => {
    const entry = fc.record({
      shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
      int: fc.boolean(),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((s) => s !== '__metadata__'), entry, { maxKeys: 5 }), (spec) => {
        const tensors: Record<string, Tensor> = {};
        for (const [name, e] of Object.entries(spec)) {
          const size = e.shape.reduce((a, b) => a * b, 1);
          const values = Array.from({ length: size }, (_, i) => Math.imul(e.seed, i + 1) | 0);
          tensors[name] = e.int ? i32(values, e.shape) : tensor(new Float32Array(Int32Array.from(values).buffer), { shape: e.shape });
        }
        const back = parseSafetensors(serializeSafetensors(tensors)).tensors;
        expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
        for (const [k, t] of Object.entries(tensors)) expect(bitsOf(back[k]!)).toEqual(bitsOf(t));
      }),
      { numRuns: 100 },
    );
  });
});

describe('parseSafetensors reads files written by hand from the format description', () => {
  it('unpadded header, entries out of order, metadata', () => {
    const header = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"__metadata__":{"k":"v"},"i":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}';
    const { tensors, metadata } = parseSafetensors(handMade(header, [0xff, 0xff, 0xff, 0xff, ...le32(0.5, -8)]));
    expect(metadata).toEqual({ k: 'v' });
    expect(tensors.i!.shape).toEqual([]);
    expect(tensors.i!.item()).toBe(-1);
    expect(Array.from(tensors.w!.data())).toEqual([0.5, -8]);
  });

  it('an empty header object is an empty file', () => {
    expect(parseSafetensors(handMade('{}'))).toEqual({ tensors: {}, metadata: {} });
  });
});

describe('corrupt and truncated buffers raise a CheckpointError naming the file and the tensor', () => {
  const good = serializeSafetensors({ alpha: f32([1, 2, 3]), beta: i32([4, 5]) }, { step: '3' });

  it('at every truncation point', () => {
    for (let len = 0; len < good.length; len++) {
      const e = errorOf(() => parseSafetensors(good.subarray(0, len), 'run/ckpt.safetensors'));
      expect(e.file).toBe('run/ckpt.safetensors');
      expect(e.message.startsWith('run/ckpt.safetensors')).toBe(true);
      const n = new DataView(good.buffer).getUint32(0, true);
      if (len > 8 + n) {
        // Inside the data: the tensor whose bytes are cut off is named.
        expect(e.tensor).toBe(len - 8 - n >= 12 ? 'beta' : 'alpha');
        expect(e.message).toMatch(/truncated/);
      }
    }
  });

  it('a header length beyond the file, or absurdly large', () => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(0, good.length, true);
    expect(errorOf(() => parseSafetensors(b, 'f')).message).toMatch(/^f: header length \d+ runs past the end of the \d+-byte file/);
    new DataView(b.buffer).setUint32(4, 1, true);
    expect(errorOf(() => parseSafetensors(b, 'f')).message).toMatch(/exceeds the 100 MB limit/);
  });

  it('bad JSON, a header that is not an object, non-UTF-8 bytes', () => {
    expect(errorOf(() => parseSafetensors(handMade('{"a": [1, 2'), 'f')).message).toMatch(/not valid UTF-8 JSON/);
    expect(errorOf(() => parseSafetensors(handMade('[1, 2]   '), 'f')).message).toMatch(/does not start with "\{"/);
    expect(errorOf(() => parseSafetensors(handMade('{} {}'), 'f')).message).toMatch(/not valid UTF-8 JSON/);
    const bad = handMade('{"\u00e9":1}');
    bad[10] = 0xff; // break the UTF-8 sequence
    expect(errorOf(() => parseSafetensors(bad, 'f')).message).toMatch(/not valid UTF-8 JSON/);
    const flipped = good.slice();
    flipped[8 + 3] = 0x00; // a NUL inside a key's quotes
    expect(() => parseSafetensors(flipped)).toThrow(CheckpointError);
  });

  it('unknown and unsupported dtypes', () => {
    const e = errorOf(() => parseSafetensors(handMade('{"x":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), 'f'));
    expect(e.tensor).toBe('x');
    expect(e.message).toBe('f: tensor "x": unknown dtype "Q7"');
    expect(errorOf(() => parseSafetensors(handMade('{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]))).message).toMatch(/dtype F16 is not supported/);
  });

  it('a byte size that is not the element count × 4', () => {
    const e = errorOf(() => parseSafetensors(handMade('{"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}', new Array(12).fill(0)), 'f'));
    expect(e.message).toBe('f: tensor "x": holds 12 bytes, but shape [2, 2] of F32 needs 16');
  });

  it('offsets out of range, reversed, overlapping, leaving gaps, or leaving bytes unindexed', () => {
    const t = (entries: string, data: number) => () => parseSafetensors(handMade(`{${entries}}`, new Array(data).fill(0)), 'f');
    expect(errorOf(t('"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}', 8)).message).toMatch(/tensor "x": data_offsets \[4, 12\] run past the 8 bytes/);
    expect(errorOf(t('"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}', 4)).message).toMatch(/not \[begin, end\]/);
    expect(errorOf(t('"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}', 4)).message).toMatch(/not \[begin, end\]/);
    const overlap = errorOf(t('"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}', 8));
    expect(overlap.message).toMatch(/overlap tensor "x"/);
    const gap = errorOf(t('"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}', 12));
    expect(gap.tensor).toBe('y');
    expect(gap.message).toMatch(/gap of 4 bytes after tensor "x"/);
    expect(errorOf(t('"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}', 9)).message).toMatch(/5 bytes of data after the last tensor/);
  });

  it('malformed entries and metadata', () => {
    const t = (h: string) => () => parseSafetensors(handMade(h, [0, 0, 0, 0]), 'f');
    expect(errorOf(t('{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}')).message).toMatch(/tensor "x": shape \[1\.5\]/);
    expect(errorOf(t('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}')).message).toMatch(/shape/);
    expect(errorOf(t('{"x":{"shape":[1],"data_offsets":[0,4]}}')).message).toMatch(/missing dtype/);
    expect(errorOf(t('{"x":3}')).message).toMatch(/entry is not an object/);
    expect(errorOf(t('{"__metadata__":{"a":1},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')).message).toMatch(/metadata "a" is not a string/);
    expect(() => serializeSafetensors({}, { a: 1 as unknown as string })).toThrow(/must be a string/);
  });

  it('a buffer shorter than 8 bytes', () => {
    expect(errorOf(() => parseSafetensors(new Uint8Array(3), 'tiny.safetensors')).message).toBe(
      'tiny.safetensors: file is 3 bytes, too short for the 8-byte header length (truncated?)',
    );
  });
});
