/**
 * ConsumerRegistry: one document per keyring naming the roles that read it through grants,
 * written only with compare-and-swap (like the CatalogStore), so two operators registering at
 * once can never both win and silently drop the other's consumer.
 */
import type { ConsumerDocument } from '../consumers/consumer-document';

/** A registry document as read, with the opaque revision a compare-and-swap must present. */
export interface StoredConsumers {
  readonly document: ConsumerDocument;
  /** Opaque revision tag (S3 ETag, SQLite generation hash). */
  readonly revision: string;
}

/** Port to the consumer registry. */
export interface ConsumerRegistry {
  /** Reads a keyring's document, or undefined when the keyring has none. */
  get(keyring: string): Promise<StoredConsumers | undefined>;
  /**
   * Writes `document` if the stored revision still equals `expectedRevision`, or, with `null`,
   * only if the keyring has no document yet. Throws ConflictError (retryable) when another
   * writer won. Returns the new revision.
   */
  put(document: ConsumerDocument, expectedRevision: string | null): Promise<string>;
  /** Keyrings that have a registry document, sorted. */
  list(): Promise<string[]>;
}
