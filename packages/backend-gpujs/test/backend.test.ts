import { BackendError, getBackend, randn, setBackend, tensor } from '@simplex-vq/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { GpuJsBackend, createGpuJsBackend } from '../src/index.js';

describe('createGpuJsBackend', () => {
  afterEach(() => setBackend('cpu'));

  it('refuses the asynchronous modes with a reason', () => {
    for (const mode of ['webgpu', 'async'] as const) {
      expect(() => createGpuJsBackend({ mode })).toThrow(BackendError);
      expect(() => createGpuJsBackend({ mode })).toThrow(/asynchronous/);
    }
  });

  it('refuses an unknown mode, naming the valid ones', () => {
    expect(() => createGpuJsBackend({ mode: 'vulkan' as never })).toThrow(/unknown mode 'vulkan'.*webasm/);
  });

  it("is registered as 'gpujs': setBackend moves tensors onto it", () => {
    setBackend('gpujs');
    const b = getBackend();
    expect(b).toBeInstanceOf(GpuJsBackend);
    const x = tensor([[1, 2], [3, 4]]);
    expect(x.backend).toBe(b);
    expect(x.matmul(x).toArray()).toEqual([[7, 10], [15, 22]]);
    // gpu.js chooses for itself here; in Node without headless-gl that is webasm.
    expect(['webasm', 'headlessgl', 'cpu']).toContain((b as GpuJsBackend).target);
  });

  it('trains: gradients flow through gpu.js kernels', () => {
    setBackend(createGpuJsBackend({ mode: 'webasm' }));
    const w = randn([3, 1]).requiresGrad_();
    const x = randn([16, 3]);
    const y = x.matmul(tensor([[1], [-2], [0.5]]));
    let first = 0, last = 0;
    for (let i = 0; i < 60; i++) {
      w.grad = null;
      const loss = x.matmul(w).sub(y).square().mean();
      loss.backward();
      w.assign(w.detach().sub(w.grad!.mul(0.1)));
      if (i === 0) first = loss.item();
      last = loss.item();
    }
    expect(last).toBeLessThan(first * 1e-3);
  });

  it('refuses outputs larger than the target can hold, naming size and limit', () => {
    const b = createGpuJsBackend({ mode: 'cpu' });
    Object.defineProperty(b, 'maxOutputSize', { get: () => 100 });
    expect(() => b.full(101, 0, 'float32')).toThrow(/101 elements exceeds .* limit of 100/);
  });
});
