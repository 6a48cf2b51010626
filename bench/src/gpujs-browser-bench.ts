/**
 * The gpu.js benchmark's workload in headless Chromium, on gpu.js's WebGL2 target against the
 * CPU backend in the same page (one thread: a page that is not cross-origin isolated has no
 * SharedArrayBuffer). Needs Debian's chromium at /usr/bin/chromium (or CHROMIUM_PATH); without a
 * GPU, Chromium runs WebGL2 through SwiftShader, a software renderer, so these figures show the
 * GLSL path working, not GPU speed.
 *
 * Usage: node dist/gpujs-browser-bench.js [--quick]
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const quick = process.argv.includes('--quick');

if (!existsSync(CHROMIUM)) {
  console.log(`gpujs-browser-bench: ${CHROMIUM} not found (apt-get install -y chromium); skipped`);
  process.exit(0);
}

const PAGE = `<!doctype html><meta charset="utf-8">
<script src="/node_modules/gpu.js/dist/gpu-browser.js"></script>
<script type="importmap">{ "imports": { "@simplex-vq/tensor": "/packages/tensor/dist/index.js", "gpu.js": "/__gpu-shim.js" } }</script>
<script type="module">
  import { CpuBackend } from '@simplex-vq/tensor';
  import { createGpuJsBackend } from '/packages/backend-gpujs/dist/index.js';
  import { makeStep, matmulRunner, time } from '/bench/dist/gpujs-workload.js';
  setTimeout(() => {
    try {
      const runs = ${quick ? 2 : 5};
      const rows = [];
      for (const [name, make] of [['simplex-vq cpu, 1 thread', () => new CpuBackend({ threads: 1 })], ['gpujs webgl2', () => createGpuJsBackend({ mode: 'webgl2' })]]) {
        const b = make();
        const m512 = time(matmulRunner(b, 512), 1, runs);
        const m1024 = time(matmulRunner(b, 1024), 1, ${quick ? 1 : 3});
        const step = makeStep(b, 16);
        const s = time(() => void step(), 2, runs);
        rows.push({ name, target: b.describe ? b.describe() : 'TypeScript', mm512: 2 * 512 ** 3 / m512.ms / 1e6, mm1024: 2 * 1024 ** 3 / m1024.ms / 1e6, stepMs: s.ms });
      }
      window.__bench = { rows, ua: navigator.userAgent };
    } catch (e) {
      window.__bench = { error: String(e && e.stack || e) };
    }
  }, 0);
</script>`;

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  if (path === '/__gpu-shim.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end('export default globalThis.GPU;');
  const file = normalize(join(REPO, path));
  if (!file.startsWith(REPO) || !existsSync(file)) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream' }).end(readFileSync(file));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const port = (server.address() as { port: number }).port;

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
});
type Bench = { rows?: Array<{ name: string; target: string; mm512: number; mm1024: number; stepMs: number }>; ua?: string; error?: string };
let result: Bench;
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'commit' });
  await page.waitForFunction(() => (window as unknown as { __bench?: unknown }).__bench !== undefined, undefined, { timeout: 600_000, polling: 1000 });
  result = await page.evaluate(() => (window as unknown as { __bench: Bench }).__bench);
} finally {
  await browser.close();
  server.close();
}
if (result.error) {
  console.error(result.error);
  process.exit(1);
}
console.log(`# gpu.js WebGL2 in headless Chromium (${result.ua?.match(/Chrome\/[\d.]+/)?.[0] ?? 'Chromium'}), ${new Date().toISOString()}\n`);
console.log('| engine | runs on | matmul 512² GFLOP/s | matmul 1024² GFLOP/s | training step ms (batch 16) |');
console.log('|---|---|---|---|---|');
for (const r of result.rows!) console.log(`| ${r.name} | ${r.target} | ${r.mm512.toFixed(2)} | ${r.mm1024.toFixed(2)} | ${r.stepMs.toFixed(0)} |`);
process.exit(0);
