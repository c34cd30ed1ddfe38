/**
 * What each function may call: exactly what its step needs (the store calls behind each action
 * are listed in access/function-access.ts). One place reads as the table of who may do what.
 */
import { Arn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type * as events from 'aws-cdk-lib/aws-events';
import { VERSION_CREATORS, allowBreakerFacts, allowCache, allowEscrowRestore, allowExposedCopyPurge, allowRecordTargets } from '../access/function-access';
import type { KeyringKey } from '../constructs/keyring-key';
import type { RekeyFunction } from '../constructs/rekey-function';
import type { SweepStateMachine } from '../constructs/sweep-state-machine';
import type { FunctionName } from '../defaults';
import type { ResolvedRekeyConfig, ResolvedTableTarget } from '../props';
import { ORIGIN_INDEX, VERSION_INDEX } from '../../shared/vocabulary/record-table-indexes';
import { CACHE_FUNCTIONS } from './functions';
import type { RekeyStorage } from './storage';

/** The parts whose permissions are granted. */
export interface FunctionPermissionsProps {
  readonly config: ResolvedRekeyConfig;
  readonly storage: RekeyStorage;
  readonly keyrings: ReadonlyMap<string, KeyringKey>;
  readonly eventBus: events.IEventBus;
  readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
  readonly sweep: SweepStateMachine;
}

/** Functions that write catalogs (compare-and-swap); the others ({@link CATALOG_READERS}) only read them. */
export const CATALOG_WRITERS: readonly FunctionName[] = ['rotate', 'grace-period', 'escrow', 'revoke', 'provision'];
/** Functions that read catalogs only. */
export const CATALOG_READERS: readonly FunctionName[] = ['reencrypt', 'cache-invalidate', 'key-access'];
/**
 * Functions that put audit events on the stack's bus: those whose services are built on the AWS
 * core (shared/compose/aws/aws-core.ts, EventBridgeAuditSink). key-access and key-use build no
 * audit sink and no EventBridge client (key-access-services.ts, key-use-services.ts): they never
 * send an event, so they get no events:PutEvents.
 */
export const AUDIT_WRITERS: readonly FunctionName[] = ['rotate', 'grace-period', 'reencrypt', 'cache-invalidate', 'escrow', 'revoke', 'provision'];

/**
 * Grants every function (and the sweep's state machine) what its code path calls, and the
 * escrow restore roles their break-glass access.
 *
 * @example
 * grantFunctionPermissions({ config, storage, keyrings, eventBus, functions, sweep });
 */
export function grantFunctionPermissions(props: FunctionPermissionsProps): void {
  const { config, storage, keyrings, functions: fns, sweep } = props;
  for (const name of CATALOG_WRITERS) storage.grantCatalog(fns[name].role, 'write');
  for (const name of CATALOG_READERS) storage.grantCatalog(fns[name].role, 'read');
  // Every catalog read on AWS overlays the revocation ledger; only revoke writes marks.
  for (const name of [...CATALOG_WRITERS, ...CATALOG_READERS]) storage.grantLedgerRead(fns[name].role);
  storage.grantLedgerWrite(fns.revoke.role);
  storage.grantSweepReports(sweep.stateMachine.role);
  for (const name of AUDIT_WRITERS) {
    fns[name].role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [props.eventBus.eventBusArn] }));
  }
  for (const key of keyrings.values()) {
    // Who creates version keys (wrapped only): rotate, the reconciler's create-pending, the
    // revocation's replacement, and keyring creation's version 1 (access/function-access.ts).
    for (const name of VERSION_CREATORS) key.allowVersionGeneration(fns[name].role);
    key.allowReencryption(fns.reencrypt.role);
    // A small keyring is swept inline by revoke (REKEY_INLINE_SWEEP_LIMIT); it re-encrypts like the worker.
    key.allowReencryption(fns.revoke.role);
    key.allowGrantManagement(fns['key-access'].role);
    key.addGrantee(fns.escrow.role.roleArn);
    // `escrow restore`: re-wrap a version key opened from escrow under this key (Encrypt only).
    allowEscrowRestore(key.key, key.keyring, fns.escrow.role);
  }
  allowRecordTargets(fns.reencrypt.role, config.recordTargets, 'write');
  allowRecordTargets(fns.revoke.role, config.recordTargets, 'write');
  // After re-encryption, noncurrent object versions under the revoked key go too.
  allowExposedCopyPurge(fns.revoke.role, config.recordTargets);
  allowRecordTargets(fns['grace-period'].role, config.recordTargets, 'read');
  allowTableTargets(fns.reencrypt.role, config.tableTargets, TABLE_ACCESS.sweep);
  allowTableTargets(fns.revoke.role, config.tableTargets, TABLE_ACCESS.revoke);
  allowTableTargets(fns['grace-period'].role, config.tableTargets, TABLE_ACCESS.count);
  sweep.stateMachine.grantStartExecution(fns.revoke.role);
  storage.grantEscrowArchive(fns.escrow.role);
  // The lifecycle's facts: a version is destroyed only once its escrow record exists (both
  // reconcile: grace-period on schedule, revoke to disable the revoked version).
  storage.grantEscrowRead(fns['grace-period'].role);
  storage.grantEscrowRead(fns.revoke.role);
  allowBreakerFacts(fns['grace-period'].role);
  const cache = config.cache;
  if (cache !== undefined) {
    for (const name of CACHE_FUNCTIONS) allowCache(fns[name].role, cache);
  }
  for (const arn of config.escrow.restoreRoleArns) storage.grantEscrowRestore(new iam.ArnPrincipal(arn));
}

/** DynamoDB actions on a table target's item ARN and on its two index ARNs. */
export interface TableAccess {
  readonly table: readonly string[];
  readonly indexes: readonly string[];
}

/**
 * What each function does to a table target (shared/adapters/aws/dynamodb-record-store.ts):
 * the sweep worker reads items (get, getHeader: GetItem), writes them conditionally (put,
 * putBatch: PutItem; header-only putHeaders: UpdateItem) and scans segments of the version index;
 * revoke's inline sweep does the same but lists by origin (Query, never Scan) and counts; the
 * lifecycle only counts (Query of the indexes). No path deletes, reads in batches or checks
 * conditions apart from a write, so DeleteItem, BatchGetItem and ConditionCheckItem are absent.
 */
export const TABLE_ACCESS = {
  sweep: { table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], indexes: ['dynamodb:Query', 'dynamodb:Scan'] },
  revoke: { table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], indexes: ['dynamodb:Query'] },
  count: { table: [], indexes: ['dynamodb:Query'] },
} as const satisfies Record<string, TableAccess>;

/**
 * ARNs of a table target in the stack's account and region: the table, and its two indexes.
 *
 * @example
 * tableTargetArns(stack, 'app-records').indexes; // ['arn:...:table/app-records/index/rekey-by-version', '...rekey-by-origin']
 */
export function tableTargetArns(scope: Construct, table: string): { table: string; indexes: string[] } {
  const stack = Stack.of(scope);
  const arn = (resourceName: string): string => Arn.format({ service: 'dynamodb', resource: 'table', resourceName }, stack);
  return { table: arn(table), indexes: [arn(`${table}/index/${VERSION_INDEX}`), arn(`${table}/index/${ORIGIN_INDEX}`)] };
}

/**
 * Grants `access` on every table target (one statement per kind of ARN, the tables' ARNs only).
 *
 * @example
 * allowTableTargets(role, config.tableTargets, TABLE_ACCESS.count);
 */
export function allowTableTargets(role: iam.IRole, targets: readonly ResolvedTableTarget[], access: TableAccess): void {
  if (targets.length === 0) return;
  const arns = [...new Set(targets.map((t) => t.table))].map((table) => tableTargetArns(role, table));
  if (access.table.length > 0) role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...access.table], resources: arns.map((a) => a.table) }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...access.indexes], resources: arns.flatMap((a) => a.indexes) }));
}
