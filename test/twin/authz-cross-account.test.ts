/**
 * The twin's authorizer for callers in other accounts (consumer accounts of issue 13), against the
 * hand-filled world of ./authz/test-world.ts (the stack's account) plus roles in two other
 * accounts, and a private moto_server for real KMS grants.
 *
 * Expected decisions follow the AWS pages cited in ./authz/authorize.ts:
 *  - IAM "Cross-account policy evaluation logic": the identity policy in the caller's account AND
 *    the resource policy in the resource's account must both allow; an explicit deny anywhere wins.
 *  - KMS "Allowing users in other accounts to use a KMS key": key policy AND IAM policy, only for
 *    the listed cross-account operations; "or use grants to manage access to the KMS key": a grant
 *    to a role of another account allows without any identity policy.
 *  - S3 "Using server-side encryption with AWS KMS keys": a download of an SSE-KMS object needs
 *    kms:Decrypt of the caller too (S3 calls KMS on the caller's behalf, kms:ViaService).
 */
import { CreateGrantCommand, CreateKeyCommand, KMSClient, RevokeGrantCommand } from '@aws-sdk/client-kms';
import { Authorizer } from './authz/authorize';
import { MotoGrantSource } from './authz/kms-grants';
import { ARNS, buildWorld, keyringKeyPolicy } from './authz/test-world';
import type { AuthzRequest, RequestContext, TwinPrincipal } from './authz/types';
import { startPrivateMoto, type PrivateMoto } from './moto';
import { mapRequest } from './request-map';
import { callerIdentityOf } from './request-map/sts-identity';
import { externalRole, TWIN_ACCOUNT as A, type PolicyDocument, type TwinRole } from './world';

const OTHER = '444455556666';
const THIRD = '777788889999';
const V = '2012-10-17';

const role = (r: TwinRole): TwinPrincipal => ({ kind: 'role', arn: r.arn });
const ctx = (pairs: Record<string, string>): RequestContext => ({
  ...Object.fromEntries(Object.entries(pairs).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
  'kms:EncryptionContextKeys': Object.keys(pairs),
});
const allow = (action: string | string[], resource: string | string[]): PolicyDocument => ({ Version: V, Statement: [{ Effect: 'Allow', Action: action, Resource: resource }] });

let moto: PrivateMoto;
let kms: KMSClient;
let grants: MotoGrantSource;
let keyringKey: string;
let opsKey: string;
let authz: Authorizer;
let world: ReturnType<typeof buildWorld>;
/** A consumer application's role in OTHER, and one in THIRD; policies set per test. */
let orders: TwinRole;
let billing: TwinRole;
let stranger: TwinRole;
const decide = (r: AuthzRequest) => authz.authorize(r);
const catalogObject = `${ARNS.catalogBucket}/catalog/pii/3.json`;

beforeAll(async () => {
  moto = await startPrivateMoto();
  kms = new KMSClient({ endpoint: moto.url, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  keyringKey = (await kms.send(new CreateKeyCommand({ Description: 'keyring pii' }))).KeyMetadata!.Arn!;
  opsKey = (await kms.send(new CreateKeyCommand({ Description: 'ops' }))).KeyMetadata!.Arn!;
  grants = new MotoGrantSource({ endpoint: moto.url });
  world = buildWorld({ keyring: keyringKey, ops: opsKey });
  orders = externalRole(world, 'orders', [], OTHER);
  billing = externalRole(world, 'billing', [], OTHER);
  stranger = externalRole(world, 'orders', [], THIRD);
  for (const r of [orders, billing, stranger]) world.roles.set(r.arn, r);
  authz = new Authorizer(world, grants);
});

afterAll(async () => {
  grants?.close();
  kms?.destroy();
  await moto?.stop();
});

/** Runs `body` with the catalog bucket's policy extended by `statements`, then restores it. */
async function withBucketStatements(statements: Record<string, unknown>[], body: () => Promise<void>): Promise<void> {
  const bucket = world.buckets.get('rekey-catalog')!;
  const saved = bucket.policy!;
  bucket.policy = { ...saved, Statement: [...saved.Statement, ...statements] };
  try {
    await body();
  } finally {
    bucket.policy = saved;
  }
}

/** Runs `body` with the roles' identity policies set, then clears them. */
async function withPolicies(entries: [TwinRole, PolicyDocument[]][], body: () => Promise<void>): Promise<void> {
  for (const [r, p] of entries) r.policies = p;
  try {
    await body();
  } finally {
    for (const [r] of entries) r.policies = [];
  }
}

describe('roles and identities in other accounts', () => {
  it('builds a role in the given account, with its own access key, and answers GetCallerIdentity with that account', () => {
    expect(orders.arn).toBe(`arn:aws:iam::${OTHER}:role/orders`);
    expect(stranger.arn).toBe(`arn:aws:iam::${THIRD}:role/orders`);
    expect(new Set([orders.accessKeyId, stranger.accessKeyId, billing.accessKeyId]).size).toBe(3);
    expect(world.roleByAccessKey(stranger.accessKeyId)).toBe(stranger);
    expect(callerIdentityOf(orders)).toMatchObject({ arn: `arn:aws:sts::${OTHER}:assumed-role/orders/twin`, account: OTHER });
    // The stack's own roles keep the key they always had (same digest input).
    expect(externalRole(world, 'application', []).accessKeyId).toBe(externalRole(world, 'application', [], A).accessKeyId);
    expect(() => externalRole(world, 'x', [], '12345')).toThrow(RangeError);
  });
});

describe('S3 across accounts: identity policy AND bucket policy', () => {
  const read = (r: TwinRole, context: RequestContext = {}) => decide({ principal: role(r), action: 's3:GetObject', resource: catalogObject, context });
  const consumerRead = { Sid: 'ConsumerAccountsReadCatalog', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 's3:GetObject', Resource: `${ARNS.catalogBucket}/catalog/*` };

  it('denies a caller whose identity policy allows when the bucket policy does not name its account, and says which side is missing', async () => {
    await withPolicies([[orders, [allow('s3:GetObject', `${ARNS.catalogBucket}/catalog/*`)]]], async () => {
      expect(await read(orders)).toEqual({
        allowed: false,
        reason: `User: ${orders.arn} is not authorized to perform: s3:GetObject on resource: ${catalogObject} because no resource-based policy allows the s3:GetObject action`,
      });
    });
  });

  it('denies a caller the bucket policy allows when its own identity policy does not', async () => {
    await withBucketStatements([consumerRead], async () => {
      expect(await read(orders)).toEqual({
        allowed: false,
        reason: `User: ${orders.arn} is not authorized to perform: s3:GetObject on resource: ${catalogObject} because no identity-based policy allows the s3:GetObject action`,
      });
    });
  });

  it('allows only with both, and only the accounts (or roles) the bucket policy names', async () => {
    await withPolicies(
      [
        [orders, [allow('s3:GetObject', `${ARNS.catalogBucket}/catalog/*`)]],
        [billing, [allow('s3:GetObject', `${ARNS.catalogBucket}/catalog/*`)]],
        [stranger, [allow('s3:*', '*')]],
      ],
      async () => {
        await withBucketStatements([consumerRead], async () => {
          expect(await read(orders)).toEqual({ allowed: true, reason: 'allowed by identity-based policy and bucket policy (account principal)' });
          expect((await read(billing)).allowed).toBe(true);
          // Same role name, another account: the bucket policy does not name it.
          expect((await read(stranger)).reason).toContain('because no resource-based policy allows the s3:GetObject action');
          // Outside the prefix the bucket policy grants: denied even though the identity policy is broad.
          const other = await decide({ principal: role(stranger), action: 's3:GetObject', resource: `${ARNS.catalogBucket}/consumers/pii.json` });
          expect(other.allowed).toBe(false);
        });
        const oneRole = { ...consumerRead, Principal: { AWS: orders.arn } };
        await withBucketStatements([oneRole], async () => {
          expect((await read(orders)).allowed).toBe(true);
          expect((await read(billing)).reason).toContain('because no resource-based policy allows');
        });
      },
    );
  });

  it('keeps explicit denies of the bucket policy (TLS only) in force across accounts', async () => {
    await withPolicies([[orders, [allow('s3:GetObject', '*')]]], async () => {
      await withBucketStatements([consumerRead], async () => {
        const insecure = await read(orders, { 'aws:SecureTransport': false });
        expect(insecure).toEqual({
          allowed: false,
          reason: `User: ${orders.arn} is not authorized to perform: s3:GetObject on resource: ${catalogObject} with an explicit deny in a resource-based policy (bucket policy)`,
        });
      });
    });
  });

  it('leaves same-account evaluation as it was: an identity policy alone suffices', async () => {
    // rotate's role reads the catalog by its identity policy only (the bucket policy names no one).
    expect(await decide({ principal: { kind: 'role', arn: ARNS.rotateRole }, action: 's3:GetObject', resource: catalogObject })).toEqual({ allowed: true, reason: 'allowed by identity-based policy' });
  });
});

describe('KMS across accounts: key policy AND identity policy, for the cross-account operations only', () => {
  const versioned = ctx({ keyring: 'pii', version: '3' });
  const decrypt = (r: TwinRole, context: RequestContext = versioned) => decide({ principal: role(r), action: 'kms:Decrypt', resource: keyringKey, context });

  /** Runs `body` with the keyring key's policy extended by `statements`. */
  async function withKeyStatements(statements: Record<string, unknown>[], body: () => Promise<void>): Promise<void> {
    const key = world.key(keyringKey)!;
    const saved = key.policy;
    key.policy = { ...saved, Statement: [...saved.Statement, ...statements] };
    try {
      await body();
    } finally {
      key.policy = saved;
    }
  }
  const otherAccountUse = { Sid: 'ConsumerAccountUse', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ScheduleKeyDeletion'], Resource: '*' };

  it('denies with the key policy alone, and with the identity policy alone', async () => {
    await withKeyStatements([otherAccountUse], async () => {
      const keyOnly = await decrypt(orders);
      expect(keyOnly.reason).toBe(`User: ${orders.arn} is not authorized to perform: kms:Decrypt on resource: ${keyringKey} because no identity-based policy allows the kms:Decrypt action`);
    });
    await withPolicies([[orders, [allow('kms:*', '*')]]], async () => {
      const identityOnly = await decrypt(orders);
      expect(identityOnly.reason).toBe(`User: ${orders.arn} is not authorized to perform: kms:Decrypt on resource: ${keyringKey} because no resource-based policy allows the kms:Decrypt action`);
    });
  });

  it('allows with both; but never an operation KMS does not allow across accounts (GetKeyPolicy, ScheduleKeyDeletion)', async () => {
    await withPolicies([[orders, [allow('kms:*', '*')]]], async () => {
      await withKeyStatements([otherAccountUse], async () => {
        expect(await decrypt(orders)).toEqual({ allowed: true, reason: 'allowed by identity-based policy and key policy (account principal)' });
        expect((await decide({ principal: role(orders), action: 'kms:DescribeKey', resource: keyringKey })).allowed).toBe(true);
        for (const action of ['kms:GetKeyPolicy', 'kms:ScheduleKeyDeletion']) {
          expect(await decide({ principal: role(orders), action, resource: keyringKey })).toEqual({
            allowed: false,
            reason: `User: ${orders.arn} is not authorized to perform: ${action} on resource: ${keyringKey} because ${action} is not a cross-account operation of AWS KMS`,
          });
        }
      });
    });
  });

  it("evaluates kms:CallerAccount as the caller's account, whatever the request claims", async () => {
    const anyoneOfOther = { Sid: 'CallerAccountOther', Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': OTHER } } };
    await withPolicies([[orders, [allow('kms:Decrypt', keyringKey)]], [stranger, [allow('kms:Decrypt', keyringKey)]]], async () => {
      await withKeyStatements([anyoneOfOther], async () => {
        expect((await decrypt(orders)).allowed).toBe(true);
        expect((await decrypt(stranger, { ...versioned, 'kms:CallerAccount': OTHER })).allowed).toBe(false);
      });
    });
  });
});

describe('KMS grants to a principal of another account', () => {
  const decrypt = (r: TwinRole, context: RequestContext) => decide({ principal: role(r), action: 'kms:Decrypt', resource: keyringKey, context });

  it('lets the grantee use the grant with no identity policy, within its constraint, until revoked; nobody else', async () => {
    const v3 = ctx({ keyring: 'pii', version: '3' });
    expect((await decrypt(orders, v3)).allowed).toBe(false);
    const { GrantId } = await kms.send(new CreateGrantCommand({ KeyId: keyringKey, GranteePrincipal: orders.arn, Operations: ['Decrypt'], Constraints: { EncryptionContextEquals: { keyring: 'pii', version: '3' } } }));
    grants.invalidate(keyringKey);
    try {
      expect(orders.policies).toEqual([]);
      expect(await decrypt(orders, v3)).toEqual({ allowed: true, reason: `allowed by KMS grant ${GrantId}` });
      const v2 = await decrypt(orders, ctx({ keyring: 'pii', version: '2' }));
      expect(v2.allowed).toBe(false);
      expect(v2.reason).toContain('grant constraint does not match the encryption context');
      expect((await decide({ principal: role(orders), action: 'kms:GenerateDataKey', resource: keyringKey, context: v3 })).allowed).toBe(false);
      // Same role name in a third account, and another role of the grantee's account: not the grantee.
      expect((await decrypt(stranger, v3)).allowed).toBe(false);
      expect((await decrypt(billing, v3)).allowed).toBe(false);
      // An explicit deny in the grantee's own identity policy still wins over the grant.
      await withPolicies([[orders, [{ Version: V, Statement: [{ Effect: 'Deny', Action: 'kms:*', Resource: '*' }] }]]], async () => {
        expect((await decrypt(orders, v3)).reason).toContain('with an explicit deny in an identity-based policy');
      });
    } finally {
      await kms.send(new RevokeGrantCommand({ KeyId: keyringKey, GrantId }));
      grants.invalidate(keyringKey);
    }
    expect((await decrypt(orders, v3)).allowed).toBe(false);
  });

  it('evaluates the key policy bound on CreateGrant for a grantee of another account (kms:GranteePrincipal)', async () => {
    // key-access may grant only to the principals the key policy lists (contract: role/* of each consumer account).
    const key = world.key(keyringKey)!;
    const saved = key.policy;
    const policy = keyringKeyPolicy('pii');
    const statements = policy.Statement.map((s) =>
      s['Sid'] === 'CreateVersionGrants'
        ? { ...s, Condition: { ...(s['Condition'] as Record<string, unknown>), StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextEquals', 'kms:EncryptionContext:keyring': 'pii' }, StringLike: { 'kms:GranteePrincipal': [ARNS.escrowRole, `arn:aws:iam::${OTHER}:role/*`] } } }
        : s,
    );
    key.policy = { ...policy, Statement: statements };
    const createGrant = (grantee: string) =>
      decide({
        principal: { kind: 'role', arn: ARNS.keyaccessRole },
        action: 'kms:CreateGrant',
        resource: keyringKey,
        context: { ...ctx({ keyring: 'pii', version: '3' }), 'kms:GrantOperations': ['Decrypt'], 'kms:GranteePrincipal': grantee, 'kms:GrantConstraintType': 'EncryptionContextEquals', 'kms:GrantIsForAWSResource': false },
      });
    try {
      expect((await createGrant(orders.arn)).allowed).toBe(true);
      expect((await createGrant(stranger.arn)).allowed).toBe(false);
    } finally {
      key.policy = saved;
    }
  });
});

describe('S3 reading an SSE-KMS object across accounts needs the KMS permission of the caller', () => {
  it('maps GetObject to s3:GetObject and kms:Decrypt via S3 with the caller account; a grant on the bucket ARN context completes it', async () => {
    const bucket = world.buckets.get('rekey-catalog')!;
    bucket.kmsKeyArn = opsKey;
    const mapped = mapRequest(world, {
      method: 'GET',
      path: '/rekey-catalog/catalog/pii/3.json',
      query: '',
      headers: { host: 'localhost', authorization: `AWS4-HMAC-SHA256 Credential=${orders.accessKeyId}/20270101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0` },
      body: Buffer.alloc(0),
    });
    expect(mapped.principal).toEqual({ kind: 'role', arn: orders.arn });
    expect(mapped.authz.map((a) => a.action)).toEqual(['s3:GetObject', 'kms:Decrypt']);
    const consumerRead = { Sid: 'ConsumerAccountsReadCatalog', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 's3:GetObject', Resource: `${ARNS.catalogBucket}/catalog/*` };
    await withPolicies([[orders, [allow('s3:GetObject', `${ARNS.catalogBucket}/catalog/*`), allow('kms:Decrypt', opsKey)]]], async () => {
      await withBucketStatements([consumerRead], async () => {
        const [s3, viaS3] = mapped.authz;
        expect((await decide(s3!)).allowed).toBe(true);
        // The ops key's policy names only the stack's roles: the identity policy alone is not enough.
        expect((await decide(viaS3!)).reason).toContain('because no resource-based policy allows the kms:Decrypt action');
        const { GrantId } = await kms.send(
          new CreateGrantCommand({ KeyId: opsKey, GranteePrincipal: orders.arn, Operations: ['Decrypt'], Name: 'catalog-read', Constraints: { EncryptionContextEquals: { 'aws:s3:arn': ARNS.catalogBucket } } }),
        );
        grants.invalidate(opsKey);
        try {
          expect(await decide(viaS3!)).toEqual({ allowed: true, reason: `allowed by KMS grant ${GrantId}` });
        } finally {
          await kms.send(new RevokeGrantCommand({ KeyId: opsKey, GrantId }));
          grants.invalidate(opsKey);
          delete bucket.kmsKeyArn;
        }
      });
    });
  });
});
