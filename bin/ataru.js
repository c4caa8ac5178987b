#!/usr/bin/env node
// The CLI entry point: the TypeScript build lives in dist/ (npm install builds it).
import { main } from '../dist/src/cli/main.js';
main(process.argv).catch((err) => {
  process.stderr.write(`ataru: ${err?.message ?? err}\n`);
  process.exit(1);
});
