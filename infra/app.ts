/**
 * The CDK app: reads the rekey configuration from the `rekey` context key (cdk.json or
 * `-c rekey='{...}'`), validates it, builds the stack and runs cdk-nag's AwsSolutions checks,
 * whose unacknowledged findings fail synthesis.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { RekeyStack } from './rekey-stack';
import { resolveRekeyProps, type RekeyConfigProps } from './props';

/** Context key holding the rekey configuration (same JSON shape as RekeyConfigProps). */
export const REKEY_CONTEXT_KEY = 'rekey';
/** Context key naming the stack. */
export const STACK_NAME_CONTEXT_KEY = 'rekey:stackName';

/**
 * Builds the app from its context: validation first (a ValidationError lists every bad field),
 * then the stack, then the nag checks.
 *
 * @example
 * const { app, stack } = buildApp(new App({ context: { rekey: { keyrings: [{ name: 'pii' }] } } }));
 */
export function buildApp(app: App): { app: App; stack: RekeyStack } {
  const raw: unknown = app.node.tryGetContext(REKEY_CONTEXT_KEY);
  const parsed = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  resolveRekeyProps(parsed);
  const stackName = String(app.node.tryGetContext(STACK_NAME_CONTEXT_KEY) ?? 'Rekey');
  const stack = new RekeyStack(app, stackName, {
    ...(parsed as RekeyConfigProps),
    // Environment-agnostic: the template deploys to whichever account and region `cdk deploy` targets.
    description: 'rekey: automated key rotation (keys, catalog, escrow, schedules, sweep, alarms)',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  acknowledgeNagFindings(stack);
  return { app, stack };
}

if (require.main === module) {
  buildApp(new App());
}
