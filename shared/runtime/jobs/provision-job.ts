/**
 * provision: the keyring custom resources of the stack. Create makes the keyring exist with its
 * policy (provisionKeyring: created, or an existing keyring's policy brought to the template's);
 * Update replaces the policy with a compare-and-swap and never touches versions (a renamed
 * keyring is provisioned under its new name); Delete changes nothing: removing a keyring from
 * the configuration never deletes its catalog, versions or KMS key, because records and escrow
 * may still need them.
 */
import { parsePolicy } from '../../catalog/policy';
import { provisionKeyring, type ProvisionOutcome } from '../../catalog/provision-keyring';
import type { KeyringService } from '../../catalog/keyring-service';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { KeyringProperties, ProvisionEvent } from '../provision-event-schema';

/** The services the provision job reads. */
export interface ProvisionServices {
  readonly keyrings: Pick<KeyringService, 'createKeyring' | 'updatePolicy'>;
  readonly clock: () => Date;
}

/** What the job did, for the response object. */
export interface ProvisionJobResult {
  /** The keyring name: stable for the life of the resource. */
  readonly physicalResourceId: string;
  readonly outcome: ProvisionOutcome | 'kept';
  /** Said in the response's Reason (optional on SUCCESS). */
  readonly reason: string;
  readonly data: Readonly<Record<string, string>>;
}

/**
 * Runs one provision request.
 *
 * @example
 * await runProvision(event, { services, logger }); // { physicalResourceId: 'pii', outcome: 'created', ... }
 * @throws ValidationError on a bad policy; UnknownKeyringError when an Update finds no keyring.
 */
export async function runProvision(event: ProvisionEvent, context: { services: ProvisionServices; logger: Pick<Logger, 'info' | 'warn'> }): Promise<ProvisionJobResult> {
  const { services, logger } = context;
  const actor = `cloudformation:${event.LogicalResourceId}`;
  const now = services.clock();
  if (event.RequestType === 'Delete') {
    const keyring = event.PhysicalResourceId;
    const reason = `keyring '${keyring.slice(0, 64)}' kept: removing a keyring from the configuration never deletes its catalog, versions or KMS key`;
    logger.warn('keyring custom resource deleted; nothing deleted', { keyring, stackId: event.StackId });
    return { physicalResourceId: keyring, outcome: 'kept', reason, data: { Keyring: keyring, Outcome: 'kept' } };
  }
  const props = event.ResourceProperties;
  const policy = policyOf(props);
  const renamed = event.RequestType === 'Update' && event.OldResourceProperties.Keyring !== props.Keyring;
  let outcome: ProvisionOutcome;
  let activeVersion: number | undefined;
  if (event.RequestType === 'Create' || renamed) {
    const result = await provisionKeyring(services.keyrings, props.Keyring, policy, { actor, now });
    outcome = result.outcome;
    activeVersion = result.catalog.versions.find((v) => v.state === 'active')?.version;
  } else {
    // The keyring must exist: recreating a vanished catalog would mint a new version 1 that
    // cannot open records of the old one, so that is refused (FAILED) rather than repaired.
    const result = await services.keyrings.updatePolicy(props.Keyring, policy, { actor, now });
    outcome = result.changed ? 'updated' : 'unchanged';
    activeVersion = result.catalog.versions.find((v) => v.state === 'active')?.version;
  }
  logger.info('keyring provisioned', { keyring: props.Keyring, outcome, requestType: event.RequestType });
  return {
    physicalResourceId: props.Keyring,
    outcome,
    reason: `keyring '${props.Keyring}' ${outcome}`,
    data: { Keyring: props.Keyring, Outcome: outcome, ...(activeVersion === undefined ? {} : { ActiveVersion: String(activeVersion) }) },
  };
}

function policyOf(props: KeyringProperties) {
  return parsePolicy({ rotateEvery: props.RotateEvery, grace: props.Grace, propagation: props.Propagation, retention: props.Retention });
}
