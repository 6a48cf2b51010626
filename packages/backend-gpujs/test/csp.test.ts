/**
 * A page under a strict Content-Security-Policy (`script-src 'self'`: no eval, no inline scripts,
 * no WebAssembly compilation), in headless Chromium:
 * - the CPU backend of @simplex-vq/tensor trains: its elementwise loops cannot be generated with
 *   `new Function`, so they run interpreted, and the losses and weights are bit for bit those of
 *   the same steps in Node with compiled loops;
 * - gpu.js, target by target: what it can run under such a policy (the README says what it needs).
 *
 * Needs Debian's chromium and playwright-core, as browser.test.ts; skipped where Chromium is
 * missing outside CI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tensorModule from '@simplex-vq/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** The strict policy, and the same with WebAssembly allowed (what the SIMD matmul and gpu.js's webasm target need). */
const POLICY = "script-src 'self'";
const POLICY_WASM = "script-src 'self' 'wasm-unsafe-eval'";

type TensorModule = typeof tensorModule;

/**
 * A few SGD steps of a small MLP (matmul, gelu, relu, maximum, sigmoid, square, mean and their
 * gradients). Self-contained: the page receives its source.
 */
function trainSteps(T: TensorModule): { losses: number[]; weights: number[] } {
  const g = new T.Generator(3);
  const x = T.randn([32, 6], { generator: g });
  const y = T.randn([32, 1], { generator: g }).tanh().add(1).div(2);
  const w1 = T.randn([6, 12], { generator: g }).mul(0.4).requiresGrad_();
  const w2 = T.randn([12, 1], { generator: g }).mul(0.4).requiresGrad_();
  const losses: number[] = [];
  for (let step = 0; step < 8; step++) {
    w1.grad = null;
    w2.grad = null;
    const z = x.matmul(w1);
    const h = z.gelu().maximum(z.relu().mul(0.5));
    const loss = h.matmul(w2).sigmoid().sub(y).square().mean();
    loss.backward();
    T.noGrad(() => {
      w1.assign(w1.sub(w1.grad!.mul(0.5)));
      w2.assign(w2.sub(w2.grad!.mul(0.5)));
    });
    losses.push(loss.item());
  }
  return { losses, weights: [...Array.from(w1.data()), ...Array.from(w2.data())] };
}

const MAIN = `
import * as T from '/packages/tensor/dist/index.js';
import train from '/__train.js';
const report = { violations: [], gpujs: {} };
document.addEventListener('securitypolicyviolation', (e) => report.violations.push(e.violatedDirective + ' ' + e.blockedURI));
try {
  const evalBlocked = (() => { try { new Function('return 1'); return false; } catch { return true; } })();
  T.setBackend(new T.CpuBackend({ threads: 1 }));
  const result = train(T);
  report.cpu = { ...result, evalBlocked, kernelMode: T.cpuKernelMode(), simd: new T.CpuBackend({ threads: 1 }).simd };
} catch (e) {
  report.cpu = { error: String((e && e.stack) || e) };
}
try {
  const { createGpuJsBackend } = await import('/packages/backend-gpujs/dist/index.js');
  for (const mode of ['webgl2', 'webgl', 'webasm', 'cpu']) {
    try {
      const b = createGpuJsBackend({ mode });
      T.setBackend(b);
      const out = T.tensor([[1, -2], [3, 4]]).matmul(T.tensor([[1], [1]])).relu().toArray();
      report.gpujs[mode] = { target: b.target, out, fallback: b.fallbackReason };
    } catch (e) {
      report.gpujs[mode] = { error: String((e && e.message) || e).split('\\n')[0] };
    }
  }
} catch (e) {
  report.gpujs.error = String((e && e.stack) || e);
}
T.setBackend('cpu');
window.__csp = report;
`;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8">
<script src="/node_modules/gpu.js/dist/gpu-browser.js"></script>
<script type="module" src="/__main.js"></script>
</head><body>csp</body></html>`;

/** The built packages, with their bare imports pointed at served paths (an import map would be an inline script). */
function rewriteImports(src: string): string {
  return src.replaceAll("from '@simplex-vq/tensor'", "from '/packages/tensor/dist/index.js'").replaceAll("from 'gpu.js'", "from '/__gpu-shim.js'");
}

function serve(): Promise<{ server: Server; url: string }> {
  const js = { 'content-type': 'text/javascript' };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    res.setHeader('content-security-policy', POLICY);
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (path === '/wasm') return void res.writeHead(200, { 'content-type': 'text/html', 'content-security-policy': POLICY_WASM }).end(PAGE);
    if (path === '/__main.js') return void res.writeHead(200, js).end(MAIN);
    if (path === '/__train.js') return void res.writeHead(200, js).end(`export default ${trainSteps.toString()};`);
    if (path === '/__gpu-shim.js') return void res.writeHead(200, js).end('export default globalThis.GPU;');
    const file = normalize(join(REPO, path));
    if (!file.startsWith(REPO) || !existsSync(file)) return void res.writeHead(404).end('not found');
    const body = readFileSync(file);
    if (extname(file) === '.js') res.writeHead(200, js).end(file.includes('/packages/') ? rewriteImports(body.toString()) : body);
    else res.writeHead(200).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })));
}

interface Report {
  violations: string[];
  cpu?: { losses?: number[]; weights?: number[]; evalBlocked?: boolean; kernelMode?: string; simd?: boolean; error?: string };
  gpujs: Record<string, { target?: string; out?: number[][]; fallback?: string | null; error?: string }> & { error?: string };
}

describe.skipIf(!available && !process.env.CI)(`a page under Content-Security-Policy: ${POLICY} (headless Chromium)`, () => {
  let server: Server | undefined;
  let report: Report = { violations: [], gpujs: {} };
  let reportWasm: Report = { violations: [], gpujs: {} };
  const errors: string[] = [];

  beforeAll(async () => {
    expect(available, `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`).toBe(true);
    const { chromium } = await import('playwright-core');
    const s = await serve();
    server = s.server;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
    });
    const open = async (path: string): Promise<Report> => {
      const page = await browser.newPage();
      page.on('pageerror', (e) => errors.push(`${path}: ${String(e)}`));
      await page.goto(s.url + path, { waitUntil: 'commit' });
      await page.waitForFunction(() => (window as unknown as { __csp?: unknown }).__csp !== undefined, undefined, { timeout: 300_000, polling: 250 });
      return page.evaluate(() => (window as unknown as { __csp: Report }).__csp);
    };
    try {
      report = await open('');
      reportWasm = await open('wasm');
    } finally {
      await browser.close();
    }
    for (const [policy, r] of [[POLICY, report], [POLICY_WASM, reportWasm]] as const) {
      const gpu = Object.entries(r.gpujs).map(([mode, g]) => `${mode}: ${typeof g === 'string' ? g : g.error ? `fails (${g.error.slice(0, 120)})` : `runs (${g.target})`}`);
      console.log(`[csp] ${policy}`);
      console.log(`[csp]   CPU backend: loops ${r.cpu?.kernelMode}, SIMD matmul ${r.cpu?.simd ? 'on' : 'off'}; ${r.cpu?.losses?.length ?? 0} training steps, loss ${r.cpu?.losses?.[0]} → ${r.cpu?.losses?.at(-1)}`);
      console.log(`[csp]   gpu.js: ${gpu.join('; ')}`);
      console.log(`[csp]   violations reported: ${[...new Set(r.violations)].join(', ') || 'none'}`);
    }
  }, 400_000);

  afterAll(() => {
    server?.close();
  });

  it('refuses eval on the page, as the policy says', () => {
    expect(errors, errors.join('\n')).toEqual([]);
    for (const r of [report, reportWasm]) {
      expect(r.cpu?.error ?? '', r.cpu?.error).toBe('');
      expect(r.cpu?.evalBlocked).toBe(true);
    }
  });

  it('trains on the CPU backend with interpreted loops, bit for bit as Node does with compiled ones', () => {
    const node = tensorModule.withBackend(new tensorModule.CpuBackend({ threads: 1 }), () => trainSteps(tensorModule));
    expect(tensorModule.cpuKernelMode()).toBe('compiled');
    expect(node.losses.at(-1)!).toBeLessThan(node.losses[0]!);
    for (const r of [report, reportWasm]) {
      expect(r.cpu?.kernelMode).toBe('interpreted');
      expect(r.cpu?.losses).toEqual(node.losses);
      expect(r.cpu?.weights).toEqual(node.weights);
    }
    // The SIMD matmul needs WebAssembly: off under the strict policy (the JavaScript kernel gives the same bits), on with 'wasm-unsafe-eval'.
    expect(report.cpu?.simd).toBe(false);
    expect(reportWasm.cpu?.simd).toBe(true);
  });

  it("runs gpu.js's WebGL targets under script-src 'self' (shaders are not scripts); webasm needs 'wasm-unsafe-eval', cpu needs 'unsafe-eval'", () => {
    for (const r of [report, reportWasm]) {
      expect(r.gpujs.error ?? '', r.gpujs.error).toBe('');
      for (const mode of ['webgl2', 'webgl']) {
        expect(r.gpujs[mode]?.error ?? '', r.gpujs[mode]?.error).toBe('');
        expect(r.gpujs[mode]?.target).toBe(mode);
        expect(r.gpujs[mode]?.out).toEqual([[0], [7]]);
      }
      expect(r.gpujs.cpu?.error ?? '').not.toBe('');
    }
    expect(report.gpujs.webasm?.error ?? '').toMatch(/WebAssembly.*Content Security Policy/);
    expect(reportWasm.gpujs.webasm?.error ?? '', reportWasm.gpujs.webasm?.error).toBe('');
    expect(reportWasm.gpujs.webasm?.target).toBe('webasm');
    expect(reportWasm.gpujs.webasm?.out).toEqual([[0], [7]]);
  });
});
