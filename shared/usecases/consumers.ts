/**
 * The consumer registry's operator actions: add (or change the access of) a consumer, remove
 * one, list them. Each change is one compare-and-swap of the keyring's document, re-read and
 * re-decided when another operator won the race, and one audit event naming the role and its
 * access (identifiers only, nothing secret). Repeating an add or a remove changes nothing and
 * writes no event. The grants follow from the registry: key-access reconciles it on AWS.
 */
import { assertConsumerPrincipal, MAX_CONSUMERS_PER_KEYRING, type Consumer, type ConsumerAccess, type ConsumerDocument } from '../consumers/consumer-document';
import { ConflictError, LimitExceededError, UnknownKeyringError } from '../errors';
import type { AuditSink } from '../ports/audit-sink';
import type { CatalogStore } from '../ports/catalog-store';
import type { ConsumerRegistry } from '../ports/consumer-registry';
import { assertKeyringName } from '../vocabulary/keyring-name';

/** What the consumer use cases work with. */
export interface ConsumerServices {
  readonly registry: ConsumerRegistry;
  /** The catalogs, to refuse a keyring that does not exist. */
  readonly catalogs: Pick<CatalogStore, 'get' | 'list'>;
  readonly audit: AuditSink;
}

/** Input of {@link addConsumer}. */
export interface AddConsumerInput {
  readonly keyring: string;
  readonly principalArn: string;
  readonly access: ConsumerAccess;
  readonly actor: string;
  readonly now: Date;
  /** The accounts the stack's key policies admit; undefined: no bound known (local mode). */
  readonly accounts?: readonly string[];
}

/** Input of {@link removeConsumer}. */
export interface RemoveConsumerInput {
  readonly keyring: string;
  readonly principalArn: string;
  readonly actor: string;
  readonly now: Date;
}

/** What a change did. */
export interface ConsumerChange {
  readonly keyring: string;
  readonly principalArn: string;
  /** `added`, `updated` (access changed), `removed`, or `unchanged`. */
  readonly outcome: 'added' | 'updated' | 'removed' | 'unchanged';
  /** The consumer as registered afterwards (undefined after a removal or when it was never there). */
  readonly consumer?: Consumer;
  /** How many consumers the keyring has afterwards. */
  readonly count: number;
}

/** A lost race is re-read and re-decided this many times before the ConflictError goes to the caller. */
const MAX_ATTEMPTS = 8;

async function assertKeyring(keyring: string, catalogs: ConsumerServices['catalogs']): Promise<void> {
  assertKeyringName(keyring);
  if ((await catalogs.get(keyring)) === undefined) throw new UnknownKeyringError(keyring);
}

/** Read → decide → compare-and-swap, a lost race re-read and re-decided. */
async function change(
  keyring: string,
  services: ConsumerServices,
  decide: (current: readonly Consumer[]) => { next?: readonly Consumer[]; change: Omit<ConsumerChange, 'count' | 'keyring'> },
): Promise<ConsumerChange> {
  for (let attempt = 1; ; attempt += 1) {
    const stored = await services.registry.get(keyring);
    const current = stored?.document.consumers ?? [];
    const { next, change: what } = decide(current);
    if (next === undefined) return { keyring, ...what, count: current.length };
    const document: ConsumerDocument = { schema: 1, keyring, consumers: next };
    try {
      await services.registry.put(document, stored?.revision ?? null);
      return { keyring, ...what, count: next.length };
    } catch (err) {
      if (err instanceof ConflictError && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
  }
}

/**
 * Registers `principalArn` as a consumer of `keyring` with `access`: idempotent (the same
 * principal and access is no change), a different access replaces the old one.
 *
 * @throws ValidationError for a principal that is no IAM role ARN or lies outside `accounts`;
 *   UnknownKeyringError for a keyring without a catalog; LimitExceededError past
 *   {@link MAX_CONSUMERS_PER_KEYRING}; ConflictError after repeated lost races.
 * @example
 * await addConsumer({ keyring: 'pii', principalArn: 'arn:aws:iam::111122223333:role/orders', access: 'decrypt', actor: 'cli:alice', now: new Date() }, services);
 * // { keyring: 'pii', principalArn: '...', outcome: 'added', consumer: { ... }, count: 1 }
 */
export async function addConsumer(input: AddConsumerInput, services: ConsumerServices): Promise<ConsumerChange> {
  assertConsumerPrincipal(input.principalArn, input.accounts);
  await assertKeyring(input.keyring, services.catalogs);
  const entry: Consumer = { principalArn: input.principalArn, access: input.access, addedAt: input.now.toISOString(), addedBy: input.actor };
  let previous: ConsumerAccess | undefined;
  const result = await change(input.keyring, services, (current) => {
    const existing = current.find((c) => c.principalArn === input.principalArn);
    previous = existing?.access;
    if (existing !== undefined && existing.access === input.access) return { change: { principalArn: input.principalArn, outcome: 'unchanged', consumer: existing } };
    if (existing === undefined && current.length >= MAX_CONSUMERS_PER_KEYRING) {
      throw new LimitExceededError(`keyring '${input.keyring}' already has ${MAX_CONSUMERS_PER_KEYRING} consumers; remove one first`);
    }
    const next = existing === undefined ? [...current, entry] : current.map((c) => (c.principalArn === input.principalArn ? entry : c));
    return { next, change: { principalArn: input.principalArn, outcome: existing === undefined ? 'added' : 'updated', consumer: entry } };
  });
  if (result.outcome !== 'unchanged') {
    await services.audit.record({
      at: input.now.toISOString(),
      actor: input.actor,
      action: result.outcome === 'added' ? 'consumer.added' : 'consumer.access-changed',
      keyring: input.keyring,
      details: { principalArn: input.principalArn, access: input.access, ...(previous === undefined || result.outcome === 'added' ? {} : { previousAccess: previous }), consumers: result.count },
    });
  }
  return result;
}

/**
 * Removes `principalArn` from `keyring`'s consumers; idempotent (an absent one is no change).
 * Its grants go on key-access's next run.
 *
 * @throws UnknownKeyringError for a keyring without a catalog; ConflictError after repeated lost races.
 * @example
 * await removeConsumer({ keyring: 'pii', principalArn: 'arn:aws:iam::111122223333:role/orders', actor: 'cli:alice', now: new Date() }, services);
 */
export async function removeConsumer(input: RemoveConsumerInput, services: ConsumerServices): Promise<ConsumerChange> {
  await assertKeyring(input.keyring, services.catalogs);
  let removed: Consumer | undefined;
  const result = await change(input.keyring, services, (current) => {
    removed = current.find((c) => c.principalArn === input.principalArn);
    if (removed === undefined) return { change: { principalArn: input.principalArn, outcome: 'unchanged' } };
    return { next: current.filter((c) => c.principalArn !== input.principalArn), change: { principalArn: input.principalArn, outcome: 'removed' } };
  });
  if (result.outcome === 'removed' && removed !== undefined) {
    await services.audit.record({
      at: input.now.toISOString(),
      actor: input.actor,
      action: 'consumer.removed',
      keyring: input.keyring,
      details: { principalArn: input.principalArn, access: removed.access, consumers: result.count },
    });
  }
  return result;
}

/** One keyring's consumers, as listed. */
export interface KeyringConsumers {
  readonly keyring: string;
  readonly consumers: readonly Consumer[];
}

/**
 * The consumers of `keyring`, or of every keyring with a catalog (those without consumers listed empty).
 *
 * @throws UnknownKeyringError for a named keyring without a catalog.
 * @example
 * await listConsumers({ keyring: 'pii' }, services); // [{ keyring: 'pii', consumers: [...] }]
 */
export async function listConsumers(input: { readonly keyring?: string }, services: Pick<ConsumerServices, 'registry' | 'catalogs'>): Promise<KeyringConsumers[]> {
  let keyrings: string[];
  if (input.keyring !== undefined) {
    await assertKeyring(input.keyring, services.catalogs);
    keyrings = [input.keyring];
  } else {
    keyrings = await services.catalogs.list();
  }
  const out: KeyringConsumers[] = [];
  for (const keyring of keyrings) out.push({ keyring, consumers: (await services.registry.get(keyring))?.document.consumers ?? [] });
  return out;
}
