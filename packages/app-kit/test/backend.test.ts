import { describe, expect, it } from 'vitest';
import { CpuBackend, getBackend, tensor } from '@simplex-vq/tensor';
import { ConfigError, threadsOption, useCpuBackend } from '../src/index.js';

describe('useCpuBackend and threadsOption', () => {
  it('makes a CPU backend with the asked thread count current, one instance per count', () => {
    expect(useCpuBackend(1)).toBe('cpu (1 threads)');
    const one = getBackend();
    expect(one).toBeInstanceOf(CpuBackend);
    expect((one as CpuBackend).threadCount).toBe(1);
    useCpuBackend('auto');
    expect(getBackend()).not.toBe(one);
    useCpuBackend(1);
    expect(getBackend()).toBe(one); // reused, not a new pool per run
    expect(Array.from(tensor([1, 2]).mul(3).data())).toEqual([3, 6]);
  });

  it("threadsOption: 'auto' or an integer in [1, 256], else a ConfigError naming --threads", () => {
    expect(threadsOption('auto')).toBe('auto');
    expect(threadsOption('2')).toBe(2);
    for (const bad of ['0', '-1', '1.5', 'many', '', '1000']) {
      expect(() => threadsOption(bad), bad).toThrow(ConfigError);
      expect(() => threadsOption(bad), bad).toThrow(/threads/);
    }
  });
});
