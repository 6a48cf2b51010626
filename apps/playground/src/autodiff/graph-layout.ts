/**
 * Places the tensors of a graph in levels, top to bottom as the forward pass runs: a tensor made
 * by an op one level below its lowest input, a leaf (parameter, input, constant) one level above
 * its first user, so a constant sits beside the op that uses it. Within a level, tensors are
 * ordered by the mean position of the tensors they connect to (a few sweeps), which keeps most
 * edges short and uncrossed on graphs of this size.
 */
import type { Tensor } from '@simplex-vq/tensor';

export interface GraphNode {
  tensor: Tensor;
  inputs: GraphNode[];
  users: GraphNode[];
  level: number;
  /** Position within the level, centred on 0. */
  position: number;
  x: number;
  y: number;
}

export interface Layout {
  nodes: GraphNode[];
  width: number;
  height: number;
}

/** Every tensor the root was computed from (constants included), inputs before the tensors that use them. */
export function collectGraph(root: Tensor): GraphNode[] {
  const byTensor = new Map<Tensor, GraphNode>();
  const visit = (t: Tensor): GraphNode => {
    const known = byTensor.get(t);
    if (known) return known;
    const inputs = (t.gradFn?.inputs ?? []).map(visit);
    const node: GraphNode = { tensor: t, inputs, users: [], level: inputs.length ? Math.max(...inputs.map((i) => i.level)) + 1 : 0, position: 0, x: 0, y: 0 };
    for (const i of inputs) if (!i.users.includes(node)) i.users.push(node);
    byTensor.set(t, node);
    return node;
  };
  visit(root);
  const nodes = [...byTensor.values()];
  for (const n of nodes) if (n.inputs.length === 0 && n.users.length > 0) n.level = Math.min(...n.users.map((u) => u.level)) - 1;
  return nodes;
}

export function layoutGraph(nodes: GraphNode[], size: { columnWidth: number; rowHeight: number; marginX: number; marginY: number }): Layout {
  const levels: GraphNode[][] = [];
  for (const n of nodes) (levels[n.level] ??= []).push(n);
  const centre = (level: GraphNode[]) => level.forEach((n, i) => (n.position = i - (level.length - 1) / 2));
  const mean = (xs: GraphNode[]) => xs.reduce((s, x) => s + x.position, 0) / xs.length;
  levels.forEach(centre);
  for (let sweep = 0; sweep < 3; sweep++) {
    for (const level of levels) {
      if (!level) continue;
      const key = new Map(level.map((n) => [n, n.inputs.length ? mean(n.inputs) : n.users.length ? mean(n.users) : n.position]));
      level.sort((a, b) => key.get(a)! - key.get(b)!);
      centre(level);
    }
  }
  const widest = Math.max(...levels.map((l) => l?.length ?? 0));
  for (const n of nodes) {
    n.x = size.marginX + (n.position + (widest - 1) / 2) * size.columnWidth;
    n.y = size.marginY + n.level * size.rowHeight;
  }
  return { nodes, width: 2 * size.marginX + (widest - 1) * size.columnWidth, height: 2 * size.marginY + (levels.length - 1) * size.rowHeight };
}
