/**
 * The packages as a user gets them: `npm pack` for tensor, nn and vq (the real command, so
 * their `prepack` builds), the tarballs installed offline into a folder outside the workspace,
 * and every complete ```ts example of their READMEs (as installed) run there:
 *  - type-checked against the installed packages by a consumer without @types/node (`types: []`,
 *    `skipLibCheck: false`, lib ES2022 + DOM), then compiled to JavaScript;
 *  - run in Node;
 *  - run in headless Chromium, from a page whose import map is built from the installed
 *    packages' `exports` (the browser conditions) and served by a small static server. Examples
 *    importing a Node-only entry (`@simplex-vq/nn/node`, files) are left out there, with a note.
 * Each example must print what its `// comment` after each console.log says, and the browser
 * must print what Node printed. The root README's page example ("Use a package from a page") is
 * opened too, as written, from the install folder. viz is packed and unpacked (its dependencies
 * would come from the registry): its `@simplex-vq/viz/svg` entry, which needs none, is loaded in
 * the page by path and must draw the SVG it draws in Node.
 *
 * Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM_PATH) for the browser part: where it
 * is missing that part is skipped with a message outside CI, and fails in CI (.ci/run installs it).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The packages packed and installed, in dependency order (each needs only those before it). */
const PACKAGES = ['tensor', 'nn', 'vq'] as const;
/**
 * Packed and unpacked, not installed: viz's dependencies (vega, resvg, pngjs) come from the
 * registry, and only its `@simplex-vq/viz/svg` entry, which needs none of them, is run here.
 */
const UNPACKED = ['viz'] as const;
const PACKED = [...PACKAGES, ...UNPACKED];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const TSC = join(REPO, 'node_modules', 'typescript', createRequire(join(REPO, 'package.json'))('typescript/package.json').bin.tsc);
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

if (!hasChromium) {
  console.warn(`[packaging] ${CHROMIUM} not found: the browser run needs Debian's chromium (apt-get install -y chromium)${process.env.CI ? '' : '; skipped outside CI'}`);
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  scripts?: Record<string, string>;
}
interface Example {
  id: string;
  source: string;
  imports: string[];
}
type Logged = unknown[][];

const scratch = mkdtempSync(join(tmpdir(), 'simplex-vq-packaging-'));
const tarballs = join(scratch, 'tarballs');
const consumer = join(scratch, 'consumer');
const installed = (pkg: string) => ((UNPACKED as readonly string[]).includes(pkg) ? join(consumer, pkg) : join(consumer, 'node_modules', '@simplex-vq', pkg));
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** Files of a tarball, without the leading "package/". */
const listing: Record<string, string[]> = {};
const examples: Example[] = [];
const nodeLogs: Record<string, Logged> = {};

beforeAll(async () => {
  mkdirSync(tarballs);
  mkdirSync(join(consumer, 'examples'), { recursive: true });
  const deps: Record<string, string> = {};
  for (const pkg of PACKED) {
    const dir = join(REPO, 'packages', pkg);
    const { version } = readJson<PackageJson>(join(dir, 'package.json'));
    await run('npm', ['pack', '--pack-destination', tarballs], { cwd: dir, env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
    const file = join(tarballs, `simplex-vq-${pkg}-${version}.tgz`);
    const { stdout } = await run('tar', ['-tzf', file]);
    listing[pkg] = stdout.split('\n').filter((l) => l !== '' && !l.endsWith('/')).map((l) => l.replace(/^package\//, ''));
    if ((UNPACKED as readonly string[]).includes(pkg)) {
      mkdirSync(installed(pkg), { recursive: true });
      await run('tar', ['-xzf', file, '--strip-components=1', '-C', installed(pkg)]);
    } else {
      deps[`@simplex-vq/${pkg}`] = `file:${file}`;
    }
  }
  console.log(`[packaging] packed ${PACKED.join(', ')} (${seconds()} s)`);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: deps }, null, 2));
  // Offline: the tarballs depend only on each other, so nothing comes from the registry.
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts'], { cwd: consumer });
  console.log(`[packaging] installed into ${consumer} (${seconds()} s)`);

  for (const pkg of PACKAGES) {
    const readme = readFileSync(join(installed(pkg), 'README.md'), 'utf8');
    let n = 0;
    for (const [, source] of readme.matchAll(/```ts\n([\s\S]*?)```/g)) {
      const imports = [...source!.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!);
      if (!source!.trimStart().startsWith('import ')) continue; // a fragment continuing the text, not a program
      examples.push({ id: `${pkg}-${++n}`, source: source!, imports });
    }
  }
  for (const e of examples) writeFileSync(join(consumer, 'examples', `${e.id}.ts`), e.source);
  writeFileSync(join(consumer, 'run-node.mjs'), [
    "import { pathToFileURL } from 'node:url';",
    'const logged = [];',
    'console.log = (...args) => logged.push(args);',
    'await import(pathToFileURL(process.argv[2]).href);',
    'process.stdout.write(JSON.stringify(logged));',
  ].join('\n'));
}, 600_000); // npm pack (with prepack) of each package and an offline install: ~30 s alone, minutes under CI's parallel load

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the tarballs', () => {
  it.each(PACKED)('%s holds dist (JavaScript, types, source maps), README, LICENSE and package.json, and nothing else', (pkg) => {
    const files = listing[pkg]!;
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']));
    const other = files.filter((f) => !['package.json', 'README.md', 'LICENSE'].includes(f) && !/^dist\/.*\.(js|d\.ts|js\.map)$/.test(f));
    expect(other, 'no tests, reports, build info or declaration maps').toEqual([]);
    // Every file in dist comes from a source file that still exists (no leftovers of a deleted one).
    const src = join(REPO, 'packages', pkg, 'src');
    const stale = files.filter((f) => f.startsWith('dist/') && !existsSync(join(src, f.slice(5).replace(/\.(js|d\.ts|js\.map)$/, '.ts'))));
    expect(stale, 'dist files without a source: build from a clean dist').toEqual([]);
    expect(readFileSync(join(installed(pkg), 'LICENSE'), 'utf8')).toBe(readFileSync(join(REPO, 'LICENSE'), 'utf8'));
  });

  it.each(PACKED)('%s: internal dependencies have version ranges, every export has types, prepack builds', (pkg) => {
    const pj = readJson<PackageJson>(join(installed(pkg), 'package.json'));
    for (const [name, range] of Object.entries(pj.dependencies ?? {})) {
      if (!name.startsWith('@simplex-vq/')) continue;
      expect(range, `${pkg} → ${name}`).toMatch(/^\^\d+\.\d+\.\d+$/);
      const dep = readJson<PackageJson>(join(installed(name.slice('@simplex-vq/'.length)), 'package.json'));
      expect(range.slice(1), `${pkg} → ${name}`).toBe(dep.version); // ^x.y.z of the version beside it
    }
    for (const [key, target] of Object.entries(pj.exports)) {
      if (key === './package.json') continue;
      expect(typeof target === 'object' && Object.keys(target)[0], `exports["${key}"] starts with "types"`).toBe('types');
      for (const file of Object.values(target as Record<string, string>)) expect(listing[pkg], `exports["${key}"]`).toContain(file.replace(/^\.\//, ''));
    }
    expect(readJson<PackageJson>(join(REPO, 'packages', pkg, 'package.json')).scripts?.prepack).toMatch(/build/);
  });
});

describe('the README examples, from the installed tarballs', () => {
  it('are found: every complete ```ts block of the three READMEs', () => {
    console.log(`[packaging] examples: ${examples.map((e) => e.id).join(', ')}`);
    for (const pkg of PACKAGES) expect(examples.some((e) => e.id.startsWith(`${pkg}-`)), pkg).toBe(true);
  });

  it('type-check without @types/node (types: [], skipLibCheck: false) and compile', async () => {
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', lib: ['ES2022', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true,
        types: [], skipLibCheck: false, noEmitOnError: true, rootDir: 'examples', outDir: 'out',
      },
      include: ['examples/*.ts'],
    }, null, 2));
    expect(existsSync(join(consumer, 'node_modules', '@types'))).toBe(false);
    const result = await run(process.execPath, [TSC, '-p', consumer]).catch((e: { stdout: string }) => ({ stdout: e.stdout, failed: true }));
    expect(result.stdout, `tsc found errors in the README examples:\n${result.stdout}`).toBe('');
    console.log(`[packaging] examples type-checked and compiled (${seconds()} s)`);
  }, 60_000);

  it('run in Node and print what their comments say', async () => {
    for (const e of examples) {
      const { stdout } = await run(process.execPath, [join(consumer, 'run-node.mjs'), join(consumer, 'out', `${e.id}.js`)], { cwd: consumer });
      nodeLogs[e.id] = JSON.parse(stdout) as Logged;
      expect(nodeLogs[e.id]!.length, `${e.id} printed nothing`).toBeGreaterThan(0);
      checkComments(e, nodeLogs[e.id]!);
    }
    console.log(`[packaging] ran ${examples.length} examples in Node (${seconds()} s)`);
  }, 120_000);

  describe.skipIf(!hasChromium && !process.env.CI)('in headless Chromium through an import map', () => {
    it('run, print what they printed in Node, and use one thread (the page is not cross-origin isolated); viz/svg draws there what it draws in Node', async () => {
      expect(hasChromium, `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`).toBe(true);
      const imports = importMap();
      const inBrowser = examples.filter((e) => e.imports.every((i) => i in imports));
      for (const e of examples.filter((x) => !inBrowser.includes(x))) {
        console.log(`[packaging] browser: ${e.id} left out: it imports ${e.imports.filter((i) => !(i in imports)).join(', ')}, which a page cannot (Node only: files)`);
      }
      expect(inBrowser.length).toBeGreaterThan(0);
      // The root README's "Use a package from a page" example, as written (its paths are relative to the install folder).
      const readmePage = /```html\n([\s\S]*?)```/.exec(readFileSync(join(REPO, 'README.md'), 'utf8').split('## Use a package from a page')[1] ?? '')?.[1];
      expect(readmePage, 'the root README has an html example under "Use a package from a page"').toContain('importmap');
      const { server, url } = await serve(consumer, { '/': page(imports, inBrowser.map((e) => e.id)), '/readme.html': readmePage!, '/viz.html': vizPage });
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      let results: Record<string, { logged?: Logged; error?: string }>;
      let threads: number;
      let readmeText = '';
      let viz: { svg?: string; circles?: number; error?: string } = {};
      const problems: string[] = [];
      try {
        const tab = await browser.newPage();
        tab.on('pageerror', (e) => problems.push(`page error: ${e}`));
        tab.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`${r.status()} ${r.url()}`); });
        await tab.goto(url);
        await tab.waitForFunction(() => 'results' in window, undefined, { timeout: 120_000, polling: 100 });
        ({ results, threads } = await tab.evaluate(() => {
          const w = window as unknown as { results: typeof results; threads: number };
          return { results: w.results, threads: w.threads };
        }));
        await tab.goto(`${url}readme.html`);
        await tab.waitForFunction(() => document.body?.textContent?.trim(), undefined, { timeout: 60_000, polling: 100 });
        readmeText = (await tab.textContent('body'))!.trim();
        await tab.goto(`${url}viz.html`);
        await tab.waitForFunction(() => 'viz' in window, undefined, { timeout: 60_000, polling: 100 });
        viz = await tab.evaluate(() => (window as unknown as { viz: typeof viz }).viz);
      } finally {
        await browser.close();
        server.close();
      }
      expect(problems).toEqual([]);
      expect(threads).toBe(1);
      expect(readmeText, "the root README's page example").toMatch(/^codes used: \d+ of 16$/);
      console.log(`[packaging] the root README's page example shows "${readmeText}"`);
      // viz's svg entry, from its tarball, with no import map: the SVG it draws in the page is the one it draws in Node.
      expect(viz.error ?? '').toBe('');
      const { simplexPanelsSvg } = (await import(pathToFileURL(join(installed('viz'), 'dist', 'svg.js')).href)) as { simplexPanelsSvg: (o: unknown) => string };
      expect(viz.svg).toBe(simplexPanelsSvg(VIZ_PANELS));
      expect(viz.circles).toBe(VIZ_PANELS.panels[0]!.points.length);
      for (const e of inBrowser) {
        const r = results[e.id]!;
        expect(r.error ?? '', `${e.id} in the browser`).toBe('');
        checkComments(e, r.logged!);
        expect(r.logged, `${e.id}: the browser printed what Node printed`).toEqual(nodeLogs[e.id]);
      }
      console.log(`[packaging] ran ${inBrowser.length} examples in Chromium with the import map ${JSON.stringify(imports)} (${seconds()} s)`);
    }, 180_000);
  });
});

/**
 * The import map a page needs for the installed packages: each export of each package, with the
 * conditions a browser resolves (browser, import, default). An export with none of them (a
 * Node-only entry) is left out, so a page cannot import it.
 */
function importMap(): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pkg of PACKAGES) {
    const pj = readJson<PackageJson>(join(installed(pkg), 'package.json'));
    for (const [key, target] of Object.entries(pj.exports)) {
      if (key === './package.json') continue;
      const conditions = typeof target === 'string' ? { default: target } : target;
      const file = conditions.browser ?? conditions.import ?? conditions.default;
      if (file) map[pj.name + key.slice(1)] = `/node_modules/${pj.name}/${file.replace(/^\.\//, '')}`;
    }
  }
  return map;
}

/** A figure for viz's svg entry to draw, in Node and in the page. */
const VIZ_PANELS = { title: 'the simplex', panels: [{ title: 'knn-ce', subtitle: 'M = 3', points: [[1, 0, 0], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]] }] };

/** A page that imports viz's svg entry by its path (no import map) and draws the figure into itself. */
const vizPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>viz svg</title>
<script type="module">
  try {
    const { simplexPanelsSvg } = await import('/viz/dist/svg.js');
    const svg = simplexPanelsSvg(${JSON.stringify(VIZ_PANELS)});
    document.body.innerHTML = svg;
    window.viz = { svg, circles: document.querySelectorAll('svg circle').length };
  } catch (e) {
    window.viz = { error: String((e && e.stack) || e) };
  }
</script></head><body></body></html>`;

/** The page: the import map, then each example imported in turn with console.log captured. */
function page(imports: Record<string, string>, ids: string[]): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>packaging test</title>
<script type="importmap">${JSON.stringify({ imports })}</script>
<script type="module">
  import { CpuBackend } from '@simplex-vq/tensor';
  const results = {};
  const log = console.log;
  for (const id of ${JSON.stringify(ids)}) {
    const logged = [];
    console.log = (...args) => logged.push(args);
    try {
      await import('/out/' + id + '.js');
      results[id] = { logged: JSON.parse(JSON.stringify(logged)) };
    } catch (e) {
      results[id] = { error: String((e && e.stack) || e) };
    } finally {
      console.log = log;
    }
  }
  window.threads = new CpuBackend().threadCount;
  window.results = results;
</script></head><body>packaging test</body></html>`;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json', '.json': 'application/json' };

/** A static server for `root`, with the given pages (path → HTML) besides its files. */
function serve(root: string, pages: Record<string, string>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (pages[path] !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(pages[path]);
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` });
  }));
}

/** Formats logged values the way the READMEs' comments write them: [1, 2], { a: 1 }, true. */
function format(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(format).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${format(x)}`).join(', ')} }`;
  return typeof v === 'string' ? v : String(v);
}

/**
 * Each `console.log(...); // comment` line of the example: the comment starts with what that call
 * printed (e.g. `// 50 { lr: 0.05 } 0`, `// 1: every code is used`, `// true [64, 32]`), leaving
 * out a label the call starts with (`console.log('code usage', ...)`).
 */
function checkComments(e: Example, logged: Logged): void {
  const calls = [...e.source.matchAll(/console\.log\((.*?)\);(?:\s*\/\/ (.*))?$/gm)].map((m) => ({ labelled: /^'[^']*',/.test(m[1]!), comment: m[2] }));
  expect(logged.length, `${e.id}: one line printed per console.log`).toBe(calls.length);
  calls.forEach(({ labelled, comment }, i) => {
    if (comment === undefined || comment.startsWith('e.g.')) return;
    const printed = logged[i]!.slice(labelled ? 1 : 0).map(format).join(' ');
    expect(comment.startsWith(printed) && /^($|[: ])/.test(comment.slice(printed.length)), `${e.id}: printed "${printed}", its comment says "${comment}"`).toBe(true);
  });
}
