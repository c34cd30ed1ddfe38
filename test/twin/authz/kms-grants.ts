/**
 * KMS grants for the twin's authorizer: where live grants come from (moto's ListGrants) and
 * whether one of them allows a request.
 *
 * moto 5.2.1 stores each grant's `Constraints` verbatim from CreateGrant and returns them from
 * ListGrants (moto/kms/models.py `Grant.to_json`, responses.py `list_grants`), so constraints are
 * read back from moto itself; it evaluates none of them, which is why the twin does.
 *
 * Semantics (AWS KMS API Reference, "GrantConstraints"; CreateGrant "Constraints"):
 *  - EncryptionContextEquals: the request's encryption context must be the same as the constraint.
 *  - EncryptionContextSubset: the request's encryption context must include every constraint pair.
 *  - In a grant constraint the key of each pair is not case sensitive, the value is.
 *  - Constraints do not apply to operations without an encryption context (DescribeKey, RetireGrant).
 */
import { KMSClient, ListGrantsCommand, type GrantListEntry } from '@aws-sdk/client-kms';
import type { GrantSource, KmsGrant, RequestContext } from './types';

/** Grant operations that take no encryption context, so a grant constraint does not restrict them. */
const UNCONSTRAINED_OPERATIONS = new Set(['DescribeKey', 'RetireGrant', 'GetPublicKey']);

const CONTEXT_PREFIX = 'kms:encryptioncontext:';

/** The encryption context of a request, rebuilt from its `kms:EncryptionContext:<key>` condition keys. */
export function encryptionContextOf(context: RequestContext | undefined): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const [key, value] of Object.entries(context ?? {})) {
    if (key.toLowerCase().startsWith(CONTEXT_PREFIX) && key.length > CONTEXT_PREFIX.length) {
      pairs[key.slice(CONTEXT_PREFIX.length)] = String(Array.isArray(value) ? value[0] : value);
    }
  }
  return pairs;
}

/** Lower-cases keys (constraint keys are case-insensitive), keeps values. */
function foldKeys(pairs: Readonly<Record<string, string>>): Map<string, string> {
  return new Map(Object.entries(pairs).map(([k, v]) => [k.toLowerCase(), v]));
}

function containsAll(request: Map<string, string>, required: Map<string, string>): boolean {
  for (const [k, v] of required) if (request.get(k) !== v) return false;
  return true;
}

/** Why a grant does or does not allow `operation` for `grantee` with `encryptionContext`. */
export type GrantVerdict = 'allows' | 'not-grantee' | 'operation-not-granted' | 'constraint-mismatch';

/**
 * Judges one grant for one request. `operation` is the KMS API name (`Decrypt`), as grants list it.
 *
 * @example grantVerdict(grant, 'arn:aws:iam::123456789012:role/r', 'Decrypt', { keyring: 'pii', version: '3' })
 */
export function grantVerdict(grant: KmsGrant, grantee: string, operation: string, encryptionContext: Readonly<Record<string, string>>): GrantVerdict {
  if (grant.granteePrincipal !== grantee) return 'not-grantee';
  if (!grant.operations.includes(operation)) return 'operation-not-granted';
  if (UNCONSTRAINED_OPERATIONS.has(operation)) return 'allows';
  const request = foldKeys(encryptionContext);
  const equals = grant.constraints?.encryptionContextEquals;
  if (equals !== undefined) {
    const required = foldKeys(equals);
    if (required.size !== request.size || !containsAll(request, required)) return 'constraint-mismatch';
  }
  const subset = grant.constraints?.encryptionContextSubset;
  if (subset !== undefined && !containsAll(request, foldKeys(subset))) return 'constraint-mismatch';
  return 'allows';
}

/** Converts one ListGrants entry (SDK shape, `GrantListEntry`) to the twin's grant. */
function fromListEntry(keyArn: string, entry: GrantListEntry): KmsGrant {
  const equals = entry.Constraints?.EncryptionContextEquals ?? undefined;
  const subset = entry.Constraints?.EncryptionContextSubset ?? undefined;
  return {
    grantId: entry.GrantId ?? '',
    keyArn,
    granteePrincipal: entry.GranteePrincipal ?? '',
    ...(entry.RetiringPrincipal ? { retiringPrincipal: entry.RetiringPrincipal } : {}),
    operations: [...(entry.Operations ?? [])],
    ...(equals !== undefined || subset !== undefined
      ? { constraints: { ...(equals !== undefined ? { encryptionContextEquals: equals } : {}), ...(subset !== undefined ? { encryptionContextSubset: subset } : {}) } }
      : {}),
  };
}

/** Options of {@link MotoGrantSource}. */
export interface MotoGrantSourceOptions {
  /** The private moto_server's URL (`http://127.0.0.1:PORT`). */
  readonly endpoint: string;
  readonly region?: string;
}

/**
 * Reads live grants from the twin's private moto with its own KMS client (credentials
 * testing/testing, straight to moto, never through the authorizing proxy), cached per key until
 * {@link MotoGrantSource.invalidate} (the proxy calls it after CreateGrant, RevokeGrant, RetireGrant).
 */
export class MotoGrantSource implements GrantSource {
  private readonly kms: KMSClient;
  private readonly cache = new Map<string, Promise<readonly KmsGrant[]>>();

  public constructor(options: MotoGrantSourceOptions) {
    this.kms = new KMSClient({
      endpoint: options.endpoint,
      region: options.region ?? 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  }

  /** The grants on `keyArn` now (from the cache while nothing invalidated it). */
  public grantsFor(keyArn: string): Promise<readonly KmsGrant[]> {
    const cached = this.cache.get(keyArn);
    if (cached !== undefined) return cached;
    const loading = this.load(keyArn);
    this.cache.set(keyArn, loading);
    // A failed read must not stick: the next request retries.
    loading.catch(() => this.cache.get(keyArn) === loading && this.cache.delete(keyArn));
    return loading;
  }

  /** Drops the cache of one key, or of every key. */
  public invalidate(keyArn?: string): void {
    if (keyArn === undefined) this.cache.clear();
    else this.cache.delete(keyArn);
  }

  /** Closes the KMS client. */
  public close(): void {
    this.kms.destroy();
  }

  private async load(keyArn: string): Promise<readonly KmsGrant[]> {
    const grants: KmsGrant[] = [];
    let marker: string | undefined;
    do {
      const page = await this.kms
        .send(new ListGrantsCommand({ KeyId: keyArn, ...(marker !== undefined ? { Marker: marker } : {}) }))
        .catch((err: unknown) => {
          // A key that does not exist has no grants (moto then answers the request itself). Note:
          // moto 5.2.1 answers ListGrants for an unknown key with an HTML 500, not NotFoundException;
          // that error propagates, since every key of the twin's world exists in its moto.
          if (err instanceof Error && err.name === 'NotFoundException') return { Grants: [], Truncated: false, NextMarker: undefined };
          throw err;
        });
      for (const entry of page.Grants ?? []) grants.push(fromListEntry(keyArn, entry));
      marker = page.Truncated === true ? page.NextMarker : undefined;
    } while (marker !== undefined);
    return grants;
  }
}
