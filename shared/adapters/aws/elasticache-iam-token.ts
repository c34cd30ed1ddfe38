/**
 * IAM authentication tokens for ElastiCache (Valkey / Redis OSS 7+): a SigV4-presigned
 * `GET http://<cache-name>/?Action=connect&User=<user-id>` (plus `ResourceType=ServerlessCache`
 * for serverless caches), valid 15 minutes, sent as the password of AUTH / HELLO. The provider
 * caches the token and signs a new one before the old one gets close to expiry.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import { ValidationError } from '../../errors';

/** How long a token is valid, in seconds (the ElastiCache maximum). */
export const IAM_TOKEN_TTL_SECONDS = 900;

/** Options of {@link ElastiCacheIamTokenProvider}. */
export interface ElastiCacheIamTokenOptions {
  /** Replication group id or serverless cache name (the token's host). */
  readonly cacheName: string;
  /** The IAM-enabled ElastiCache user id (equal to its user name). */
  readonly userId: string;
  readonly region: string;
  /** Fixed credentials or a provider (e.g. `fromNodeProviderChain()`). */
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /**
   * Sign for a serverless cache.
   * @default false
   */
  readonly serverless?: boolean;
  /**
   * A cached token is replaced once it is this old, in seconds.
   * @default 600
   */
  readonly refreshAfterSeconds?: number;
  /**
   * Clock (injectable for tests).
   * @default () => new Date()
   */
  readonly clock?: () => Date;
}

/** SHA-256 / HMAC-SHA-256 on node:crypto, in the shape SignatureV4 expects. */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  public constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  public update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  public async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  public reset(): void {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key = typeof this.secret === 'string' ? this.secret : Buffer.from(this.secret as Uint8Array);
    return createHmac('sha256', key);
  }
}

// RFC 3986 unreserved characters stay, everything else is percent-encoded (as SigV4 does).
function escape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Signs and caches ElastiCache IAM auth tokens.
 *
 * @example
 * const tokens = new ElastiCacheIamTokenProvider({ cacheName: 'rekey-cache', userId: 'rekey-app', region: 'eu-west-1', credentials: fromNodeProviderChain() });
 * const redis = await createRedisClient({ endpoint, iam: { user: 'rekey-app', tokens } });
 */
export class ElastiCacheIamTokenProvider {
  private readonly signer: SignatureV4;
  private readonly host: string;
  private readonly refreshAfterMs: number;
  private readonly clock: () => Date;
  private cached: { token: string; signedAt: number } | undefined;
  private pending: Promise<string> | undefined;

  public constructor(private readonly options: ElastiCacheIamTokenOptions) {
    if (typeof options.cacheName !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,39}$/.test(options.cacheName)) {
      throw new ValidationError('cacheName must be 1-40 letters, digits or hyphens, starting with a letter');
    }
    if (typeof options.userId !== 'string' || options.userId.length === 0) throw new ValidationError('userId must be a non-empty string');
    if (typeof options.region !== 'string' || options.region.length === 0) throw new ValidationError('region must be a non-empty string');
    const refreshAfter = options.refreshAfterSeconds ?? 600;
    if (!Number.isInteger(refreshAfter) || refreshAfter < 1 || refreshAfter >= IAM_TOKEN_TTL_SECONDS) {
      throw new ValidationError(`refreshAfterSeconds must be an integer between 1 and ${IAM_TOKEN_TTL_SECONDS - 1}`);
    }
    this.refreshAfterMs = refreshAfter * 1000;
    this.clock = options.clock ?? (() => new Date());
    // ElastiCache stores cache names in lower case and signs against that host.
    this.host = options.cacheName.toLowerCase();
    this.signer = new SignatureV4({ service: 'elasticache', region: options.region, credentials: options.credentials, sha256: NodeSha256 });
  }

  /** How long a cached token is reused before a new one is signed, in ms. */
  public get refreshIntervalMs(): number {
    return this.refreshAfterMs;
  }

  /** A valid token: the cached one while it is young enough, else a freshly signed one (concurrent callers share it). */
  public async getToken(): Promise<string> {
    const now = this.clock().getTime();
    if (this.cached !== undefined && now - this.cached.signedAt < this.refreshAfterMs) return this.cached.token;
    this.pending ??= this.sign(now).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Signs a new token at the clock's current time, bypassing the cache. */
  public async signToken(): Promise<string> {
    return this.sign(this.clock().getTime());
  }

  private async sign(at: number): Promise<string> {
    const query: Record<string, string> = { Action: 'connect', User: this.options.userId };
    if (this.options.serverless === true) query.ResourceType = 'ServerlessCache';
    const signed = await this.signer.presign(
      { method: 'GET', protocol: 'http:', hostname: this.host, path: '/', query, headers: { host: this.host } },
      { expiresIn: IAM_TOKEN_TTL_SECONDS, signingDate: new Date(at) },
    );
    const signedQuery = signed.query ?? {};
    const qs = Object.keys(signedQuery)
      .sort()
      .map((k) => {
        const v = signedQuery[k];
        return `${escape(k)}=${escape(Array.isArray(v) ? v.join(',') : (v ?? ''))}`;
      })
      .join('&');
    // The token is the presigned URL without its scheme.
    const token = `${this.host}/?${qs}`;
    this.cached = { token, signedAt: at };
    return token;
  }
}
