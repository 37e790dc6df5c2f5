#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs as `prepare`). In a source
// checkout without dist/, or with FAILSAFE_FROM_SOURCE=1 (the tests set it, so they never run a stale
// build), it runs the TypeScript sources through tsx instead: slower to start, but always current.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

if (process.env.FAILSAFE_FROM_SOURCE !== '1' && existsSync(compiled)) await import(compiled.href);
else if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  process.stderr.write('failsafe: not built: run `npm run build` in the Failsafe folder (`npm ci` does it too)\n');
  process.exitCode = 1;
}
