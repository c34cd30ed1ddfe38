/**
 * The CDK entry of the package (`rekey-kms/construct`): the Rekey construct (and the
 * one-command RekeyStack around it), its props, the consumer API (`Rekey.fromOutputs`,
 * `keyring(name).grantDecrypt`, `bindEnvironment`) and the names a platform team needs to place
 * it in its own CDK app. Only this subpath loads
 * aws-cdk-lib, constructs and cdk-nag (optional peer dependencies), so an application Lambda
 * that imports the client never does.
 *
 * @example
 * import { App, Stack, Validations } from 'aws-cdk-lib';
 * import { AwsSolutionsChecks } from 'cdk-nag';
 * import { Rekey, acknowledgeNagFindings } from 'rekey-kms/construct';
 *
 * const app = new App();
 * const stack = new Stack(app, 'Platform');
 * const rekey = new Rekey(stack, 'Rekey', { keyrings: [{ name: 'pii', rotateEvery: '30d' }] });
 * rekey.keyring('pii').grantEncryptDecrypt(ordersFunction);
 * rekey.keyring('pii').bindEnvironment(ordersFunction);
 * Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
 * acknowledgeNagFindings(rekey);
 */
export { Rekey, type RekeyProps } from './rekey';
export { RekeyStack, REKEY_STACK_CONSTRUCT_ID, type RekeyStackProps } from './rekey-stack';
export {
  ImportedRekey,
  attributesFromOutputs,
  type IRekey,
  type IRekeyKeyring,
  type RekeyAttributes,
  type RekeyImportOptions,
  type RekeyReference,
} from './consumer';
export { KeyringKey, consumerRolePattern, type KeyringKeyProps } from './constructs/keyring-key';
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
