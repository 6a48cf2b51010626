/**
 * Containers: Sequential (children called in order, named '0', '1', ...) and ModuleList (children
 * held and named by position, called by the owner's own forward).
 */
import type { Tensor } from '@simplex-vq/tensor';
import { ModuleError } from './errors.js';
import { Module } from './module.js';

/** A module whose forward maps one tensor to one tensor: what Sequential chains. */
export type TensorModule = Module & { forward(x: Tensor): Tensor };

/** Children registered under '0', '1', ...: the positional containers' shared part. */
class Indexed<M extends Module> extends Module implements Iterable<M> {
  append(module: M): this {
    this.registerModule(String(this.namedChildren().length), module);
    return this;
  }

  get length(): number {
    return this.namedChildren().length;
  }

  /** The i-th module (negative i counts from the end). */
  at(i: number): M {
    const m = this.children().at(i);
    if (!m) throw new ModuleError(`${this.constructor.name}: no module at ${i} (it has ${this.length})`);
    return m as M;
  }

  [Symbol.iterator](): Iterator<M> {
    return (this.children() as M[])[Symbol.iterator]();
  }
}

export class Sequential extends Indexed<TensorModule> {
  constructor(...layers: TensorModule[]) {
    super();
    for (const l of layers) this.append(l);
  }

  override forward(x: Tensor): Tensor {
    for (const layer of this) x = layer.forward(x);
    return x;
  }
}

export class ModuleList<M extends Module = Module> extends Indexed<M> {
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }
}
