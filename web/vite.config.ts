// Builds the browser UI into dist/web, which `berth server` serves at `/` (src/server/web/static.ts).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const target = here('../dist/web');
// Written aside, then swapped in: a running server (or a test) never sees a half-emptied dist/web
// while `npm run build` runs again, and concurrent builds do not write into each other's files.
const staging = here(`../dist/.web-${process.pid}`);

/** Replaces dist/web with the finished build in two renames. */
function swapIn(): Plugin {
  return {
    name: 'berth-swap-in',
    apply: 'build',
    closeBundle() {
      const old = `${staging}-old`;
      try {
        fs.renameSync(target, old);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      fs.renameSync(staging, target);
      fs.rmSync(old, { recursive: true, force: true });
    },
  };
}

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [react(), swapIn()],
  // Everything is bundled: no CDN, no external font; the CSP (default-src 'self') would refuse them anyway.
  build: { outDir: staging, emptyOutDir: true, sourcemap: true, assetsInlineLimit: 0, chunkSizeWarningLimit: 1500 },
  server: { proxy: Object.fromEntries(['/api', '/readyz'].map((p) => [p, { target: process.env.BERTH_URL ?? 'http://127.0.0.1:7420', ws: true }])) },
});
