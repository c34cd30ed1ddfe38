/** `rekey keyring create | list | sources | update | delete` (local mode). */
import type { Command } from 'commander';
import { activeVersion, parseUnmanagedList } from '../../shared/catalog';
import type { KeyringPolicy } from '../../shared/catalog';
import { assertCoherentPolicy, parsePolicy, parsePolicyDurations, POLICY_FLAG_NAMES, type PolicyDurations, type PolicyNames } from '../../shared/catalog/policy';
import type { PolicyFieldChange } from '../../shared/catalog/keyring-update';
import { ConflictError, ValidationError } from '../../shared/errors';
import { loadLocalConfig } from '../../shared/config/load-config';
import { catalogAdminOf } from '../../shared/ports/catalog-admin';
import { deleteKeyring } from '../../shared/usecases/keyring-delete';
import { DEFAULT_CATALOG_TTL_MS } from '../../shared/vocabulary/catalog-cache';
import { formatDuration } from '../../shared/vocabulary/duration';
import { confirmIrreversible } from '../confirm';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';

/** Policy options of `keyring create` and `keyring update`. */
interface PolicyOptions {
  readonly rotateEvery?: string;
  readonly grace?: string;
  readonly propagation?: string;
  readonly retention?: string;
  readonly quiet?: string;
  readonly destroyAfterRetention?: boolean;
  readonly json?: boolean;
}

/** Options of `keyring create`. */
interface CreateOptions extends PolicyOptions {
  readonly unmanaged?: string;
}

/** A policy as `--json` shows it: durations as the flags take them, no stored field names. */
interface PolicyView {
  readonly rotateEvery: string;
  readonly grace: string;
  readonly propagation: string;
  readonly retention: string;
  readonly quiet: string;
  readonly destroyAfterRetention: boolean;
}

const SETTING: Readonly<Record<keyof KeyringPolicy, keyof PolicyView>> = {
  rotateEverySeconds: 'rotateEvery',
  graceSeconds: 'grace',
  propagationSeconds: 'propagation',
  retentionSeconds: 'retention',
  quietSeconds: 'quiet',
  destroyAfterRetention: 'destroyAfterRetention',
};

/** Registers the `keyring` group on `program`. */
export function registerKeyringCommands(program: Command): void {
  const keyring = program.command('keyring').description('create, change, list and delete keyrings, declare where their data lives');
  policyOptions(
    keyring
      .command('create <name>')
      .description('create a keyring with version 1 active (a deleted keyring\'s name is never reused)'),
    'default',
  )
    .option('--destroy-after-retention', 'opt in to destroying disabled versions after retention (off by default)')
    .option('--unmanaged <names>', 'comma-separated holders of envelopes rekey cannot count (e.g. files,backups)')
    .option('--json', 'print the keyring as JSON')
    .action(async (name: string, o: CreateOptions, cmd: Command) => {
      const policy = parsePolicy(durationsOf(o), POLICY_FLAG_NAMES);
      assertCoherentPolicy(policy, namesFor(o, 'the default'));
      const unmanaged = o.unmanaged === undefined ? [] : parseUnmanagedList(o.unmanaged);
      await withLocal(
        cmd,
        async (rk) => {
          const c = await rk.keyrings.createKeyring(name, policy, { actor: rk.actor, now: rk.clock(), unmanaged });
          if (o.json === true) await writeJson({ keyring: c.keyring, activeVersion: 1, policy: policyView(c.policy), unmanaged: c.sources?.unmanaged ?? [], home: rk.home });
          process.stderr.write(`created keyring ${c.keyring} with version 1 active in ${rk.home}\n`);
        },
        { create: true },
      );
    });

  keyring
    .command('list')
    .description('list keyrings and their active version')
    .option('--json', 'print the keyrings as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const all = await rk.keyrings.list();
        if (o.json === true) {
          await writeJson({ keyrings: all.map((c) => ({ keyring: c.keyring, activeVersion: activeVersion(c)?.version ?? null, frozen: c.frozen !== undefined })) });
          return;
        }
        for (const c of all) await writeStdout(`${c.keyring}\tactive v${activeVersion(c)?.version ?? '-'}\n`);
      });
    });

  keyring
    .command('sources <name>')
    .description('declare where the keyring\'s envelopes live besides the record store (a keyring with unmanaged data is never disabled on counts alone)')
    .option('--unmanaged <names>', 'comma-separated holders rekey cannot count (replaces the list)')
    .option('--none', 'declare no unmanaged holder')
    .option('--json', 'print the declaration as JSON')
    .action(async (name: string, o: { unmanaged?: string; none?: boolean; json?: boolean }, cmd: Command) => {
      if ((o.unmanaged === undefined) === (o.none !== true)) throw new ValidationError('give exactly one of --unmanaged <names> or --none');
      const unmanaged = o.none === true ? [] : parseUnmanagedList(o.unmanaged as string);
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.updateSources(name, unmanaged, { mode: 'set', actor: rk.actor, now: rk.clock() });
        if (o.json === true) await writeJson({ keyring: name, changed: r.changed, unmanaged: r.unmanaged });
        const list = r.unmanaged.length === 0 ? 'none' : r.unmanaged.join(', ');
        process.stderr.write(`${r.changed ? 'declared' : 'unchanged:'} unmanaged sources of ${name}: ${list}\n`);
      });
    });

  policyOptions(
    keyring
      .command('update <name>')
      .description('change a keyring\'s policy (only the settings given; versions are untouched, schedules follow the new periods)'),
    'current',
  )
    .option('--destroy-after-retention', 'opt in to destroying disabled versions after retention')
    .option('--no-destroy-after-retention', 'opt out again: disabled versions are kept')
    .option('--json', 'print the change as JSON')
    .action(async (name: string, o: PolicyOptions, cmd: Command) => {
      const changes = parsePolicyDurations(durationsOf(o), POLICY_FLAG_NAMES);
      if (Object.keys(changes).length === 0) {
        throw new ValidationError('give at least one of --rotate-every, --grace, --propagation, --retention, --quiet, --[no-]destroy-after-retention');
      }
      await withLocal(cmd, async (rk) => {
        const r = await rk.keyrings.updatePolicyFields(name, changes, { actor: rk.actor, now: rk.clock(), names: namesFor(o, 'the current') });
        const changed = r.changes.map(changeView);
        if (o.json === true) {
          await writeJson({ keyring: name, changed: r.changed, changes: changed, policy: policyView(r.catalog.policy), nextRotationDueAt: r.nextRotationDueAt ?? null });
        }
        const what = r.changed ? `updated ${name}: ${changed.map((c) => `${flagOf(c.setting)} ${String(c.from)} -> ${String(c.to)}`).join(', ')}` : `unchanged: ${name} already has this policy`;
        process.stderr.write(`${what}${dueLine(r.nextRotationDueAt, rk.clock(), r.changed)}\n`);
      });
    });

  keyring
    .command('delete <name>')
    .description('delete a keyring that holds no live data (refused while records, unmanaged holders or a revocation remain); its name is never reused')
    .option('--reason <text>', 'why (recorded in the audit trail)', 'operator request')
    .option('--yes', 'do not ask for confirmation (scripts); without a terminal it is required')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Two runs, so that no record is ever left without its key. The first takes the',
        'keyring out of use (writers are refused from then on) and exits 5: a writer that',
        'read the catalog earlier may still write for the catalog cache lifetime',
        '(REKEY_CATALOG_TTL_MS, default 1 minute). Rerun the same command after the time',
        'it names: with no record under the keyring the deletion is final (exit 0);',
        'records written meanwhile restore the keyring, readable as before (exit 5).',
        'Only the first run asks for confirmation.',
      ].join('\n'),
    )
    .action(async (name: string, o: { reason: string; yes?: boolean; json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        const catalogs = catalogAdminOf(rk.catalogs);
        if (catalogs === undefined) throw new ValidationError('this home\'s catalog store cannot delete keyrings');
        const r = await deleteKeyring(
          {
            keyring: name,
            actor: rk.actor,
            now: rk.clock(),
            reason: o.reason,
            // The writers' catalog cache lifetime, read from the same variable theirs is.
            settleMs: loadLocalConfig().catalogTtlMs ?? DEFAULT_CATALOG_TTL_MS,
            confirm: () => confirmIrreversible({ action: `delete keyring ${name} in local home ${rk.home}`, answer: name, ...(o.yes === true ? { yes: true } : {}) }),
          },
          { catalogs, records: rk.records, audit: rk.audit },
        );
        if (o.json === true) {
          await writeJson({ keyring: r.keyring, state: r.state, deleted: r.state === 'deleted', deletedAt: r.deletedAt, deletedBy: r.deletedBy, settlesAt: r.settlesAt, finishedAt: r.finishedAt ?? null });
        }
        if (r.state === 'deleting') {
          // Like revoke's settle window: scripts must not take the deletion for done.
          throw new ConflictError(`deleting keyring ${name}: writers with a cached catalog may still write until ${r.settlesAt}; rerun 'rekey keyring delete ${name}' after that to finish`);
        }
        process.stderr.write(r.changed ? `deleted keyring ${name}; its name is never reused\n` : `already deleted: keyring ${name} on ${r.finishedAt ?? r.deletedAt} by ${r.deletedBy}\n`);
      });
    });
}

/** Adds the policy's duration flags, with help that says what an omitted flag means. */
function policyOptions(cmd: Command, omitted: 'default' | 'current'): Command {
  const keep = (d: string): string => (omitted === 'default' ? `(default ${d})` : '(omitted: kept)');
  return cmd
    .option('--rotate-every <duration>', `rotate when the active version is this old, e.g. 90d, 1w, P30D ${keep('90d')}`)
    .option('--grace <duration>', `how long a superseded version stays fully usable; at most --rotate-every ${keep('7d')}`)
    .option('--propagation <duration>', `how long a new version is announced before it encrypts ${keep('10m')}`)
    .option('--retention <duration>', `how long a disabled version is kept before it may be destroyed ${keep('30d')}`)
    .option('--quiet <duration>', `how long a retired version key must go unused before it is disabled ${keep('7d')}`);
}

function durationsOf(o: PolicyOptions): PolicyDurations {
  return {
    ...(o.rotateEvery !== undefined ? { rotateEvery: o.rotateEvery } : {}),
    ...(o.grace !== undefined ? { grace: o.grace } : {}),
    ...(o.propagation !== undefined ? { propagation: o.propagation } : {}),
    ...(o.retention !== undefined ? { retention: o.retention } : {}),
    ...(o.quiet !== undefined ? { quiet: o.quiet } : {}),
    ...(o.destroyAfterRetention !== undefined ? { destroyAfterRetention: o.destroyAfterRetention } : {}),
  };
}

/** The flags' names, a setting not given on this command line named as `the default --grace`. */
function namesFor(o: PolicyOptions, omitted: string): PolicyNames {
  const given = (value: unknown, flag: string): string => (value === undefined ? `${omitted} ${flag}` : flag);
  return {
    rotateEverySeconds: given(o.rotateEvery, POLICY_FLAG_NAMES.rotateEverySeconds),
    graceSeconds: given(o.grace, POLICY_FLAG_NAMES.graceSeconds),
    propagationSeconds: given(o.propagation, POLICY_FLAG_NAMES.propagationSeconds),
    retentionSeconds: given(o.retention, POLICY_FLAG_NAMES.retentionSeconds),
    quietSeconds: given(o.quiet, POLICY_FLAG_NAMES.quietSeconds),
    destroyAfterRetention: given(o.destroyAfterRetention, POLICY_FLAG_NAMES.destroyAfterRetention),
  };
}

function policyView(p: KeyringPolicy): PolicyView {
  return {
    rotateEvery: formatDuration(p.rotateEverySeconds),
    grace: formatDuration(p.graceSeconds),
    propagation: formatDuration(p.propagationSeconds),
    retention: formatDuration(p.retentionSeconds),
    quiet: formatDuration(p.quietSeconds),
    destroyAfterRetention: p.destroyAfterRetention,
  };
}

function changeView(c: PolicyFieldChange): { setting: keyof PolicyView; from: string | boolean; to: string | boolean } {
  const show = (v: number | boolean): string | boolean => (typeof v === 'number' ? formatDuration(v) : v);
  return { setting: SETTING[c.field], from: show(c.from), to: show(c.to) };
}

/** What the new policy means for the schedule already running. */
function dueLine(due: string | undefined, now: Date, changed: boolean): string {
  if (due === undefined) return '';
  const overdue = Date.parse(due) <= now.getTime() ? ' (overdue: the next tick rotates)' : '';
  return `; next rotation ${changed ? 'now ' : ''}due ${due}${overdue}`;
}

/** A setting as operators type it: `rotateEvery` is `--rotate-every`. */
function flagOf(setting: string): string {
  return `--${setting.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
