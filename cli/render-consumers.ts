/**
 * How the `consumers` commands of both modes print: one line on stderr saying what changed (and
 * where the grants come from), a stable `--json` object on stdout, and a tab-separated list.
 */
import type { ConsumerChange, KeyringConsumers } from '../shared/usecases/consumers';
import { writeJson, writeStdout } from './io';

/** Where the grants of a registered consumer come from, in each mode. */
export type GrantNote = { readonly mode: 'local' } | { readonly mode: 'aws'; readonly stack: string };

/**
 * The line after a change: what the registry now says and what happens to the grants.
 *
 * @example
 * changeLine({ keyring: 'pii', principalArn: arn, outcome: 'removed', count: 0 }, { mode: 'local' });
 * // 'removed arn:... on keyring pii; local mode enforces no KMS grants: the registry is kept and listed only'
 */
export function changeLine(c: ConsumerChange, note: GrantNote): string {
  const who = `${c.principalArn} on keyring ${c.keyring}`;
  const what =
    c.outcome === 'added'
      ? `registered ${who} (${c.consumer?.access ?? ''})`
      : c.outcome === 'updated'
        ? `changed access of ${who} to ${c.consumer?.access ?? ''}`
        : c.outcome === 'removed'
          ? `removed ${who}`
          : c.consumer !== undefined
            ? `unchanged: ${who} is already registered (${c.consumer.access})`
            : `unchanged: ${who} is not registered`;
  if (c.outcome === 'unchanged') return what;
  const after =
    note.mode === 'local'
      ? 'local mode enforces no KMS grants: the registry is kept and listed only'
      : c.outcome === 'removed'
        ? `the key-access function of stack ${note.stack} revokes its grants on the S3 event of this write (its schedule is the backstop)`
        : `the key-access function of stack ${note.stack} grants it on the S3 event of this write (its schedule is the backstop); follow with 'rekey --aws consumers list ${c.keyring}'`;
  return `${what}; ${after}`;
}

/**
 * Prints a change: `--json` on stdout, the line on stderr.
 *
 * @example
 * await printChange(change, { mode: 'aws', stack: 'Rekey' }, false);
 */
export async function printChange(c: ConsumerChange, note: GrantNote, json: boolean): Promise<void> {
  if (json) await writeJson({ keyring: c.keyring, principalArn: c.principalArn, outcome: c.outcome, changed: c.outcome !== 'unchanged', access: c.consumer?.access ?? null, consumers: c.count, grants: note.mode === 'local' ? 'none (local mode)' : 'key-access' });
  process.stderr.write(`${changeLine(c, note)}\n`);
}

/**
 * Prints the consumers: `--json`, or one `keyring<TAB>access<TAB>role<TAB>addedAt<TAB>addedBy` line each.
 *
 * @example
 * await printConsumers(await listConsumers({ keyring: 'pii' }, services), false);
 */
export async function printConsumers(all: readonly KeyringConsumers[], json: boolean): Promise<void> {
  if (json) {
    await writeJson({ keyrings: all.map((k) => ({ keyring: k.keyring, consumers: k.consumers })) });
    return;
  }
  const lines = all.flatMap((k) => k.consumers.map((c) => `${k.keyring}\t${c.access}\t${c.principalArn}\t${c.addedAt}\t${c.addedBy}\n`));
  await writeStdout(lines.join(''));
  if (lines.length === 0) process.stderr.write(`no consumers registered${all.length === 1 ? ` on keyring ${all[0]?.keyring ?? ''}` : ''}\n`);
}
