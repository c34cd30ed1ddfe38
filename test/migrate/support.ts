/**
 * Fixtures of the migration tests: AWS Encryption SDK messages made by the real
 * @aws-crypto/client-node (raw AES keyring), a local rekey stack with an active keyring, and a
 * fault-injecting wrapper of a MigrationStore.
 */
import { randomBytes } from 'node:crypto';
import { AlgorithmSuiteIdentifier, buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-node';
import type { MigratedWrite, MigrationStore, RawRecord, RawRecordPage } from '../../shared/migrate';
import { LocalStack } from '../unit/reencrypt/support/local-stack';

/** A raw AES wrapping key and its name, as an application would have configured the ESDK. */
export interface EsdkKey {
  readonly key: Buffer;
  readonly keyName: string;
  readonly keyNamespace: string;
}

/** A fresh 256-bit raw AES wrapping key. */
export function esdkKey(): EsdkKey {
  return { key: randomBytes(32), keyName: 'orders-key', keyNamespace: 'orders-app' };
}

function keyringOf(k: EsdkKey): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyName: k.keyName,
    keyNamespace: k.keyNamespace,
    unencryptedMasterKey: new Uint8Array(k.key),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
}

/** Which message format and suite to write. */
export type EsdkFlavour = 'v2-signed' | 'v2-unsigned' | 'v1-legacy';

/** An ESDK message of `plaintext`, made by the SDK itself. */
export async function esdkMessage(k: EsdkKey, plaintext: Buffer, options: { flavour?: EsdkFlavour; context?: Record<string, string> } = {}): Promise<Buffer> {
  const flavour = options.flavour ?? 'v2-signed';
  const client = buildClient(flavour === 'v1-legacy' ? CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT : CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const suiteId = flavour === 'v1-legacy'
    ? AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA256
    : flavour === 'v2-unsigned'
      ? AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY
      : AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
  const out = await client.encrypt(keyringOf(k), plaintext, { suiteId, ...(options.context === undefined ? {} : { encryptionContext: options.context }) });
  return Buffer.from(out.result);
}

/** A local rekey stack with keyring `name` active; close it after the test. */
export async function stackWith(name: string): Promise<LocalStack> {
  const stack = new LocalStack();
  await stack.createKeyring(name);
  return stack;
}

/** Hooks of {@link FaultyStore}. */
export interface Faults {
  /** Throws a plain Error (a crash: not a RekeyError) instead of the write after this many successful writes. */
  crashAfterWrites?: number;
  /** Runs after a record is read and before the migration writes it (a concurrent writer). */
  afterRead?: (record: RawRecord) => Promise<void>;
}

/** A MigrationStore that forwards to another one, with injected faults and counters. */
export class FaultyStore implements MigrationStore {
  public writes = 0;
  public readonly label: string;

  public constructor(private readonly inner: MigrationStore, public faults: Faults = {}) {
    this.label = inner.label;
  }

  public list(options: { cursor?: string; limit: number }): Promise<RawRecordPage> {
    return this.inner.list(options);
  }

  public async read(id: string): Promise<RawRecord | undefined> {
    const r = await this.inner.read(id);
    if (r !== undefined && this.faults.afterRead !== undefined) await this.faults.afterRead({ ...r, bytes: Buffer.from(r.bytes) });
    return r;
  }

  public async replace(read: RawRecord, write: MigratedWrite): Promise<string> {
    if (this.faults.crashAfterWrites !== undefined && this.writes >= this.faults.crashAfterWrites) throw new Error('injected crash');
    const revision = await this.inner.replace(read, write);
    this.writes += 1;
    return revision;
  }
}
