/**
 * The playground's build. Besides the page itself, two things are made here at build time, in
 * Node, and never committed:
 *  - data/mnist-slice.bin, a few hundred MNIST digits from the `mnist` package (build/mnist-slice.ts);
 *  - the autodiff view's op → source map (`virtual:op-sources`, build/op-sources.ts) and copies of
 *    the engine files it links to (source/…, shown by source.html), so the links work offline.
 * `vite` (dev) serves the same files from memory.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { mnistSliceBytes } from './build/mnist-slice.js';
import { scanOpSources } from './build/op-sources.js';
import { MNIST_SLICE_PATH } from './src/mnist-format.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = resolve(HERE, '../..');
const TENSOR_SRC = join(REPO, 'packages/tensor/src');
const VIRTUAL = 'virtual:op-sources';

/** The engine files the autodiff view links to, by path from the repository root. */
function linkedSources(): string[] {
  const ops = readdirSync(join(TENSOR_SRC, 'ops')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => `ops/${f}`);
  return ['autograd.ts', 'tensor.ts', ...ops].map((f) => `packages/tensor/src/${f}`);
}

function playgroundAssets(): Plugin {
  let slice: Uint8Array | null = null;
  const sliceBytes = () => (slice ??= mnistSliceBytes());
  return {
    name: 'simplex-vq-playground-assets',
    resolveId: (id) => (id === VIRTUAL ? `\0${VIRTUAL}` : null),
    load(id) {
      if (id !== `\0${VIRTUAL}`) return null;
      return `export default ${JSON.stringify(scanOpSources(REPO, join(TENSOR_SRC, 'ops')))};`;
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: MNIST_SLICE_PATH, source: sliceBytes() });
      for (const file of linkedSources()) this.emitFile({ type: 'asset', fileName: `source/${file}`, source: readFileSync(join(REPO, file), 'utf8') });
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
        if (path === `/${MNIST_SLICE_PATH}`) {
          res.setHeader('content-type', 'application/octet-stream');
          res.end(sliceBytes());
          return;
        }
        const file = path.startsWith('/source/') ? path.slice('/source/'.length) : null;
        if (file && linkedSources().includes(file)) {
          res.setHeader('content-type', 'text/plain; charset=utf-8');
          res.end(readFileSync(join(REPO, file), 'utf8'));
          return;
        }
        next();
      });
    },
  };
}

export default defineConfig({
  // Relative URLs: dist/ works from any folder of any static server.
  base: './',
  plugins: [playgroundAssets()],
  build: {
    target: 'es2022',
    rollupOptions: { input: { main: join(HERE, 'index.html'), source: join(HERE, 'source.html') } },
    // gpu.js's browser build alone is ~600 kB; one chunk is fine for a page loaded once.
    chunkSizeWarningLimit: 2000,
  },
  preview: { host: '127.0.0.1', port: 4173 },
});
