// Builds the browser UI into dist/web, which `berth server` serves at `/` (src/server/web/static.ts).
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/',
  plugins: [react()],
  // Everything is bundled: no CDN, no external font; the CSP (default-src 'self') would refuse them anyway.
  build: { outDir: here('../dist/web'), emptyOutDir: true, sourcemap: true, assetsInlineLimit: 0, chunkSizeWarningLimit: 1500 },
  server: { proxy: { '/api': { target: process.env.BERTH_URL ?? 'http://127.0.0.1:7420', ws: true } } },
});
