/**
 * Names the observed-key-use path shares between the stack (its rule, the function's
 * environment, the log's permissions) and the code (the key-use schema, the S3 key-use log):
 * one place, so the rule's pattern and the IAM resources can never drift from what the code reads.
 *
 * Kept free of imports: every function bundle and the CDK app include it.
 */

/**
 * A KMS `Decrypt` as CloudTrail delivers it to EventBridge ("AWS service events delivered via
 * AWS CloudTrail", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html).
 * AWS's names, not rekey's.
 */
export const KMS_DECRYPT_VIA_CLOUDTRAIL = { source: 'aws.kms', detailType: 'AWS API Call via CloudTrail', eventSource: 'kms.amazonaws.com', eventName: 'Decrypt' } as const;

/** Key prefix of the key-use documents in the state bucket: beside the catalog's, never under it (a write there would look like a catalog write). */
export const KEY_USE_PREFIX = 'key-use/';

/** Environment variable of the role ARNs whose Decrypts are not use (a JSON array; the stack sets the escrow role's). */
export const KEY_USE_IGNORED_ROLES_ENV = 'REKEY_KEY_USE_IGNORED_ROLES';
