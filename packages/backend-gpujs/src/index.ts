/**
 * @simplex-vq/backend-gpujs — the engine's Backend interface on gpu.js kernels.
 *
 * Importing this package registers the backend as 'gpujs' (gpu.js chooses its target: WebGL2 in
 * a browser, headless-gl in Node where it builds, else WebAssembly), so
 * `setBackend('gpujs')` moves a whole program onto it. For a specific mode, register your own:
 * `registerBackend('gpujs', () => createGpuJsBackend({ mode: 'webasm' }))`.
 */
import { registerBackend } from '@simplex-vq/tensor';
import { createGpuJsBackend } from './gpujs-backend.js';

registerBackend('gpujs', () => createGpuJsBackend());

export { GpuJsBackend, createGpuJsBackend, type GpuJsBackendOptions, type GpuJsMode } from './gpujs-backend.js';
export { DEVIATIONS, type Deviation, type ParityResult, parityCaseNames, runParitySuite } from './parity.js';
