/**
 * The Optimizer base (torch.optim.Optimizer): parameter groups, per-parameter state, zeroGrad and
 * a state dict that restores a run exactly.
 *
 * A group is `{ params, ...hyperparameters }`; hyperparameters a group leaves out take the
 * optimizer's defaults, so `new Adam([{ params: a }, { params: b, lr: 1e-4 }], { lr: 1e-3 })`
 * trains b ten times slower. Schedulers change `group.lr` between steps.
 *
 * Subclasses implement `step()`, reading each parameter's `grad` and writing the new value with
 * `p.assign(...)` under noGrad, and keep their per-parameter values in `this.state`.
 */
import { Tensor } from '@simplex-vq/tensor';
import { StateDictError } from '../errors.js';

/** Per-parameter state: tensors (moments) and numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

export type ParamGroup<H> = H & { params: Tensor[] };

/** Parameters, or groups of them with their own hyperparameters. */
export type ParamsInput<H> = Iterable<Tensor> | Array<{ params: Iterable<Tensor> } & Partial<H>>;

/** What `stateDict()` returns: parameters are referred to by their index across the groups. */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: Array<Record<string, unknown> & { params: number[] }>;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

export abstract class Optimizer<H extends { lr: number }> {
  readonly paramGroups: Array<ParamGroup<H>> = [];
  readonly state = new Map<Tensor, ParamState>();

  constructor(
    params: ParamsInput<H>,
    readonly defaults: H,
  ) {
    const list = [...(params as Iterable<Tensor | ({ params: Iterable<Tensor> } & Partial<H>)>)];
    if (list.length === 0) throw new Error(`${this.constructor.name}: got an empty parameter list`);
    if (list.every((p) => p instanceof Tensor)) this.addParamGroup({ params: list as Tensor[] } as { params: Tensor[] } & Partial<H>);
    else for (const g of list) {
      if (g instanceof Tensor) throw new Error(`${this.constructor.name}: mix of tensors and parameter groups; pass one or the other`);
      this.addParamGroup(g);
    }
  }

  /** Adds a group; its missing hyperparameters take the defaults. */
  addParamGroup(group: { params: Iterable<Tensor> } & Partial<H>): void {
    const params = [...group.params];
    const name = this.constructor.name;
    const taken = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new Error(`${name}: parameters must be Tensors`);
      if (!p.isLeaf || !p.requiresGrad) throw new Error(`${name}: can only optimize leaf tensors with requiresGrad (got ${p})`);
      if (taken.has(p)) throw new Error(`${name}: a parameter appears in more than one group`);
      taken.add(p);
    }
    const full = { ...this.defaults, ...group, params } as ParamGroup<H>;
    this.validateGroup(full);
    this.paramGroups.push(full);
  }

  /** Throws on invalid hyperparameters (subclasses extend it). */
  protected validateGroup(group: ParamGroup<H>): void {
    if (!(group.lr >= 0) || !Number.isFinite(group.lr)) throw new RangeError(`${this.constructor.name}: invalid learning rate ${group.lr}`);
  }

  /**
   * Throws a StateDictError if one parameter's restored state is impossible (subclasses check
   * their own entries, e.g. Adam's second moments are never negative). `i` is its index.
   */
  protected validateParamState(_i: number, _state: ParamState, _param: Tensor): void {}

  /** Clears the gradients of every parameter (to null). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** One update of every parameter that has a gradient. */
  abstract step(): void;

  /** Every parameter, in group order: index i in a state dict is the i-th of these. */
  protected allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** State and hyperparameters, with parameters replaced by their indices. State tensors are snapshots. */
  stateDict(): OptimizerStateDict {
    const index = new Map(this.allParams().map((p, i) => [p, i]));
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) copy[k] = v instanceof Tensor ? v.detach() : v;
      state[index.get(p)!] = copy;
    }
    let next = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...hyper } = g;
      return { ...structuredClone(hyper), params: params.map(() => next++) };
    });
    return { state, paramGroups };
  }

  /**
   * Restores a state dict from an optimizer over parameters of the same shapes, in the same
   * groups. Everything is checked before anything changes.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name;
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new StateDictError(`${name}.loadStateDict: the state has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    }
    sd.paramGroups.forEach((g, i) => {
      if (g.params.length !== this.paramGroups[i]!.params.length) {
        throw new StateDictError(`${name}.loadStateDict: group ${i} has ${g.params.length} parameters in the state, ${this.paramGroups[i]!.params.length} in the optimizer`);
      }
    });
    const params = this.allParams();
    const restored = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(sd.state)) {
      const i = Number(key);
      const p = params[i];
      if (!Number.isInteger(i) || !p) throw new StateDictError(`${name}.loadStateDict: state for parameter ${key}, which does not exist`, `state.${key}`);
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) {
        const at = `state.${i}.${k}`;
        if (v instanceof Tensor) {
          if (v.shape.length !== p.shape.length || v.shape.some((d, j) => d !== p.shape[j])) {
            throw new StateDictError(`${name}.loadStateDict: ${at} has shape ${fmt(v.shape)}, parameter ${i} has ${fmt(p.shape)}`, at);
          }
          if (v.dtype !== p.dtype) throw new StateDictError(`${name}.loadStateDict: ${at} is ${v.dtype}, parameter ${i} is ${p.dtype}`, at);
          const data = v.data();
          const j = data.findIndex((x) => !Number.isFinite(x));
          if (j >= 0) throw new StateDictError(`${name}.loadStateDict: ${at} holds ${data[j]} at element ${j}`, at);
        } else if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new StateDictError(`${name}.loadStateDict: ${at} is ${JSON.stringify(v)}, not a finite number`, at);
        }
        copy[k] = v;
      }
      this.validateParamState(i, copy, p);
      restored.set(p, copy);
    }
    sd.paramGroups.forEach((g, i) => {
      const { params: _ignored, ...hyper } = g;
      try {
        this.validateGroup({ ...this.paramGroups[i]!, ...structuredClone(hyper) });
      } catch (e) {
        throw new StateDictError(`${name}.loadStateDict: parameter group ${i}: ${(e as Error).message}`, `paramGroups.${i}`);
      }
    });
    this.state.clear();
    for (const [p, s] of restored) this.state.set(p, s);
    sd.paramGroups.forEach((g, i) => {
      const { params: _ignored, ...hyper } = g;
      Object.assign(this.paramGroups[i]!, structuredClone(hyper));
    });
  }
}
