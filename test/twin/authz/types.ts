/**
 * Types shared by the twin's authorizer (./authorize.ts), its proxy (../proxy.ts) and the
 * drivers that make calls on a service's behalf (CloudWatch publishing to SNS, EventBridge
 * invoking a target, Scheduler assuming its role).
 */

/** Who makes a request. */
export type TwinPrincipal =
  | { readonly kind: 'role'; readonly arn: string }
  | { readonly kind: 'service'; readonly service: string }
  | { readonly kind: 'anonymous' };

/** Condition-key values of one request (`aws:SecureTransport`, `kms:EncryptionContext:keyring`, ...). */
export type RequestContext = Readonly<Record<string, string | readonly string[] | boolean | number>>;

/** One authorization question: may `principal` do `action` on `resource` in `context`? */
export interface AuthzRequest {
  readonly principal: TwinPrincipal;
  /** IAM action, `service:Action` (`kms:Decrypt`, `s3:GetObject`). */
  readonly action: string;
  /** Resource ARN (`*` for actions without resource-level permissions). */
  readonly resource: string;
  readonly context?: RequestContext;
}

/** The answer, with the reason AWS would give (for logs and deny messages). */
export interface AuthzDecision {
  readonly allowed: boolean;
  /** `explicit deny in <policy>`, `no identity-based policy allows`, `grant constraint`, ... */
  readonly reason: string;
}

/** A live KMS grant (as ListGrants returns it). */
export interface KmsGrant {
  readonly grantId: string;
  readonly keyArn: string;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string;
  readonly operations: readonly string[];
  readonly constraints?: {
    readonly encryptionContextEquals?: Readonly<Record<string, string>>;
    readonly encryptionContextSubset?: Readonly<Record<string, string>>;
  };
}

/** Where the authorizer reads the grants that exist at this moment. */
export interface GrantSource {
  grantsFor(keyArn: string): Promise<readonly KmsGrant[]>;
  /** Drops cached grants after CreateGrant / RevokeGrant / RetireGrant. */
  invalidate(keyArn?: string): void;
}

/** What the proxy and the drivers call. */
export interface RequestAuthorizer {
  authorize(request: AuthzRequest): Promise<AuthzDecision>;
}
