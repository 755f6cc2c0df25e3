#!/usr/bin/env node
// Entry point of the `berth` command: the compiled JavaScript in dist/ (built by `npm ci` through
// the `prepare` script, or by `npm run build`).
import module from 'node:module';

// Reuse V8's compiled code across runs (cached under the OS temp dir): a short command such as
// `berth ws exec` would otherwise spend much of its life compiling the same modules again.
module.enableCompileCache?.();
try {
  await import('../dist/cli/main.js');
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('berth: dist/ is missing; build it once with: npm run build');
    process.exit(1);
  }
  throw err;
}
