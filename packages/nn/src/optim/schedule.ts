/**
 * Learning-rate schedules. A schedule is a pure function from the step number (0, 1, 2, ...) to
 * a factor of the base learning rate; `LambdaLR` applies one to an optimizer's groups
 * (torch.optim.lr_scheduler.LambdaLR): at construction lr = base·f(0), and each `step()` after an
 * optimizer step moves to the next step number.
 *
 * With W warm-up steps and T total steps (the formulas of the common "warm-up then decay"
 * schedules):
 *   warm-up  (s < W):  f(s) = s / W
 *   then     p = min(1, (s − W) / max(1, T − W))
 *   cosine:  f(s) = m + (1 − m)·½(1 + cos(π·p))
 *   linear:  f(s) = m + (1 − m)·(1 − p)
 * where m is `minFactor` (default 0), the floor the decay ends at.
 */
import type { Optimizer } from './optimizer.js';

export type Schedule = (step: number) => number;

export interface WarmupDecayOptions {
  warmupSteps?: number;
  totalSteps: number;
  /** The factor reached at totalSteps and kept after (default 0). */
  minFactor?: number;
}

function check(o: WarmupDecayOptions): { W: number; T: number; m: number } {
  const W = o.warmupSteps ?? 0, T = o.totalSteps, m = o.minFactor ?? 0;
  if (!(Number.isInteger(W) && W >= 0 && Number.isInteger(T) && T >= W)) {
    throw new RangeError(`schedule: need integers 0 ≤ warmupSteps (${W}) ≤ totalSteps (${T})`);
  }
  if (!(m >= 0 && m <= 1)) throw new RangeError(`schedule: minFactor must be in [0, 1], got ${m}`);
  return { W, T, m };
}

/** Linear warm-up from 0 to 1 over `warmupSteps`, then 1. */
export function linearWarmup(warmupSteps: number): Schedule {
  return (s) => (s < warmupSteps ? s / warmupSteps : 1);
}

/** Linear warm-up, then cosine decay to minFactor at totalSteps. */
export function warmupCosine(opts: WarmupDecayOptions): Schedule {
  const { W, T, m } = check(opts);
  return (s) => {
    if (s < W) return s / W;
    const p = Math.min(1, (s - W) / Math.max(1, T - W));
    return m + (1 - m) * 0.5 * (1 + Math.cos(Math.PI * p));
  };
}

/** Linear warm-up, then linear decay to minFactor at totalSteps. */
export function warmupLinear(opts: WarmupDecayOptions): Schedule {
  const { W, T, m } = check(opts);
  return (s) => {
    if (s < W) return s / W;
    const p = Math.min(1, (s - W) / Math.max(1, T - W));
    return m + (1 - m) * (1 - p);
  };
}

export interface LRSchedulerState {
  lastStep: number;
  baseLrs: number[];
}

/** Sets each group's lr to its base lr times a schedule of the step count. */
export class LambdaLR {
  /** The step number the current lr belongs to. */
  lastStep = 0;
  /**
   * Each group's base lr: its `initialLr`, which the first scheduler of an optimizer records (as
   * PyTorch's initial_lr), so a second scheduler, or one made after a restore, starts from it too.
   */
  readonly baseLrs: number[];
  private readonly lambdas: Schedule[];

  constructor(
    readonly optimizer: Optimizer<{ lr: number }>,
    lrLambda: Schedule | Schedule[],
  ) {
    const groups = optimizer.paramGroups;
    this.lambdas = Array.isArray(lrLambda) ? lrLambda : groups.map(() => lrLambda);
    if (this.lambdas.length !== groups.length) {
      throw new RangeError(`LambdaLR: ${this.lambdas.length} schedules for ${groups.length} parameter groups`);
    }
    this.baseLrs = groups.map((g) => {
      const group = g as typeof g & { initialLr?: number };
      group.initialLr ??= g.lr;
      return group.initialLr;
    });
    this.apply();
  }

  /** Advances to the next step (call after optimizer.step()). */
  step(): void {
    this.lastStep++;
    this.apply();
  }

  /** The lr of each group now. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.baseLrs[i]! * this.lambdas[i]!(this.lastStep);
    });
  }

  stateDict(): LRSchedulerState {
    return { lastStep: this.lastStep, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(state: LRSchedulerState): void {
    if (state.baseLrs.length !== this.baseLrs.length) {
      throw new RangeError(`LambdaLR.loadStateDict: ${state.baseLrs.length} base lrs for ${this.baseLrs.length} groups`);
    }
    this.lastStep = state.lastStep;
    this.baseLrs.splice(0, this.baseLrs.length, ...state.baseLrs);
    this.apply();
  }
}
