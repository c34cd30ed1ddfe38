/**
 * provision: the keyring custom resources of the stack. Create makes the keyring exist with its
 * policy (provisionKeyring: created, or an existing keyring's policy brought to the template's);
 * Update replaces the policy with a compare-and-swap and never touches versions (a renamed
 * keyring is provisioned under its new name); Delete changes nothing: removing a keyring from
 * the configuration never deletes its catalog, versions or KMS key, because records and escrow
 * may still need them.
 */
import { ValidationError, UnknownKeyringError } from '../errors';
import type { Catalog, KeyringPolicy } from '../catalog/model';
import { parsePolicy } from '../catalog/policy';
import { provisionKeyring, type ProvisionOutcome } from '../catalog/provision-keyring';
import type { KeyringService } from '../catalog/keyring-service';
import type { JobLogger } from '../ports/job-logger';
import type { KeyringProperties, ProvisionEvent } from '../vocabulary/provision-event-schema';

/** The services the provision job reads. */
export interface ProvisionServices {
  readonly keyrings: Pick<KeyringService, 'createKeyring' | 'updatePolicy' | 'get'>;
  readonly clock: () => Date;
  /** The stack's KMS key of each keyring (KeyringKeys): an existing keyring must be wrapped by it. */
  readonly config?: { readonly keyringKeys: Readonly<Record<string, string>> };
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
export async function runProvision(event: ProvisionEvent, context: { services: ProvisionServices; logger: Pick<JobLogger, 'info' | 'warn'> }): Promise<ProvisionJobResult> {
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
  await refuseForeignKey(services, props.Keyring);
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

/**
 * The catalog policy a resource's properties state. Quiet and DestroyAfterRetention absent mean
 * the defaults (7 days, no destruction), so a template that does not state them can never leave
 * a keyring destroying versions: the update writes the default back like any other field.
 */
function policyOf(props: KeyringProperties): KeyringPolicy {
  return parsePolicy({
    rotateEvery: props.RotateEvery,
    grace: props.Grace,
    propagation: props.Propagation,
    retention: props.Retention,
    ...(props.Quiet === undefined ? {} : { quiet: props.Quiet }),
    ...(props.DestroyAfterRetention === undefined ? {} : { destroyAfterRetention: props.DestroyAfterRetention === 'true' }),
  });
}

/** The key id of a KMS key ARN or id (`arn:aws:kms:r:a:key/<id>` → `<id>`). */
function keyIdOf(arnOrId: string): string {
  return arnOrId.slice(arnOrId.lastIndexOf('/') + 1);
}

/**
 * Refuses to adopt an existing keyring whose version keys are wrapped by another KMS key than the
 * stack's key of that keyring. That happens when a keyring removed from the configuration (its
 * key retained, no longer the stack's) is added back: CloudFormation creates a new key, and
 * adopting the catalog would split the keyring across two keys: the old versions' grants would
 * stay on a key key-access no longer maintains (a revocation would not reach them) and that key's
 * policy would no longer follow the stack. Nothing is written: the request answers FAILED with
 * both keys.
 */
async function refuseForeignKey(services: ProvisionServices, keyring: string): Promise<void> {
  const configured = services.config?.keyringKeys[keyring];
  if (configured === undefined) return;
  let catalog: Catalog;
  try {
    catalog = await services.keyrings.get(keyring);
  } catch (err) {
    if (err instanceof UnknownKeyringError) return;
    throw err;
  }
  const foreign = catalog.versions.filter((v) => v.wrappedKey !== undefined && keyIdOf(v.wrappingKeyId) !== keyIdOf(configured));
  if (foreign.length === 0) return;
  const keys = [...new Set(foreign.map((v) => v.wrappingKeyId))].join(', ');
  throw new ValidationError(
    `keyring '${keyring}' exists with versions ${foreign.map((v) => v.version).join(', ')} wrapped by KMS key ${keys}, not by this stack's key ${configured}: ` +
      'a keyring removed from the configuration keeps its retained key, which the stack no longer manages; see docs/deploy.md, 9. Keyrings on deploy',
  );
}
