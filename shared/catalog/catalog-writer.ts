/**
 * The one way a keyring's catalog is written: read → decide → compare-and-swap → audit, with a
 * lost race re-read and re-decided (never overwritten blindly), every written catalog checked
 * against the invariants, and every audit event stamped with the generation it committed.
 */
import { ConflictError, IllegalTransitionError, UnknownKeyringError } from '../errors';
import type { AuditEvent, AuditSink } from '../ports/audit-sink';
import type { CatalogStore, StoredCatalog } from '../ports/catalog-store';
import { checkInvariants } from './invariants';
import type { Catalog } from './model';

/** An audit event before the writer stamps it; `actor` overrides the write's actor for this event. */
export type AuditDraft = Omit<AuditEvent, 'at' | 'keyring' | 'actor'> & { readonly actor?: string };

/** What a decision over the current catalog asks the writer to do. */
export interface Decision<T> {
  /** The catalog to write, or undefined when there is nothing to change. */
  readonly next?: Catalog;
  readonly events: readonly AuditDraft[];
  /** The caller's result, from the catalog as stored afterwards. */
  readonly result: (catalog: Catalog) => T;
}

/** Dependencies of a {@link CatalogWriter}. */
export interface CatalogWriterOptions {
  readonly store: CatalogStore;
  readonly audit: AuditSink;
  /** Attempts before a write that keeps losing the race gives up with ConflictError. */
  readonly maxAttempts: number;
}

/**
 * Writes catalogs with compare-and-swap and audits what each write did.
 *
 * @example
 * const writer = new CatalogWriter({ store, audit, maxAttempts: 8 });
 * await writer.write('payments', 'cli:alice', now, async (current) => ({ next: freezeOf(current), events: [{ action: 'keyring.frozen' }], result: (c) => c }));
 */
export class CatalogWriter {
  private readonly options: CatalogWriterOptions;

  public constructor(options: CatalogWriterOptions) {
    this.options = options;
  }

  /**
   * Reads `name`, lets `decide` plan over it and writes the plan with the read's etag; a lost
   * race re-reads and re-decides. A decision may generate keys: a key whose write loses is
   * simply never stored.
   *
   * @throws UnknownKeyringError when the keyring does not exist; ConflictError after
   *   `maxAttempts` lost races; IllegalTransitionError for a catalog breaking an invariant.
   */
  public async write<T>(name: string, actor: string, now: Date, decide: (current: Catalog) => Promise<Decision<T>>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const stored: StoredCatalog | undefined = await this.options.store.get(name);
      if (stored === undefined) {
        throw new UnknownKeyringError(name);
      }
      const decision = await decide(stored.catalog);
      if (decision.next === undefined) {
        return decision.result(stored.catalog);
      }
      const written: Catalog = { ...decision.next, generation: stored.catalog.generation + 1 };
      assertSound(written);
      try {
        await this.options.store.put(written, stored.etag);
      } catch (err) {
        if (err instanceof ConflictError && attempt < this.options.maxAttempts) {
          continue;
        }
        throw err;
      }
      // Audit lines of two processes can land out of commit order; the generation orders them.
      await this.record(
        name,
        actor,
        now,
        decision.events.map((e) => ({ ...e, details: { ...e.details, generation: written.generation } })),
      );
      return decision.result(written);
    }
  }

  /** Records `drafts` as `actor` (unless a draft names its own) at `now`. */
  public async record(keyring: string, actor: string, now: Date, drafts: readonly AuditDraft[]): Promise<void> {
    for (const { actor: own, ...draft } of drafts) {
      await this.options.audit.record({ ...draft, at: now.toISOString(), actor: own ?? actor, keyring });
    }
  }
}

/**
 * Refuses a catalog that breaks an invariant before it is stored.
 *
 * @throws IllegalTransitionError naming every problem.
 */
export function assertSound(catalog: Catalog): void {
  const problems = checkInvariants(catalog);
  if (problems.length > 0) {
    throw new IllegalTransitionError(`refusing to write catalog '${catalog.keyring}': ${problems.join('; ')}`);
  }
}
