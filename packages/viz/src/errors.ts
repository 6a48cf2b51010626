/** Argument checks shared by the chart and image functions. Every message names the function and the argument. */

export function fail(fn: string, message: string): never {
  throw new RangeError(`${fn}: ${message}`);
}

export function failType(fn: string, message: string): never {
  throw new TypeError(`${fn}: ${message}`);
}

export function checkPositiveInt(fn: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    fail(fn, `${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export function checkNonNegativeInt(fn: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    fail(fn, `${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

export function checkPositive(fn: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(fn, `${name} must be a positive finite number, got ${String(value)}`);
  }
  return value;
}

export function isNumberArray(value: unknown): value is ArrayLike<number> {
  return (
    Array.isArray(value) ||
    (ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array))
  );
}

export function checkDomain(fn: string, name: string, value: unknown, positive: boolean): [number, number] {
  if (!Array.isArray(value) || value.length !== 2) fail(fn, `${name} must be a [min, max] pair`);
  const [lo, hi] = value as unknown[];
  if (typeof lo !== 'number' || typeof hi !== 'number' || !Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    fail(fn, `${name} must be finite numbers with min < max, got [${String(lo)}, ${String(hi)}]`);
  }
  if (positive && lo <= 0) fail(fn, `${name} must be positive when logY is set, got [${lo}, ${hi}]`);
  return [lo, hi];
}

/** Escapes text for use inside SVG/XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

export function checkLabel(fn: string, name: string, value: unknown): string {
  if (typeof value !== 'string') failType(fn, `${name} must be a string, got ${value === null ? 'null' : typeof value}`);
  return value;
}
