#!/usr/bin/env node
// Entry point of the `berth` command: the compiled JavaScript in dist/ (built by `npm ci` through
// the `prepare` script, or by `npm run build`).
import module from 'node:module';

// Reuse V8's compiled code across runs (cached under the OS temp dir): a short command such as
// `berth ws exec` would otherwise spend much of its life compiling the same modules again.
module.enableCompileCache?.();
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
