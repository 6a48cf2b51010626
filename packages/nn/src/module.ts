/**
 * Module and Parameter, as in torch.nn.
 *
 * A Module owns named parameters (trainable tensors), buffers (non-trainable state saved with the
 * model, e.g. running averages) and child modules. Registering one also defines a property of that
 * name, so a layer declares its fields with `declare readonly weight: Tensor` and reads
 * `this.weight` in forward. The registries are the single source of truth: `namedParameters()`
 * walks them to give dotted names (`encoder.0.weight`), `stateDict()` snapshots them, and
 * `functionalCall` swaps entries for a call (used by the gradient checks).
 *
 * Parameters are updated in place (`p.assign(values)`: the optimizers and `loadStateDict` do this),
 * so the tensor objects a module registered stay the ones an optimizer holds.
 */
import { Tensor, type Generator } from '@simplex-vq/tensor';
import { ModuleError, StateDictError } from './errors.js';

/**
 * A trainable tensor: a leaf with `requiresGrad` set (torch.nn.Parameter). It shares `data`'s
 * storage, which is safe because tensors are never written in place (assign swaps the storage).
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    super(data.handle, data.shape, data.dtype, data.backend, false);
    if (requiresGrad) this.requiresGrad_();
  }
}

/** Parameters and buffers by dotted name, as `stateDict()` returns and `loadStateDict()` takes. */
export type StateDict = Record<string, Tensor>;

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

export class Module {
  /** Training mode (dropout active); `eval()` clears it for the module and its children. */
  training = true;
  private readonly _parameters = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _nonPersistent = new Set<string>();
  private readonly _modules = new Map<string, Module | null>();
  private readonly _generators = new Map<string, Generator>();

  /** The computation. Subclasses override it with their own signature. */
  forward(..._args: never[]): unknown {
    throw new ModuleError(`${this.constructor.name} does not define forward()`);
  }

  // --- registration -------------------------------------------------------------------------

  /** Registers a parameter (null: an absent optional one, e.g. no bias) and defines `this[name]`. */
  registerParameter<T extends Tensor | null>(name: string, param: T): T {
    this.checkNewName(name);
    if (param !== null) checkTensor(this, name, param);
    this._parameters.set(name, param);
    this.defineAccessor(name, this._parameters, (v) => v === null || checkTensor(this, name, v));
    return param;
  }

  /**
   * Registers a buffer: state that is not trained but belongs to the model (running statistics,
   * EMA codebooks). Persistent buffers (the default) are part of the state dict.
   */
  registerBuffer<T extends Tensor | null>(name: string, buffer: T, opts: { persistent?: boolean } = {}): T {
    this.checkNewName(name);
    if (buffer !== null) checkTensor(this, name, buffer);
    this._buffers.set(name, buffer);
    if (opts.persistent === false) this._nonPersistent.add(name);
    this.defineAccessor(name, this._buffers, (v) => v === null || checkTensor(this, name, v));
    return buffer;
  }

  /** Registers a child module (its parameters get the prefix `name.`). */
  registerModule<M extends Module | null>(name: string, module: M): M {
    this.checkNewName(name);
    if (module !== null && !(module instanceof Module)) throw new ModuleError(`${this.constructor.name}.${name}: expected a Module`);
    this._modules.set(name, module);
    this.defineAccessor(name, this._modules, (v) => {
      if (v !== null && !(v instanceof Module)) throw new ModuleError(`${this.constructor.name}.${name}: expected a Module`);
    });
    return module;
  }

  /**
   * Registers a random generator the module draws from during training (Dropout's), so
   * checkpoints can save and restore its state (`namedGenerators()`).
   */
  registerGenerator(name: string, generator: Generator): Generator {
    if (this._generators.has(name)) throw new ModuleError(`${this.constructor.name}: generator "${name}" is already registered`);
    if (name === '' || name.includes('.')) throw new ModuleError(`${this.constructor.name}: invalid generator name "${name}"`);
    this._generators.set(name, generator);
    return generator;
  }

  private checkNewName(name: string): void {
    const owner = this.constructor.name;
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new ModuleError(`${owner}: invalid attribute name "${name}" (must be non-empty and contain no ".")`);
    }
    if (this._parameters.has(name) || this._buffers.has(name) || this._modules.has(name)) {
      throw new ModuleError(`${owner}: attribute "${name}" is already registered`);
    }
    // A class field declared without `declare` exists (as undefined) before the constructor body
    // registers it; anything else of that name (a method, a set field) would be shadowed.
    if (name in this && !(Object.prototype.hasOwnProperty.call(this, name) && (this as Record<string, unknown>)[name] === undefined)) {
      throw new ModuleError(`${owner}: "${name}" is already a property of the module; choose another name`);
    }
  }

  private defineAccessor<V>(name: string, store: Map<string, V>, check: (v: V) => void): void {
    Object.defineProperty(this, name, {
      get: () => store.get(name),
      set: (v: V) => {
        check(v);
        store.set(name, v);
      },
      enumerable: true,
      configurable: true,
    });
  }

  // --- traversal ----------------------------------------------------------------------------

  /** Direct children with their names (absent ones skipped). */
  namedChildren(): Array<[string, Module]> {
    return [...this._modules].filter((e): e is [string, Module] => e[1] !== null);
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module and every descendant, depth first, with dotted names ('' for this one). */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const seen = new Set<Module>();
    const walk = (m: Module, p: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m.namedChildren()) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  /** Like namedModules, but a module reachable by two paths is listed under both (state dicts do this). */
  private everyPath(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const onPath = new Set<Module>();
    const walk = (m: Module, p: string) => {
      if (onPath.has(m)) throw new ModuleError(`${this.constructor.name}: module cycle at "${p}"`);
      onPath.add(m);
      out.push([p, m]);
      for (const [n, c] of m.namedChildren()) walk(c, p ? `${p}.${n}` : n);
      onPath.delete(m);
    };
    walk(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** The child at a dotted path (`'encoder.0'`). */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    let m: Module = this;
    for (const part of path.split('.')) {
      const next = m._modules.get(part);
      if (!next) throw new ModuleError(`${this.constructor.name} has no submodule "${path}" (no "${part}" in ${m.constructor.name})`);
      m = next;
    }
    return m;
  }

  /**
   * Every parameter with its dotted name, this module's first, then each child's. A tensor shared
   * by two modules is listed once (under its first name).
   */
  namedParameters(prefix = '', recurse = true): Array<[string, Tensor]> {
    return this.collect((m) => m._parameters, prefix, recurse);
  }

  parameters(recurse = true): Tensor[] {
    return this.namedParameters('', recurse).map(([, p]) => p);
  }

  namedBuffers(prefix = '', recurse = true): Array<[string, Tensor]> {
    return this.collect((m) => m._buffers, prefix, recurse);
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers('', recurse).map(([, b]) => b);
  }

  /** Registered generators with dotted names; a generator shared by several modules is listed once. */
  namedGenerators(): Array<[string, Generator]> {
    const out: Array<[string, Generator]> = [];
    const seen = new Set<Generator>();
    for (const [p, m] of this.namedModules()) {
      for (const [n, g] of m._generators) {
        if (seen.has(g)) continue;
        seen.add(g);
        out.push([p ? `${p}.${n}` : n, g]);
      }
    }
    return out;
  }

  private collect(pick: (m: Module) => Map<string, Tensor | null>, prefix: string, recurse: boolean): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    const mods: Array<[string, Module]> = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [p, m] of mods) {
      for (const [n, t] of pick(m)) {
        if (t === null || seen.has(t)) continue;
        seen.add(t);
        out.push([p ? `${p}.${n}` : n, t]);
      }
    }
    return out;
  }

  /** Calls fn on every descendant and this module (children first, as torch's `apply`). */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  // --- modes and gradients ------------------------------------------------------------------

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Clears the gradients of every parameter (to null, as PyTorch's default set_to_none). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Turns gradient tracking of every parameter on or off (freezing). */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  // --- state --------------------------------------------------------------------------------

  /**
   * Parameters and persistent buffers by dotted name (this module's, then each child's).
   * The values are detached snapshots: later in-place updates do not change them.
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = {};
    for (const [p, m] of this.everyPath(prefix)) {
      const name = (n: string) => (p ? `${p}.${n}` : n);
      for (const [n, t] of m._parameters) if (t) out[name(n)] = t.detach();
      for (const [n, t] of m._buffers) if (t && !m._nonPersistent.has(n)) out[name(n)] = t.detach();
    }
    return out;
  }

  /**
   * Copies a state dict into the parameters and buffers, in place. Every entry is checked before
   * anything is written: a shape or dtype that differs always raises a StateDictError naming the
   * key; missing and unexpected keys raise too when `strict` (the default), else are returned.
   */
  loadStateDict(state: StateDict, opts: { strict?: boolean } = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const targets = new Map<string, Tensor>();
    for (const [p, m] of this.everyPath()) {
      const name = (n: string) => (p ? `${p}.${n}` : n);
      for (const [n, t] of m._parameters) if (t) targets.set(name(n), t);
      for (const [n, t] of m._buffers) if (t && !m._nonPersistent.has(n)) targets.set(name(n), t);
    }
    const missingKeys = [...targets.keys()].filter((k) => !(k in state));
    const unexpectedKeys = Object.keys(state).filter((k) => !targets.has(k));
    for (const [key, target] of targets) {
      const value = state[key];
      if (value === undefined) continue;
      if (!(value instanceof Tensor)) throw new StateDictError(`loadStateDict: "${key}" is not a Tensor`, key);
      if (value.shape.length !== target.shape.length || value.shape.some((d, i) => d !== target.shape[i])) {
        throw new StateDictError(`loadStateDict: "${key}" has shape ${fmt(value.shape)} in the state dict but ${fmt(target.shape)} in ${this.constructor.name}`, key);
      }
      if (value.dtype !== target.dtype) {
        throw new StateDictError(`loadStateDict: "${key}" has dtype ${value.dtype} in the state dict but ${target.dtype} in ${this.constructor.name}`, key);
      }
    }
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts: string[] = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.map((k) => `"${k}"`).join(', ')}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}`);
      throw new StateDictError(`loadStateDict into ${this.constructor.name}: ${parts.join('; ')}`, missingKeys[0] ?? unexpectedKeys[0]);
    }
    for (const [key, target] of targets) {
      const value = state[key];
      if (value) target.assign(value);
    }
    return { missingKeys, unexpectedKeys };
  }

  // --- printing -----------------------------------------------------------------------------

  /** The constructor arguments worth printing (overridden by layers). */
  extraRepr(): string {
    return '';
  }

  /** A tree like PyTorch's module repr. */
  toString(): string {
    const kids = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (kids.length === 0) return `${head})`;
    const body = kids.map(([n, m]) => `  (${n}): ${m.toString().split('\n').join('\n  ')}`).join('\n');
    return `${head}\n${body}\n)`;
  }
}

function checkTensor(m: Module, name: string, t: unknown): void {
  if (!(t instanceof Tensor)) throw new ModuleError(`${m.constructor.name}.${name}: expected a Tensor (or null)`);
}

/**
 * Runs fn with some parameters and buffers of `module` replaced by other tensors, by dotted name,
 * then puts the originals back (torch.func.functional_call). The replacements take part in the
 * graph, so gradients flow to them, not to the module's own tensors.
 */
export function functionalCall<T>(module: Module, tensors: Record<string, Tensor>, fn: () => T): T {
  const restore: Array<() => void> = [];
  try {
    for (const [path, t] of Object.entries(tensors)) {
      const dot = path.lastIndexOf('.');
      const owner = module.getSubmodule(dot < 0 ? '' : path.slice(0, dot));
      const name = path.slice(dot + 1);
      const stores = owner as unknown as { _parameters: Map<string, Tensor | null>; _buffers: Map<string, Tensor | null> };
      const store = stores._parameters.has(name) ? stores._parameters : stores._buffers.has(name) ? stores._buffers : null;
      if (!store) throw new ModuleError(`functionalCall: ${module.constructor.name} has no parameter or buffer "${path}"`);
      const old = store.get(name)!;
      store.set(name, t);
      restore.push(() => store.set(name, old));
    }
    return fn();
  } finally {
    for (const r of restore.reverse()) r();
  }
}
