/**
 * The parity suite in headless Chromium on gpu.js's WebGL2 target, so the GLSL code path runs
 * for real (through SwiftShader, Chromium's software GPU, on machines without one).
 *
 * Needs Debian's chromium (/usr/bin/chromium; .ci/run installs it) and playwright-core. Where
 * Chromium is missing outside CI the suite is skipped with a message saying how to get it; in CI
 * (CI=true) a missing browser is a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParityResult } from '../src/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
if (!available) {
  console.warn(`[browser] ${CHROMIUM} not found: the WebGL2 parity suite needs Debian's chromium (apt-get install -y chromium)${process.env.CI ? '' : '; skipped outside CI'}`);
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8">
<script src="/node_modules/gpu.js/dist/gpu-browser.js"></script>
<script type="importmap">
{ "imports": {
  "@simplex-vq/tensor": "/packages/tensor/dist/index.js",
  "gpu.js": "/__gpu-shim.js"
} }
</script>
<script type="module">
  import { CpuBackend, Generator, noGrad, randn, setBackend } from '@simplex-vq/tensor';
  import { createGpuJsBackend, runParitySuite } from '/packages/backend-gpujs/dist/index.js';
  try {
    const backend = createGpuJsBackend({ mode: 'webgl2' });
    const results = runParitySuite(backend, new CpuBackend({ threads: 1 }), 1e-4);
    window.__parity = { target: backend.target, describe: backend.describe(), results };
  } catch (e) {
    window.__parity = { error: String(e && e.stack || e) };
  }
  // Device memory over a 2,000-step training loop, with a small budget so the bound is exercised.
  try {
    const budget = 2 ** 20;
    const backend = createGpuJsBackend({ mode: 'webgl2', maxDeviceBytes: budget });
    const samples = [];
    const started = performance.now();
    setBackend(backend);
    const losses = await (async () => {
      const g = new Generator(3);
      const x = randn([64, 16], { generator: g });
      const y = x.matmul(randn([16, 4], { generator: g }));
      const w = randn([16, 4], { generator: g }).mul(0.1).requiresGrad_();
      const out = [];
      for (let step = 1; step <= 2000; step++) {
        w.grad = null;
        const loss = x.matmul(w).sub(y).square().mean();
        loss.backward();
        noGrad(() => w.assign(w.sub(w.grad.mul(0.05))));
        if (step === 1 || step === 2000) out.push(loss.item());
        // Yield now and then, as an app's loop does: the collector reports dead tensors between tasks.
        if (step % 10 === 0) await new Promise((r) => setTimeout(r, 0));
        if (step % 250 === 0) samples.push({ step, liveTextures: backend.liveTextures, liveBytes: backend.liveBytes, spilled: backend.spilledTextures });
      }
      return out;
    })();
    setBackend('cpu');
    window.__memory = { budget, samples, losses, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    window.__memory = { error: String(e && e.stack || e) };
  }
</script></head><body>parity</body></html>`;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.map': 'application/json' };

function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    if (path === '/__gpu-shim.js') {
      // gpu-browser.js defines the global GPU namespace; the backend imports it as 'gpu.js'.
      res.writeHead(200, { 'content-type': 'text/javascript' }).end('export default globalThis.GPU;');
      return;
    }
    const file = normalize(join(REPO, path));
    if (!file.startsWith(REPO) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const addr = server.address() as { port: number };
    resolve({ server, url: `http://127.0.0.1:${addr.port}/` });
  }));
}

describe.skipIf(!available && !process.env.CI)('gpu.js webgl2 target in headless Chromium', () => {
  let server: Server | undefined;
  let parity: { target?: string; describe?: string; results?: ParityResult[]; error?: string } = {};
  let memory: {
    budget?: number;
    samples?: Array<{ step: number; liveTextures: number; liveBytes: number; spilled: number }>;
    losses?: number[];
    seconds?: number;
    error?: string;
  } = {};

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
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(s.url, { waitUntil: 'commit' });
      await page.waitForFunction(() => (window as unknown as { __memory?: unknown }).__memory !== undefined, undefined, { timeout: 400_000, polling: 500 });
      parity = await page.evaluate(() => (window as unknown as { __parity: typeof parity }).__parity);
      memory = await page.evaluate(() => (window as unknown as { __memory: typeof memory }).__memory);
      if (errors.length) parity.error = `${parity.error ?? ''}\n${errors.join('\n')}`;
    } finally {
      await browser.close();
    }
    const results = parity.results ?? [];
    const special = results.filter((r) => r.name.startsWith('special values'));
    console.log(`[browser] ${parity.describe ?? 'no backend'}; ${results.filter((r) => r.ok).length}/${results.length} cases within 1e-4`);
    console.log(`[browser] NaN, ±Inf and special values on this GPU: ${special.filter((r) => r.ok).length}/${special.length} cases (elementwise ops, reductions, topk) agree with the definitions`);
    for (const r of special) {
      for (const m of r.mismatches ?? []) console.log(`[browser]   differs: ${m}`);
      for (const d of r.deviations ?? []) console.log(`[browser]   documented deviation: ${d}`);
    }
    console.log(`[browser] 2,000 training steps on webgl2 in ${memory.seconds?.toFixed(1)} s; device memory: ${JSON.stringify(memory.samples)}`);
  }, 600_000);

  afterAll(() => {
    server?.close();
  });

  it('runs gpu.js on its WebGL2 target (the GLSL path)', () => {
    expect(parity.error ?? '', parity.error).toBe('');
    expect(parity.target).toBe('webgl2');
  });

  it('matches the CPU backend on every primitive and on the model gradients (relative error ≤ 1e-4), and the definitions on NaN and ±Inf (elementwise ops, reductions, topk)', () => {
    const results = parity.results ?? [];
    expect(results.length).toBeGreaterThan(130);
    expect(results.filter((r) => /^special values: (reduce|topk) /.test(r.name)).length).toBe(14);
    const failures = results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error ?? r.mismatches?.join('; ') ?? r.maxRelError}`);
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('keeps device memory bounded over a 2,000-step training loop', () => {
    expect(memory.error ?? '', memory.error).toBe('');
    const samples = memory.samples ?? [];
    expect(samples.map((s) => s.step)).toEqual([250, 500, 750, 1000, 1250, 1500, 1750, 2000]);
    for (const s of samples) expect(s.liveBytes, `step ${s.step}`).toBeLessThanOrEqual(memory.budget!);
    const [first, last] = memory.losses ?? [];
    expect(last!).toBeLessThan(first! * 0.01); // it trained
  });
});
