/**
 * simplex-vq's runs of the trajectory check: the app's model loaded from the inputs file and
 * trained exactly as apps/autoencoder/src/train.ts trains it (zero the gradients, the app's
 * `trainingLoss`, backward, Adam with the app's settings, read the loss), on the CPU backend with
 * one thread in float32 (as the app runs) or in float64 (`new CpuBackend({ precision: 'float64' })`:
 * every float tensor in a Float64Array, the same code otherwise).
 */
import { readFileSync } from 'node:fs';
import { CpuBackend, Generator, setBackend, tensor, type Tensor } from '@simplex-vq/tensor';
import { Adam, parseSafetensors } from '@simplex-vq/nn';
import { Autoencoder } from '@simplex-vq/autoencoder/model';
import { DEFAULTS } from '@simplex-vq/autoencoder/config';
import { f64Of, type F64Array } from './f64-file.js';
import { modelConfig, type TrajectoryMethod, type TwinConfig } from './inputs.js';

export type Precision = 'float32' | 'float64';

/** Per step: [loss, reconstruction MSE]. */
export type Curve = Array<[number, number]>;

/** A step of our float64 run as the resync check needs it: the state before the step, its loss and gradients. */
export interface StepSnapshot {
  step: number;
  state: Record<string, F64Array>;
  grads: Record<string, F64Array>;
  loss: number;
}

export interface OursInputs {
  config: TwinConfig;
  /** The inputs file's bytes (parsed again on each run's backend). */
  bytes: Uint8Array;
  file: string;
}

export function readOursInputs(file: string): OursInputs {
  const bytes = readFileSync(file);
  const { metadata } = parseSafetensors(bytes, file);
  return { config: JSON.parse(metadata.config!) as TwinConfig, bytes, file };
}

/**
 * Trains `method` for every step of the inputs file at `precision`; returns the curve, and a
 * snapshot of each step in `snapshotSteps` (1-based).
 */
export function trainOurs(inputs: OursInputs, method: TrajectoryMethod, precision: Precision, snapshotSteps: ReadonlySet<number> = new Set()): { curve: Curve; snapshots: StepSnapshot[] } {
  setBackend(new CpuBackend({ threads: 1, precision }));
  const all = parseSafetensors(inputs.bytes, inputs.file).tensors;
  const prefix = `${method}.`;
  const state: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(all)) if (name.startsWith(prefix)) state[name.slice(prefix.length)] = t;
  // The output bias and the codebook come from the state; the config only has to build the same shapes.
  const model = new Autoencoder(modelConfig(method, 0), new Generator(DEFAULTS.seed));
  model.loadStateDict(state); // strict: every parameter and buffer, nothing else
  model.train();
  const optimizer = new Adam(model.parameters(), { lr: inputs.config.lr, betas: inputs.config.betas, eps: inputs.config.eps });
  const { steps, batch } = inputs.config;
  const pixels = all.batches!.data(); // float32 values, exactly representable in either precision
  const size = pixels.length / steps;
  const curve: Curve = [];
  const snapshots: StepSnapshot[] = [];
  for (let step = 1; step <= steps; step++) {
    const x = tensor(pixels.slice((step - 1) * size, step * size), { shape: [batch, 1, 28, 28] });
    const before = snapshotSteps.has(step) ? Object.fromEntries(Object.entries(model.stateDict()).map(([n, t]) => [n, f64Of(t)])) : null;
    optimizer.zeroGrad();
    const { loss, recon } = model.trainingLoss(x);
    loss.backward();
    if (before) {
      const grads = Object.fromEntries(model.namedParameters().map(([n, p]) => [n, f64Of(p.grad!)]));
      snapshots.push({ step, state: before, grads, loss: loss.item() });
    }
    optimizer.step();
    curve.push([loss.item(), recon.item()]);
    if (!Number.isFinite(curve[step - 1]![0])) throw new Error(`${method} (${precision}): the loss became ${curve[step - 1]![0]} at step ${step}`);
  }
  return { curve, snapshots };
}
