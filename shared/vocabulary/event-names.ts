/**
 * The EventBridge `source` and `detail-type` of every event rekey publishes or consumes: the one
 * place the functions (which put and validate them) and the stack (whose rules and archive match
 * them) read them from, so a pattern can never drift from what the code sends.
 *
 * Kept free of imports: every function bundle and the CDK app include it.
 */

/** Source of the audit events the EventBridge audit sink publishes. */
export const AUDIT_EVENT_SOURCE = 'rekey.audit';

/** Detail-type of every audit event. */
export const AUDIT_EVENT_DETAIL_TYPE = 'Rekey Audit Event';

/** Source of a compromise report (security tooling or the CLI's `revoke` in AWS mode). */
export const COMPROMISE_EVENT_SOURCE = 'rekey';

/** Detail-type of a compromise report; the rule routing it to revoke and key-access matches it. */
export const COMPROMISE_EVENT_DETAIL_TYPE = 'Key Version Compromised';

/** Every source the stack's audit archive keeps: audit events and the compromise reports they answer. */
export const ARCHIVED_EVENT_SOURCES: readonly string[] = [AUDIT_EVENT_SOURCE, COMPROMISE_EVENT_SOURCE];

/**
 * `source` and `detail-type` of the S3 event the grant reconciler (key-access) answers: an object
 * created (a catalog document written), as S3 sends it to EventBridge. AWS's names, not rekey's:
 * the stack's catalog-written rule matches them and key-access validates them, both from here.
 */
export const S3_OBJECT_CREATED = { source: 'aws.s3', detailType: 'Object Created' } as const;
/** S3's EventBridge event of a delete (DeleteObject, a delete marker, a version removed, a lifecycle expiry). */
export const S3_OBJECT_DELETED = { source: 'aws.s3', detailType: 'Object Deleted' } as const;
