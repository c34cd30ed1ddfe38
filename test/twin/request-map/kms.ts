/**
 * AWS KMS (AWS JSON 1.1, `X-Amz-Target: TrentService.<Operation>`; @aws-sdk/client-kms uses
 * AwsJson1_1Protocol, serviceTarget "TrentService") → IAM action, key ARN and condition keys.
 *
 * Condition keys: "AWS KMS condition keys" (AWS KMS Developer Guide): kms:EncryptionContext:<key>
 * and kms:EncryptionContextKeys for cryptographic operations and for CreateGrant (taken from the
 * grant's constraint), kms:CallerAccount on every request, kms:GrantOperations,
 * kms:GranteePrincipal, kms:RetiringPrincipal, kms:GrantConstraintType and
 * kms:GrantIsForAWSResource for CreateGrant, kms:RequestAlias when an alias names the key.
 * ReEncrypt is authorized as kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the
 * destination key ("ReEncrypt", AWS KMS API Reference).
 */
import type { RequestContext } from '../authz/types';
import { arn, jsonBody, jsonTarget, str, strMap, type AuthzCheck, type MapContext, type MappedOperation, type RawHttpRequest } from './common';

/**
 * moto's CiphertextBlob starts with the 36-character key id of the key that made it
 * (moto/kms/utils.py `_serialize_ciphertext_blob`: struct `>36s12s16s` = key id, IV, tag, then
 * the AES-GCM ciphertext). Real KMS embeds the key too, which is why Decrypt needs no KeyId.
 */
export function keyIdOfCiphertext(blobBase64: string): string | undefined {
  const blob = Buffer.from(blobBase64, 'base64');
  if (blob.length < 36 + 12 + 16) return undefined;
  const id = blob.subarray(0, 36).toString('utf8');
  return /^(mrk-)?[0-9a-f-]{32,36}$/.test(id) ? id : undefined;
}

/** Every KMS KeyId form (key id, key ARN, alias name, alias ARN) → key ARN, or undefined if unknown. */
export function resolveKeyArn(ctx: MapContext, keyId: string): string | undefined {
  const aliasName = keyId.startsWith('alias/') ? keyId : keyId.includes(':alias/') ? keyId.slice(keyId.indexOf(':alias/') + 1) : undefined;
  if (aliasName !== undefined) return ctx.aliases.get(aliasName);
  const known = ctx.world.key(keyId);
  if (known !== undefined) return known.arn;
  if (keyId.startsWith('arn:')) return keyId;
  return arn(ctx, 'kms', `key/${keyId}`);
}

/** kms:EncryptionContext:<k> for each pair and kms:EncryptionContextKeys (absent when there is no context). */
export function encryptionContextKeys(ec: Readonly<Record<string, string>> | undefined): RequestContext {
  if (ec === undefined || Object.keys(ec).length === 0) return {};
  const out: Record<string, string | readonly string[]> = { 'kms:EncryptionContextKeys': Object.keys(ec) };
  for (const [k, v] of Object.entries(ec)) out[`kms:EncryptionContext:${k}`] = v;
  return out;
}

const CRYPTO_WITH_KEY_ID = new Set([
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'Sign',
  'Verify',
]);

/** Operations without resource-level permissions (resource `*`). */
const ACCOUNT_LEVEL = new Set(['CreateKey', 'ListKeys', 'ListAliases', 'GenerateRandom', 'ListRetirableGrants', 'CreateCustomKeyStore', 'DescribeCustomKeyStores']);

/** Maps one KMS request. */
export function mapKms(ctx: MapContext, raw: RawHttpRequest): MappedOperation {
  const operation = jsonTarget(raw) ?? 'Unknown';
  const params = jsonBody(raw);
  const base: RequestContext = { ...ctx.global, 'kms:CallerAccount': ctx.account };
  const keyCheck = (action: string, keyId: string | undefined, extra: RequestContext = {}): AuthzCheck => {
    const isAlias = keyId !== undefined && (keyId.startsWith('alias/') || keyId.includes(':alias/'));
    const alias: RequestContext = isAlias ? { 'kms:RequestAlias': keyId.slice(keyId.indexOf('alias/')) } : {};
    const resource = keyId === undefined ? '*' : (resolveKeyArn(ctx, keyId) ?? `unresolved:${keyId}`);
    return { action, resource, context: { ...base, ...alias, ...extra } };
  };
  const ec = encryptionContextKeys(strMap(params, 'EncryptionContext'));
  const blobKey = (field: string): string | undefined => {
    const blob = str(params, field);
    return blob === undefined ? undefined : keyIdOfCiphertext(blob);
  };

  if (operation === 'Decrypt') {
    // The ciphertext names its key; KeyId, if given, must match it (KMS answers IncorrectKeyException otherwise).
    return { operation, params, checks: [keyCheck('kms:Decrypt', blobKey('CiphertextBlob') ?? str(params, 'KeyId'), ec)] };
  }
  if (CRYPTO_WITH_KEY_ID.has(operation)) return { operation, params, checks: [keyCheck(`kms:${operation}`, str(params, 'KeyId'), ec)] };
  if (operation === 'ReEncrypt') {
    const from = keyCheck('kms:ReEncryptFrom', blobKey('CiphertextBlob') ?? str(params, 'SourceKeyId'), encryptionContextKeys(strMap(params, 'SourceEncryptionContext')));
    const to = keyCheck('kms:ReEncryptTo', str(params, 'DestinationKeyId'), encryptionContextKeys(strMap(params, 'DestinationEncryptionContext')));
    return { operation, params, checks: [from, to] };
  }
  if (operation === 'CreateGrant') return { operation, params, checks: [keyCheck('kms:CreateGrant', str(params, 'KeyId'), grantContext(params))] };
  if (operation === 'RetireGrant') {
    // RetireGrant may name the grant by token only; then the key is not in the request.
    return { operation, params, checks: [keyCheck('kms:RetireGrant', str(params, 'KeyId'))] };
  }
  if (operation === 'CreateAlias' || operation === 'UpdateAlias' || operation === 'DeleteAlias') {
    // Alias operations need permission on the alias and on the key(s) ("Controlling access to aliases", AWS KMS Developer Guide).
    const aliasName = str(params, 'AliasName') ?? '';
    const checks: AuthzCheck[] = [{ action: `kms:${operation}`, resource: arn(ctx, 'kms', aliasName), context: base }];
    const target = str(params, 'TargetKeyId');
    if (target !== undefined) checks.push(keyCheck(`kms:${operation}`, target));
    if (operation !== 'CreateAlias') {
      const current = ctx.aliases.get(aliasName);
      if (current !== undefined) checks.push({ action: `kms:${operation}`, resource: current, context: base });
    }
    return { operation, params, checks };
  }
  if (ACCOUNT_LEVEL.has(operation)) return { operation, params, checks: [{ action: `kms:${operation}`, resource: '*', context: base }] };
  // DescribeKey, ListGrants, RevokeGrant, GetKeyPolicy, PutKeyPolicy, ScheduleKeyDeletion, DisableKey, ...: the KeyId names the resource.
  return { operation, params, checks: [keyCheck(`kms:${operation}`, str(params, 'KeyId'))] };
}

/** CreateGrant's condition keys, from the request ("Grant constraints" / "kms:GrantConstraintType", AWS KMS Developer Guide). */
function grantContext(params: Readonly<Record<string, unknown>>): RequestContext {
  const out: Record<string, string | readonly string[] | boolean> = { 'kms:GrantIsForAWSResource': false };
  const ops = params['Operations'];
  if (Array.isArray(ops)) out['kms:GrantOperations'] = ops.filter((o): o is string => typeof o === 'string');
  const grantee = str(params, 'GranteePrincipal');
  if (grantee !== undefined) out['kms:GranteePrincipal'] = grantee;
  const retiring = str(params, 'RetiringPrincipal');
  if (retiring !== undefined) out['kms:RetiringPrincipal'] = retiring;
  const constraints = params['Constraints'];
  if (typeof constraints === 'object' && constraints !== null) {
    const c = constraints as Record<string, unknown>;
    const equals = strMap(c, 'EncryptionContextEquals');
    const subset = strMap(c, 'EncryptionContextSubset');
    const type = equals !== undefined ? 'EncryptionContextEquals' : subset !== undefined ? 'EncryptionContextSubset' : undefined;
    if (type !== undefined) out['kms:GrantConstraintType'] = type;
    Object.assign(out, encryptionContextKeys(equals ?? subset));
  }
  return out;
}
