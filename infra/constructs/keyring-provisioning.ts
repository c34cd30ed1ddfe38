/**
 * Keyring provisioning on deploy: one CloudFormation custom resource per configured keyring,
 * served directly by the rekey `provision` function (ServiceToken = its ARN; no CDK Provider
 * framework, whose extra functions and state machine would hold catalog and KMS permissions of
 * their own). The properties are the keyring's configuration: name, policy (durations in the
 * cdk.json notation, the quiet period and the destruction opt-in among them) and sensitivity.
 *
 * - Create: the keyring is created with version 1 active, or an existing keyring's policy is
 *   brought to the template's (idempotent).
 * - Update: the policy is replaced with a compare-and-swap; versions are never touched.
 * - Delete (the keyring left the configuration, or the stack is deleted): nothing is deleted;
 *   the catalog, the versions and the KMS key (itself retained) stay.
 *
 * The requests go through the function's own handler (functions/provision), which always answers
 * at the ResponseURL; ServiceTimeout bounds the wait should an answer get lost anyway.
 */
import { CustomResource, Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, type IDependable } from 'constructs';
import { formatDuration } from '../../shared/vocabulary/duration';
import { PROVISION_RESOURCE_TYPE } from '../../shared/vocabulary/provision-event-schema';
import type { ResolvedKeyring } from '../props';

/** Props of {@link KeyringProvisioning}. */
export interface KeyringProvisioningProps {
  /** The provision function (its ARN is each resource's ServiceToken). */
  readonly provider: lambda.IFunction;
  readonly keyrings: readonly ResolvedKeyring[];
  /**
   * Everything a first request needs in place: the provider's permissions, and what reacts to
   * the first catalog write (the key-access rule), so the new version's grants follow at once.
   */
  readonly dependsOn?: readonly IDependable[];
  /**
   * CloudFormation's wait for an answer (ServiceTimeout).
   * @default 5 minutes (the function's timeout times its three asynchronous attempts, plus margin)
   */
  readonly timeout?: Duration;
}

/** The resource properties of one keyring (what provision-event-schema.ts accepts). */
export function keyringResourceProperties(k: ResolvedKeyring): Record<string, string> {
  return {
    Keyring: k.name,
    RotateEvery: formatDuration(k.policy.rotateEverySeconds),
    Grace: formatDuration(k.policy.graceSeconds),
    Propagation: formatDuration(k.policy.propagationSeconds),
    Retention: formatDuration(k.policy.retentionSeconds),
    Quiet: formatDuration(k.policy.quietSeconds),
    // Always written, default or not, so the template states the whole deployed policy; and as a
    // string, like every other property here: the provider then never depends on how a JSON
    // boolean travels through the request ("sent, verbatim, to the custom resource provider in
    // the request's ResourceProperties": https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html).
    DestroyAfterRetention: String(k.policy.destroyAfterRetention),
    Sensitivity: k.sensitivity,
  };
}

/**
 * One `Custom::RekeyKeyring` per keyring.
 *
 * @example
 * new KeyringProvisioning(this, 'Keyrings', { provider: fns.provision.fn, keyrings: config.keyrings, dependsOn: [rule] });
 */
export class KeyringProvisioning extends Construct {
  /** Keyring name → its custom resource. */
  public readonly resources: ReadonlyMap<string, CustomResource>;

  public constructor(scope: Construct, id: string, props: KeyringProvisioningProps) {
    super(scope, id);
    const resources = new Map<string, CustomResource>();
    for (const k of props.keyrings) {
      const resource = new CustomResource(this, `Keyring-${k.name}`, {
        serviceToken: props.provider.functionArn,
        resourceType: PROVISION_RESOURCE_TYPE,
        serviceTimeout: props.timeout ?? Duration.minutes(5),
        properties: keyringResourceProperties(k),
      });
      for (const d of props.dependsOn ?? []) resource.node.addDependency(d);
      resources.set(k.name, resource);
    }
    this.resources = resources;
  }
}
