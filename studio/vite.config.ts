import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The studio/console SPA. Built into studio/dist, which the API serves at "/" (see api/app.ts);
// `scripts/build-studio.mjs` runs this build before `npm start` when the sources changed.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  // Vite 8 transforms TS/TSX with Oxc; React 19's automatic JSX runtime, no plugin needed.
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    // `npx vite studio` during development: the API (runtime/main.ts) answers on :3000 by default.
    proxy: { '/api': 'http://127.0.0.1:3000', '/healthz': 'http://127.0.0.1:3000' },
  },
});
