/**
 * The configuration a rekey stack's CloudFormation outputs name: each output feeds the
 * variable it feeds on the functions (./stack-outputs.ts), through the one loader. The client
 * (shared/app), the construct's Rekey.fromOutputs (infra/) and the CLI read outputs with it, so
 * none of them can disagree with the functions about a bucket or a key.
 */
import { ValidationError, isRekeyError } from '../errors';
import { ENV } from './env-names';
import { loadConfig, type RekeyConfig } from './load-config';
import { STACK_OUTPUTS, type StackOutputKey } from './stack-outputs';

/**
 * The configuration named by the stack's outputs: each output feeds the variable it feeds on
 * the functions (shared/config/stack-outputs.ts); outputs rekey does not read are ignored.
 *
 * @example
 * configFromOutputs({ CatalogBucket: 'b', KeyringKeys: '{"pii":"arn:aws:kms:…"}', … }, 'eu-west-1');
 * @throws ValidationError naming every missing or malformed output (by the variable it feeds).
 */
export function configFromOutputs(outputs: Readonly<Record<string, string>>, region?: string): RekeyConfig {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(outputs)) {
    const variable = STACK_OUTPUTS[key as StackOutputKey];
    if (variable !== undefined && typeof value === 'string') env[variable] = value;
  }
  if (region !== undefined) env[ENV.region] = region;
  try {
    return loadConfig(env);
  } catch (err) {
    if (isRekeyError(err) && err.code === 'VALIDATION') throw new ValidationError(`the rekey stack outputs do not configure a client: ${err.message}`);
    throw err;
  }
}
