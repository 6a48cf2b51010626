/**
 * Build time (Node): where each autodiff op of @simplex-vq/tensor is defined. Every op that can
 * appear in a graph is recorded in packages/tensor/src/ops/*.ts, either through the elementwise
 * helpers (`unary('tanh', …)`, `binary('mul', …)`, whose one-line derivation comment sits above
 * them) or by a direct `record('matmul', …)` inside its function. For each op name this finds the
 * first such call and keeps the file, the line of the declaration around it, the comment above
 * it (the derivation), and a short snippet, which the page shows beside the graph.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface OpSource {
  /** Path from the repository root, e.g. packages/tensor/src/ops/unary.ts. */
  file: string;
  /** 1-based line of the op's declaration. */
  line: number;
  /** The comment above the declaration, without comment markers (the derivation, for most ops). */
  doc: string;
  /** The declaration and its comment, with the middle of a long function left out. */
  snippet: string;
}

const CALL = /\b(unary|binary|record|extreme)\('(\w+)'/g;
const TOP_LEVEL = /^(export\s+)?(async\s+)?(function|const|let)\s/;
const COMMENT = /^\s*(\/\/|\/\*\*|\*\/|\*)/;
const MAX_COMMENT_LINES = 8;
const MAX_SNIPPET_LINES = 16;

/** Scans the op files under `opsDir`; paths are given relative to `repoRoot`. */
export function scanOpSources(repoRoot: string, opsDir: string): Record<string, OpSource> {
  const found: Record<string, OpSource> = {};
  for (const name of readdirSync(opsDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort()) {
    const path = join(opsDir, name);
    const lines = readFileSync(path, 'utf8').split('\n');
    lines.forEach((text, i) => {
      for (const m of text.matchAll(CALL)) {
        const op = m[2]!;
        if (found[op] || m[1] === 'unary' && text.includes('function unary')) continue;
        const source = locate(lines, i, m.index!, relative(repoRoot, path).split('\\').join('/'));
        // max and min share one helper, whose comment says what their gradient is.
        if (!source.doc && m[1] !== 'record') source.doc = commentAbove(lines, lines.findIndex((l) => l.startsWith(`function ${m[1]}(`)));
        found[op] = source;
      }
    });
  }
  return found;
}

function locate(lines: string[], at: number, column: number, file: string): OpSource {
  // The top-level declaration that holds the call (the call's own line for `export const tanh = …`).
  let decl = at;
  while (decl > 0 && !TOP_LEVEL.test(lines[decl]!)) decl--;
  let first = decl;
  while (first > 0 && COMMENT.test(lines[first - 1]!) && decl - first < MAX_COMMENT_LINES) first--;
  // The end of the call's statement: where its parentheses close.
  let depth = 0;
  let end = at;
  for (let i = at; i < lines.length && i < at + MAX_SNIPPET_LINES; i++) {
    const text = i === at ? lines[i]!.slice(column) : lines[i]!;
    for (const ch of text) depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    end = i;
    if (depth <= 0) break;
  }
  const head = lines.slice(first, decl + 1);
  const body = at - decl > 6 ? ['  // …', ...lines.slice(at, end + 1)] : lines.slice(decl + 1, end + 1);
  return { file, line: decl + 1, doc: commentAbove(lines, decl), snippet: [...head, ...body].slice(0, MAX_SNIPPET_LINES + MAX_COMMENT_LINES).join('\n') };
}

/** The comment block right above line `decl`, as one line of text. */
function commentAbove(lines: string[], decl: number): string {
  if (decl < 0) return '';
  let first = decl;
  while (first > 0 && COMMENT.test(lines[first - 1]!) && decl - first < MAX_COMMENT_LINES) first--;
  return lines
    .slice(first, decl)
    .map((l) => l.replace(/^\s*(\/\*\*|\*\/|\/\/|\*)\s?/, '').replace(/\s*\*\/\s*$/, '').trim())
    .filter((l) => l.length > 0)
    .join(' ');
}
