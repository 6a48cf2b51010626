/**
 * tidy(fn): runs fn and hands the storage of the tensors it made back to their backend, except
 * for the tensors fn returns (a tensor, an array of tensors, or an object whose values are
 * tensors) and views of them.
 *
 * For code that makes many short-lived tensors and knows their lifetime: an optimizer's update,
 * the temporaries of an op's forward pass. The CPU backend reuses the storage for the next tensor
 * of the same size, which is cheaper than a fresh array (see CpuBackend, "storage reuse").
 *
 * The rule: fn must not keep a tensor it made other than by returning it — not in a closure
 * variable, a map, or a parameter (`assign`). fn runs without recording gradients (as under
 * noGrad), since a recorded graph would keep its intermediate tensors; and backward() cannot be
 * called inside it. On a backend that cannot reuse storage, tidy(fn) is fn().
 */
import { inTidy, noGrad } from './autograd.js';
import { getBackend, type Backend, type DataHandle } from './backend.js';
import { Tensor } from './tensor.js';

type Maybe = Tensor | null | undefined;
export type TidyResult = Maybe | void | readonly Maybe[] | { readonly [key: string]: Maybe };

export function tidy<T extends TidyResult>(fn: () => T, backend: Backend = getBackend()): T {
  if (!backend.trackAllocations || !backend.dispose) return noGrad(fn);
  const { result, allocated } = backend.trackAllocations(() => inTidy(() => noGrad(fn)));
  if (allocated.length === 0) return result;
  const keep = new Set<DataHandle>();
  const values: Maybe[] = result === null || result === undefined ? [] : result instanceof Tensor ? [result] : Array.isArray(result) ? result : Object.values(result);
  for (const t of values) if (t) keep.add(t.handle);
  for (const h of allocated) if (!keep.has(h)) backend.dispose(h);
  return result;
}
