/**
 * Stochastic gradient descent with momentum, as torch.optim.SGD:
 *
 *   g ← ∇ + λ·θ                                  (weightDecay λ: L2 penalty)
 *   b ← g on the first step, else μ·b + (1 − τ)·g (momentum μ, dampening τ)
 *   g ← g + μ·b  (Nesterov)  or  g ← b
 *   θ ← θ − lr·g
 */
import { noGrad, type Tensor } from '@simplex-vq/tensor';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, opts: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...opts });
  }

  protected override validateGroup(g: ParamGroup<SGDOptions>): void {
    super.validateGroup(g);
    if (!(g.momentum >= 0)) throw new RangeError(`SGD: invalid momentum ${g.momentum}`);
    if (!(g.weightDecay >= 0)) throw new RangeError(`SGD: invalid weightDecay ${g.weightDecay}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new RangeError('SGD: Nesterov momentum needs momentum > 0 and dampening = 0');
  }

  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        const { lr, momentum, dampening, weightDecay, nesterov } = group;
        for (const p of group.params) {
          if (!p.grad) continue;
          let g: Tensor = p.grad;
          if (weightDecay !== 0) g = g.add(p.mul(weightDecay));
          if (momentum !== 0) {
            const state = this.state.get(p);
            const prev = state?.momentumBuffer as Tensor | undefined;
            const buf = prev ? prev.mul(momentum).add(g.mul(1 - dampening)) : g;
            this.state.set(p, { momentumBuffer: buf });
            g = nesterov ? g.add(buf.mul(momentum)) : buf;
          }
          p.assign(p.sub(g.mul(lr)));
        }
      }
    });
  }
}
