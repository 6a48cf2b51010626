/**
 * toDot: the graph that produced a tensor, as Graphviz DOT text (render with `dot -Tsvg`).
 * Tensors are boxes (leaves that require grad are filled), ops are ellipses.
 */
import type { Tensor } from './tensor.js';

export function toDot(root: Tensor): string {
  const lines = ['digraph autograd {', '  rankdir=LR;', '  node [fontname="Helvetica", fontsize=10];'];
  const seen = new Set<Tensor>();
  const stack: Tensor[] = [root];
  const label = (t: Tensor) => `${t.name ? `${t.name}\\n` : ''}[${t.shape.join(', ')}]`;
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const style = t.isLeaf && t.requiresGrad ? ', style=filled, fillcolor="#dbeafe"' : '';
    lines.push(`  t${t.id} [shape=box, label="${label(t)}"${style}];`);
    const node = t.gradFn;
    if (!node) continue;
    lines.push(`  op${t.id} [shape=ellipse, label="${node.op}"];`);
    lines.push(`  op${t.id} -> t${t.id};`);
    for (const x of node.inputs) {
      lines.push(`  t${x.id} -> op${t.id};`);
      stack.push(x);
    }
  }
  lines.push('}');
  return lines.join('\n');
}
