#!/usr/bin/env node
// Launcher of the `rekey` CLI: runs the compiled build when there is one (npm run build),
// otherwise the TypeScript sources through ts-node with SWC (a checkout right after npm ci).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'bin', 'rekey.js');
if (existsSync(built)) {
  require(built);
} else {
  require('ts-node').register({ swc: true, project: join(__dirname, '..', 'tsconfig.json') });
  require('./rekey.ts');
}
