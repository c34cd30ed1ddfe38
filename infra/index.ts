/**
 * The CDK entry of the package (`rekey-kms/construct`): the rekey stack, its props and the
 * names a platform team needs to place it in its own CDK app. Only this subpath loads
 * aws-cdk-lib, constructs and cdk-nag (optional peer dependencies), so an application Lambda
 * that imports the client never does.
 *
 * @example
 * import { App, Validations } from 'aws-cdk-lib';
 * import { AwsSolutionsChecks } from 'cdk-nag';
 * import { RekeyStack, acknowledgeNagFindings } from 'rekey-kms/construct';
 *
 * const app = new App();
 * const stack = new RekeyStack(app, 'Rekey', { keyrings: [{ name: 'pii', rotateEvery: '30d' }] });
 * Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
 * acknowledgeNagFindings(stack);
 */
export { RekeyStack, type RekeyStackProps } from './rekey-stack';
export { KeyringKey, type KeyringKeyProps } from './constructs/keyring-key';
export {
  REKEY_PROPS_DEFAULTS,
  resolveRekeyProps,
  type AlarmProps,
  type CacheProps,
  type EscrowProps,
  type KeyringProps,
  type RecordTargetProps,
  type RekeyConfigProps,
  type ResolvedKeyring,
  type ResolvedRecordTarget,
  type ResolvedRekeyConfig,
  type ScheduleProps,
  type Sensitivity,
  type SweepProps,
} from './props';
export { acknowledgeNagFindings, type NagAcknowledgement } from './nag-acknowledgements';
export { STACK_OUTPUTS, type StackOutputKey } from './outputs';
