/**
 * KMS key identifiers and multi-Region keys, as the AWS Encryption SDK specification defines
 * them ("aws-kms-key-arn" and "aws-kms-mrk-match-for-decrypt", framework/aws-kms/ of
 * github.com/awslabs/aws-encryption-sdk-specification): a multi-Region key (MRK) is a key whose
 * id starts with `mrk-`; its primary and replicas share key material and id and differ only in
 * the Region of their ARN, so a blob wrapped by one unwraps with any of them ("Multi-Region keys
 * in AWS KMS", AWS KMS Developer Guide). Aliases are never MRKs, whatever their name.
 *
 * rekey's catalog records the ARN a version key was wrapped under (the home Region's); a reader
 * in another Region turns it into its own Region's replica with {@link keyArnInRegion}.
 */
import { ValidationError } from '../../errors';

/** The parts of a KMS key or alias ARN (`arn:<partition>:kms:<region>:<account>:<type>/<id>`). */
export interface KmsArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly resourceType: 'key' | 'alias';
  readonly resourceId: string;
}

const ARN = /^arn:([a-z][a-z0-9-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;

/**
 * The parts of a KMS ARN; undefined for anything else (a bare key id, an alias name).
 *
 * @example
 * parseKmsArn('arn:aws:kms:eu-west-1:111122223333:key/mrk-1234'); // { region: 'eu-west-1', resourceId: 'mrk-1234', ... }
 */
export function parseKmsArn(value: string): KmsArn | undefined {
  const m = ARN.exec(value);
  if (m === null) return undefined;
  const [, partition, region, account, resourceType, resourceId] = m as unknown as [string, string, string, string, 'key' | 'alias', string];
  return { partition, region, account, resourceType, resourceId };
}

/**
 * Whether `identifier` names a multi-Region key: a key ARN or a bare key id starting with
 * `mrk-` (an alias, by name or ARN, never does).
 *
 * @example
 * isMultiRegionKey('arn:aws:kms:us-east-1:111122223333:key/mrk-1a2b'); // true
 */
export function isMultiRegionKey(identifier: string): boolean {
  const arn = parseKmsArn(identifier);
  if (arn !== undefined) return arn.resourceType === 'key' && arn.resourceId.startsWith('mrk-');
  return !identifier.startsWith('alias/') && identifier.startsWith('mrk-');
}

/**
 * Whether two identifiers name the same key for a decrypt: equal, or two ARNs of one
 * multi-Region key that differ only in Region (the specification's "MRK match").
 *
 * @example
 * mrkMatch('arn:aws:kms:us-east-1:111122223333:key/mrk-1a', 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1a'); // true
 */
export function mrkMatch(a: string, b: string): boolean {
  if (a === b) return true;
  if (!isMultiRegionKey(a) || !isMultiRegionKey(b)) return false;
  const x = parseKmsArn(a);
  const y = parseKmsArn(b);
  if (x === undefined || y === undefined) return false;
  return x.partition === y.partition && x.account === y.account && x.resourceType === y.resourceType && x.resourceId === y.resourceId;
}

/**
 * The identifier to call KMS with in `region`: a multi-Region key's ARN with its Region replaced
 * (the replica there), anything else unchanged (a single-Region key exists in its own Region
 * only, and KMS answers for it as it would have).
 *
 * @example
 * keyArnInRegion('arn:aws:kms:us-east-1:111122223333:key/mrk-1a', 'eu-west-1'); // 'arn:aws:kms:eu-west-1:111122223333:key/mrk-1a'
 */
export function keyArnInRegion(identifier: string, region: string): string {
  const arn = parseKmsArn(identifier);
  if (arn === undefined || !isMultiRegionKey(identifier) || arn.region === region) return identifier;
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new ValidationError(`'${region}' is not an AWS Region name`);
  return `arn:${arn.partition}:kms:${region}:${arn.account}:key/${arn.resourceId}`;
}
