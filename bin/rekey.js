#!/usr/bin/env node
// Launcher of the `rekey` CLI in a checkout (`node bin/rekey.js`): runs the compiled build when
// there is one (npm run build), otherwise the TypeScript sources through ts-node with SWC (a
// checkout right after npm ci). The published package does not ship this file: its "bin" is
// dist/bin/rekey.js itself, so an installed `rekey` never reaches ts-node, a devDependency.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'bin', 'rekey.js');
if (existsSync(built)) {
  require(built);
} else {
  require('ts-node').register({ swc: true, project: join(__dirname, '..', 'tsconfig.json') });
  require('./rekey.ts');
}
