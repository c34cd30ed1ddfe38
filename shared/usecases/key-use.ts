/**
 * Observed key use on AWS: a KMS Decrypt of a keyring key with encryption context
 * `{ keyring, version }` (CloudTrail, through EventBridge) becomes the version's last use in the
 * KeyUseLog, the evidence the lifecycle needs (besides reference counts) before a version stops
 * decrypting. Pure over its ports: the key-use Lambda and any other door call the same function.
 */
import { ValidationError } from '../errors';
import type { KeyUseLog } from '../ports/key-use-log';
import type { KeyUseEvent } from '../vocabulary/event-schemas';
import type { JobContext } from './context';

/** The services the key-use job reads. */
export interface KeyUseServices {
  readonly keyUse: KeyUseLog;
  /** Keyring name → its KMS key ARN (the stack's keyring keys). */
  readonly keyringKeys: Readonly<Record<string, string>>;
  /**
   * IAM role ARNs whose unwraps are rekey's own bookkeeping, not use (the escrow role: its drill
   * proves copies by key check value and never unwraps, but an archive run may).
   */
  readonly ignoredRoleArns: readonly string[];
}

/** One observed unwrap, as the event told it. */
export interface KeyUseObservation {
  readonly keyring: string;
  readonly version: number;
  readonly at: Date;
  /** The caller's principal ARN (a role session). */
  readonly by?: string;
  /** The role behind the session, when the caller used one. */
  readonly issuerArn?: string;
  /** The KMS keys the call used. */
  readonly keyArns: readonly string[];
  /** Set when the call failed (a failed Decrypt is no use). */
  readonly errorCode?: string;
}

/** What the job did with one observation. */
export type KeyUseOutcome =
  | { readonly recorded: true; readonly keyring: string; readonly version: number; readonly at: string }
  | { readonly recorded: false; readonly keyring: string; readonly version: number; readonly reason: 'ignored-principal' };

/**
 * Records one observed unwrap. Refuses, changing nothing, an observation that cannot be a use of
 * the keyring's version key: a failed call, an unknown keyring, or a key that is not the
 * keyring's (the rule matches only keyring keys, so this is a misrouted or forged event).
 *
 * @example
 * await recordKeyUse({ keyring: 'pii', version: 1, at, by, keyArns: [piiKeyArn] }, services);
 * @throws ValidationError for an observation that is not a use of a keyring key.
 */
export async function recordKeyUse(observation: KeyUseObservation, services: KeyUseServices): Promise<KeyUseOutcome> {
  const { keyring, version } = observation;
  if (observation.errorCode !== undefined) throw new ValidationError(`a failed Decrypt (${observation.errorCode.slice(0, 64)}) is not a use of ${keyring} v${version}`);
  const keyArn = services.keyringKeys[keyring];
  if (keyArn === undefined) throw new ValidationError(`no keyring '${keyring}' in this stack`);
  if (!observation.keyArns.includes(keyArn)) throw new ValidationError(`the Decrypt with context keyring '${keyring}' did not use that keyring's key`);
  if (observation.issuerArn !== undefined && services.ignoredRoleArns.includes(observation.issuerArn)) {
    return { recorded: false, keyring, version, reason: 'ignored-principal' };
  }
  await services.keyUse.recordUse(keyring, version, { at: observation.at, ...(observation.by === undefined ? {} : { by: observation.by }) });
  return { recorded: true, keyring, version, at: observation.at.toISOString() };
}

/**
 * The key-use job: the CloudTrail event (validated by the handler) → {@link recordKeyUse}.
 *
 * @example
 * const outcome = await runKeyUse(event, { services, logger, metrics, functionName: 'key-use' });
 */
export async function runKeyUse(event: KeyUseEvent, context: JobContext<KeyUseServices>): Promise<KeyUseOutcome> {
  const d = event.detail;
  const issuerArn = d.userIdentity.sessionContext?.sessionIssuer?.arn;
  const outcome = await recordKeyUse(
    {
      keyring: d.requestParameters.encryptionContext.keyring,
      version: Number(d.requestParameters.encryptionContext.version),
      at: new Date(d.eventTime),
      ...(d.userIdentity.arn === undefined ? {} : { by: d.userIdentity.arn }),
      ...(issuerArn === undefined ? {} : { issuerArn }),
      keyArns: d.resources.map((r) => r.ARN),
      ...(d.errorCode === undefined ? {} : { errorCode: d.errorCode }),
    },
    context.services,
  );
  context.logger.info('key use observed', { ...outcome, eventId: event.id });
  return outcome;
}
