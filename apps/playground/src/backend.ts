/**
 * Which backend trains in this page: gpu.js on WebGL2 when the page gets a WebGL2 context and a
 * first kernel gives the right answer, the CPU backend of @simplex-vq/tensor otherwise. The
 * choice is made once per request and said on the page (with the reason for a fallback).
 */
import { createGpuJsBackend, type GpuJsBackend } from '@simplex-vq/backend-gpujs';
import { setBackend, tensor, withBackend } from '@simplex-vq/tensor';

/** What the user asks for: WebGL2 with a fallback, or the CPU backend directly. */
export type BackendChoice = 'auto' | 'cpu';

export interface BackendInfo {
  /** What runs: 'webgl2' (gpu.js) or 'cpu'. */
  name: 'webgl2' | 'cpu';
  /** One line for the page, e.g. "gpu.js WebGL2 on ANGLE (… SwiftShader …)". */
  label: string;
  /** Why WebGL2 is not used, when it was asked for and is not. */
  fallbackReason: string | null;
}

let gpu: GpuJsBackend | null = null;
let gpuError: string | null = null;

/** The GL renderer's name, when the browser tells it (SwiftShader, a real GPU). */
function rendererName(): string | null {
  try {
    const gl = document.createElement('canvas').getContext('webgl2');
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  } catch {
    return null;
  }
}

/** gpu.js on WebGL2, created once and checked on one kernel; null (with gpuError set) when it cannot run. */
function webgl2(): GpuJsBackend | null {
  if (gpu || gpuError) return gpu;
  try {
    if (!document.createElement('canvas').getContext('webgl2')) throw new Error('this browser gives no WebGL2 context');
    const b = createGpuJsBackend({ mode: 'webgl2' });
    if (b.target !== 'webgl2') throw new Error(`gpu.js runs ${b.target}, not webgl2`);
    const got = Array.from(withBackend(b, () => tensor([1, 2, 3]).mul(2).add(1).data()));
    if (got.join() !== '3,5,7') throw new Error(`a first kernel computed [${got.join(', ')}] instead of [3, 5, 7]`);
    gpu = b;
  } catch (e) {
    gpuError = e instanceof Error ? e.message : String(e);
  }
  return gpu;
}

/** Makes `choice` the backend of every tensor created from now on, and says what runs. */
export function useBackend(choice: BackendChoice): BackendInfo {
  if (choice === 'auto') {
    const b = webgl2();
    if (b) {
      setBackend(b);
      const renderer = rendererName();
      return { name: 'webgl2', label: `gpu.js WebGL2${renderer ? ` on ${renderer}` : ''}`, fallbackReason: null };
    }
  }
  setBackend('cpu');
  const reason = choice === 'auto' ? `WebGL2 unavailable: ${gpuError}` : null;
  return { name: 'cpu', label: 'CPU backend of @simplex-vq/tensor (JavaScript on this page’s thread)', fallbackReason: reason };
}
