/**
 * A deliberate, reviewed patch of @cloud-copilot/iam-simulate 0.1.173 so that colon-templated
 * condition keys (`kms:EncryptionContext:<key>`) reach the evaluator.
 *
 * The defect (see /work/shared/TOOLCHAIN.md, "Policy evaluation"): `runSimulation` filters the
 * request's context keys through `normalizeSimulationParameters`, which keeps a key only when it
 * is in the action's allowed-key set or matches a *slash*-templated key (`listHasVariableKeyMatch`
 * only knows `aws:PrincipalTag/x`). iam-data lists the KMS key as
 * `kms:EncryptionContext:${EncryptionContextKey}`, so `kms:EncryptionContext:keyring` lands in
 * `ignoredContextKeys` and every key-policy condition on it evaluates as missing. Second half of
 * the same defect: `normalizeContextKeyCase` substitutes the variable only after a `/`, so even a
 * kept key would be renamed to the literal template.
 *
 * `listHasVariableKeyMatch` is module-private, so the patch wraps the two exported functions that
 * `normalizeSimulationParameters` reaches through their module objects (CommonJS property reads at
 * call time):
 *  - `simulation_engine/contextKeys.js#allowedContextKeysForRequest`: also allows the request's own
 *    keys that instantiate a colon-templated allowed key (the request's keys are carried in an
 *    AsyncLocalStorage, so concurrent simulations cannot see each other's keys);
 *  - `context_keys/contextKeys.js#normalizeContextKeyCase`: substitutes a `${...}` variable after a
 *    colon as it already does after a slash.
 * Nothing else changes: slash-templated and plain keys take the library's own path.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { dirname, join } from 'node:path';
import { runSimulation, type RunSimulationResults, type Simulation } from '@cloud-copilot/iam-simulate';

/** The version this patch was written against and reviewed for. */
export const PATCHED_IAM_SIMULATE_VERSION = '0.1.173';

type AllowedKeysFn = (...args: unknown[]) => Promise<string[]>;
type NormalizeFn = (contextKey: string) => Promise<string>;

interface AllowedKeysModule {
  allowedContextKeysForRequest: AllowedKeysFn;
}
interface ContextKeysModule {
  normalizeContextKeyCase: NormalizeFn;
}

/** The internal CommonJS modules; `require` (not an import) because the package's `exports` map hides them. */
function internals(): { allowed: AllowedKeysModule; context: ContextKeysModule; version: string } {
  const root = dirname(require.resolve('@cloud-copilot/iam-simulate'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the same module instances runSimulation uses (jest's registry included)
  const allowed = require(join(root, 'simulation_engine', 'contextKeys.js')) as AllowedKeysModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  const context = require(join(root, 'context_keys', 'contextKeys.js')) as ContextKeysModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  const pkg = require(join(root, '..', '..', 'package.json')) as { version: string };
  if (typeof allowed.allowedContextKeysForRequest !== 'function' || typeof context.normalizeContextKeyCase !== 'function') {
    throw new Error(`iam-simulate ${pkg.version}: the functions this patch wraps are gone; re-check the colon-templated key defect`);
  }
  return { allowed, context, version: pkg.version };
}

/** The request context keys of the simulation running in this async context. */
const requestKeys = new AsyncLocalStorage<readonly string[]>();

let originals: { allowed: AllowedKeysFn; normalize: NormalizeFn } | undefined;

/** `kms:encryptioncontext:${encryptioncontextkey}` → `kms:encryptioncontext:` (only colon-templated keys). */
function colonTemplatePrefix(lowerKey: string): string | undefined {
  const at = lowerKey.indexOf('${');
  if (at <= 0 || lowerKey[at - 1] !== ':') return undefined;
  return lowerKey.slice(0, at);
}

/**
 * Installs the patch (idempotent). Throws if the installed iam-simulate no longer has the
 * functions it wraps, so a library upgrade forces a re-review instead of silently changing results.
 */
export function installIamSimulatePatch(): void {
  if (originals !== undefined) return;
  const { allowed, context } = internals();
  const original = { allowed: allowed.allowedContextKeysForRequest, normalize: context.normalizeContextKeyCase };
  allowed.allowedContextKeysForRequest = async (...args: unknown[]): Promise<string[]> => {
    const keys = await original.allowed(...args);
    const present = requestKeys.getStore();
    if (present === undefined) return keys;
    const prefixes = keys.map(colonTemplatePrefix).filter((p): p is string => p !== undefined);
    const extra = present.map((k) => k.toLowerCase()).filter((k) => prefixes.some((p) => k.startsWith(p) && k.length > p.length));
    return extra.length === 0 ? keys : [...keys, ...extra];
  };
  context.normalizeContextKeyCase = async (contextKey: string): Promise<string> => {
    const normalized = await original.normalize(contextKey);
    const at = normalized.indexOf('${');
    // The library returned the template itself: keep its spelling of the fixed part, the caller's of the variable.
    if (at > 0 && normalized[at - 1] === ':' && contextKey.length > at) return normalized.slice(0, at) + contextKey.slice(at);
    return normalized;
  };
  originals = original;
}

/** Restores the library's own functions (the test uses this to show the patch is what makes the difference). */
export function uninstallIamSimulatePatch(): void {
  if (originals === undefined) return;
  const { allowed, context } = internals();
  allowed.allowedContextKeysForRequest = originals.allowed;
  context.normalizeContextKeyCase = originals.normalize;
  originals = undefined;
}

/** Whether the patch is in place. */
export function isIamSimulatePatchInstalled(): boolean {
  return originals !== undefined;
}

/**
 * `runSimulation` with the request's context keys made visible to the patched key filter.
 * Does not install the patch itself: the authorizer installs it once at construction.
 */
export function runSimulationWithTemplatedKeys(simulation: Simulation): Promise<RunSimulationResults> {
  return requestKeys.run(Object.keys(simulation.request.contextVariables), () => runSimulation(simulation, {}));
}
