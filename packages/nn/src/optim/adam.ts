/**
 * Adam and AdamW, as torch.optim.Adam / AdamW. At step t, for gradient g:
 *
 *   m ← β₁·m + (1 − β₁)·g                  v ← β₂·v + (1 − β₂)·g²
 *   θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√v / √(1 − β₂ᵗ) + ε)
 *
 * Weight decay λ differs: Adam adds λ·θ to g (an L2 penalty, which the adaptive scaling then
 * weakens for parameters with large gradients); AdamW first shrinks θ ← θ·(1 − lr·λ), decoupled
 * from the gradient (Loshchilov & Hutter). With amsgrad, v in the denominator is the running
 * maximum of v.
 */
import { Tensor, noGrad, tidy } from '@simplex-vq/tensor';
import { StateDictError } from '../errors.js';
import { Optimizer, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  protected abstract readonly decoupled: boolean;

  protected override validateGroup(g: ParamGroup<AdamOptions>): void {
    super.validateGroup(g);
    const [b1, b2] = g.betas;
    const name = this.constructor.name;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) throw new RangeError(`${name}: betas must be in [0, 1), got [${b1}, ${b2}]`);
    if (!(g.eps >= 0)) throw new RangeError(`${name}: invalid eps ${g.eps}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`${name}: invalid weightDecay ${g.weightDecay}`);
  }

  /** A parameter's state is a step count t ≥ 1 and the moments m and v (and amsgrad's max v); v is a mean of squares, never negative. */
  protected override validateParamState(i: number, s: ParamState): void {
    if (Object.keys(s).length === 0) return;
    const name = this.constructor.name;
    if (typeof s.step !== 'number' || !Number.isInteger(s.step) || s.step < 1) {
      throw new StateDictError(`${name}.loadStateDict: state.${i}.step is ${JSON.stringify(s.step)}, not a step count ≥ 1`, `state.${i}.step`);
    }
    for (const k of ['expAvg', 'expAvgSq']) {
      if (!(s[k] instanceof Tensor)) throw new StateDictError(`${name}.loadStateDict: state.${i}.${k} is missing`, `state.${i}.${k}`);
    }
    for (const k of ['expAvgSq', 'maxExpAvgSq']) {
      const v = s[k];
      if (!(v instanceof Tensor)) continue;
      const data = v.data();
      const j = data.findIndex((x) => x < 0);
      if (j >= 0) throw new StateDictError(`${name}.loadStateDict: state.${i}.${k} holds ${data[j]} at element ${j}; a second moment (a running mean of squared gradients) cannot be negative`, `state.${i}.${k}`);
    }
  }

  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        const { lr, eps, weightDecay, amsgrad } = group;
        const [b1, b2] = group.betas;
        for (const p of group.params) {
          if (!p.grad) continue;
          let g: Tensor = p.grad;
          let theta: Tensor = p;
          if (weightDecay !== 0) {
            if (this.decoupled) theta = theta.mul(1 - lr * weightDecay);
            else g = g.add(p.mul(weightDecay));
          }
          const s = this.state.get(p);
          const t = ((s?.step as number | undefined) ?? 0) + 1;
          // tidy: the update's temporaries are given back for reuse; the new moments and
          // parameter values are kept.
          const u = tidy(() => {
            const m = s ? (s.expAvg as Tensor).mul(b1).add(g.mul(1 - b1)) : g.mul(1 - b1);
            const v = s ? (s.expAvgSq as Tensor).mul(b2).add(g.square().mul(1 - b2)) : g.square().mul(1 - b2);
            const vDenom = !amsgrad ? v : s?.maxExpAvgSq ? (s.maxExpAvgSq as Tensor).maximum(v) : v;
            const stepSize = lr / (1 - b1 ** t);
            const denom = vDenom.sqrt().div(Math.sqrt(1 - b2 ** t)).add(eps);
            return { m, v, vDenom, theta: theta.sub(m.div(denom).mul(stepSize)) };
          }, p.backend);
          const next: Record<string, Tensor | number> = { step: t, expAvg: u.m, expAvgSq: u.v };
          if (amsgrad) next.maxExpAvgSq = u.vDenom;
          p.assign(u.theta);
          this.state.set(p, next);
        }
      }
    });
  }
}

/** Adam with L2 weight decay (default 0). */
export class Adam extends AdamBase {
  protected readonly decoupled = false;

  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, ...opts });
  }
}

/** Adam with decoupled weight decay (default 0.01, as PyTorch). */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;

  constructor(params: ParamsInput<AdamOptions>, opts: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, ...opts });
  }
}
