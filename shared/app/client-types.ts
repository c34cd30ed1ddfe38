/**
 * The application client's contract: what an application team codes against, the same on AWS
 * (createRekeyClient) and on the embedded local backends (createLocalRekeyClient), so that the
 * application's own tests run the code it deploys.
 */
import type { Transform } from 'node:stream';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CallerContext, Decrypted, EncryptOptions, EnvelopeInfo, StreamEncryptOptions } from '../envelope/api';
import type { MetricsPublisher } from '../ports/metrics-publisher';

/**
 * Options of an application's decryption. There is no `purpose`: reading a revoked version is
 * reserved for rekey's own re-encryption worker, and an application client never asks for it.
 */
export interface AppDecryptOptions {
  /** The caller context the envelope was bound to at encryption. */
  readonly context?: CallerContext;
}

/**
 * Envelope encryption with rekey's keyrings. Decryptions are counted by keyring and version
 * (`DecryptAttempts`, `DecryptFailures`, namespace `Rekey`: what the circuit breaker watches
 * during a rotation) and published by {@link RekeyClient.flushMetrics}.
 *
 * @example
 * const rekey = await createRekeyClient({ env: process.env });
 * const envelope = await rekey.encrypt('pii', Buffer.from('4111 1111 1111 1111'), { context: { tenant: 'acme' } });
 * const { plaintext } = await rekey.decrypt(envelope, { context: { tenant: 'acme' } });
 */
export interface RekeyClient {
  /** Encrypts up to 64 MiB under the keyring's active version (a string is taken as UTF-8). */
  encrypt(keyring: string, plaintext: Buffer | string, options?: EncryptOptions): Promise<Buffer>;
  /**
   * Decrypts an envelope held in memory. Every parse or authentication failure is the same
   * DecryptError; a revoked version is a RevokedVersionError, a disabled or destroyed one a
   * VersionUnavailableError.
   */
  decrypt(envelope: Buffer, options?: AppDecryptOptions): Promise<Decrypted>;
  /**
   * Lazy re-encryption on read: when `envelope` is under an older version than its keyring's
   * active one, returns a copy re-wrapped under the active version (only the 44-byte key slot
   * changes; the payload is not decrypted), for the application to store in place of the old
   * one with a conditional write. Returns `undefined` when the envelope is already current.
   * Store the result only if nothing newer was written meanwhile (a revision check): a lost
   * race is harmless, the next read refreshes again. A revoked version is never re-wrapped
   * (RevokedVersionError): rekey's revocation re-encrypts such records itself.
   *
   * @example
   * const { plaintext } = await rekey.decrypt(stored.body, { context });
   * const fresh = await rekey.refresh(stored.body, { context });
   * if (fresh !== undefined) await bucket.put(key, fresh, { ifMatch: stored.etag });
   */
  refresh(envelope: Buffer, options?: AppDecryptOptions): Promise<Buffer | undefined>;
  /** A Transform that encrypts a stream of any length into a framed envelope. */
  encryptStream(keyring: string, options?: StreamEncryptOptions): Transform;
  /** A Transform that decrypts a framed (or one-shot) envelope stream. */
  decryptStream(options?: AppDecryptOptions): Transform;
  /** What the envelope's header says (keyring, version, ...), without any key. */
  inspect(envelope: Buffer): EnvelopeInfo;
  /** Publishes the decrypt counts gathered since the last flush (the middleware calls it after every invocation). */
  flushMetrics(): void;
  /** Flushes the metrics, drops cached keys and catalogs, and closes what the client opened. Idempotent. */
  close(): Promise<void>;
}

/** SDK clients to use instead of the ones the client would make (tests, custom endpoints). */
export interface RekeyClientAwsClients {
  readonly kms?: KMSClient;
  readonly s3?: S3Client;
  /** Only read with `stackName`. */
  readonly cloudFormation?: CloudFormationClient;
}

/** Bounds of the in-memory cache of unwrapped version keys. */
export interface KeyCacheOptions {
  /** How long an unwrapped key is used before KMS is asked again, in ms. @default 300000 (5 min) */
  readonly ttlMs?: number;
  /** How many messages one unwrapped key serves before KMS is asked again. @default 1048576 (2^20) */
  readonly maxUses?: number;
  /** Most keys held at once (least recently used first out). @default 1000 */
  readonly maxEntries?: number;
}

/**
 * Options of createRekeyClient: exactly one source of configuration (`env`, `outputs` or
 * `stackName`), the rest optional with safe defaults.
 */
export interface RekeyClientOptions {
  /**
   * Environment variables with the names rekey's own functions read (REKEY_CATALOG_BUCKET,
   * REKEY_KEYRING_KEYS, ...: shared/config/env-names.ts); usually `process.env` of a function
   * the rekey construct configured.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The rekey stack's CloudFormation outputs, output key → value (CatalogBucket, KeyringKeys, ...). */
  readonly outputs?: Readonly<Record<string, string>>;
  /** The deployed rekey stack to read the outputs of (cloudformation:DescribeStacks), at the first call. */
  readonly stackName?: string;
  /** Region of the rekey stack. @default AWS_REGION in `env`, else the SDK's own resolution */
  readonly region?: string;
  readonly clients?: RekeyClientAwsClients;
  /** Where decrypt counts go. @default Powertools Metrics (CloudWatch EMF on stdout), namespace `Rekey` */
  readonly metrics?: MetricsPublisher;
  /** Powertools service name of the default metrics publisher. @default 'rekey-client' */
  readonly serviceName?: string;
  /**
   * How long a catalog read is trusted, in ms. At most the stack's own lifetime: an emergency
   * revocation waits that long before it counts what is left, so a reader that trusted its
   * catalog longer could still encrypt under the revoked version after the revocation completed.
   * @default the stack's REKEY_CATALOG_TTL_MS, else 60000
   */
  readonly catalogTtlMs?: number;
  /** @default see {@link KeyCacheOptions} */
  readonly keyCache?: KeyCacheOptions;
}

/** Options of createLocalRekeyClient. */
export interface LocalRekeyClientOptions {
  /** The rekey home folder (created when missing, as `rekey keyring create` makes it). */
  readonly home: string;
  /** Keyrings to create (version 1 active, default policy) when the home lacks them. @default none */
  readonly keyrings?: readonly string[];
  /** Where decrypt counts go. @default dropped (a test has no metrics backend) */
  readonly metrics?: MetricsPublisher;
  /** Time source of every lifecycle decision. @default real time */
  readonly clock?: () => Date;
  /** How long a catalog read is trusted, in ms. @default $REKEY_CATALOG_TTL_MS, else 60000 */
  readonly catalogTtlMs?: number;
}
