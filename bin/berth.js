#!/usr/bin/env node
// Entry point of the `berth` command: the compiled JavaScript in dist/ (built by `npm ci` through
// the `prepare` script, or by `npm run build`).
import module from 'node:module';
import os from 'node:os';
import path from 'node:path';

// Reuse V8's compiled code across runs: a short command such as `berth ws exec` would otherwise
// spend much of its life compiling the same modules again. The cache lives in the user's own cache
// directory (NODE_COMPILE_CACHE still wins), not in a temp dir that other users can write to or
// that is emptied at boot.
const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
module.enableCompileCache?.(process.env.NODE_COMPILE_CACHE || path.join(cacheHome, 'berth', 'compile-cache'));
const main = new URL('../dist/cli/main.js', import.meta.url);
try {
  await import(main.href);
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && err.url === main.href) {
    console.error('berth: dist/ is not built; build it with: npm run build');
    process.exit(1);
  }
  if (err?.code === 'ERR_MODULE_NOT_FOUND') {
    console.error(`berth: ${err.message}\nInstall the dependencies with: npm ci`);
    process.exit(1);
  }
  throw err;
}
