/**
 * Reading a deployed rekey stack's outputs for an application client. Loaded only by a client
 * that names a stack, so an application configured from its environment never loads the
 * CloudFormation client.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { readStackOutputs } from '../../adapters/aws/cloudformation-stack-outputs';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';

/** Where the stack is, and optionally the client to ask with. */
export interface StackOutputsSource {
  readonly stackName: string;
  /** @default the SDK's own resolution (AWS_REGION, the profile) */
  readonly region?: string;
  /** Used as given and left open; without it one is made and destroyed after the call. */
  readonly cloudFormation?: CloudFormationClient;
}

/**
 * The stack's outputs, output key → value.
 *
 * @example
 * const outputs = await fetchStackOutputs({ stackName: 'Rekey', region: 'eu-west-1' });
 * @throws NotFoundError, AccessDeniedError or the mapped AWS failure (see readStackOutputs).
 */
export async function fetchStackOutputs(source: StackOutputsSource): Promise<Record<string, string>> {
  const client = source.cloudFormation ?? newSdkClient(CloudFormationClient, source.region === undefined ? {} : { region: source.region }, FUNCTION_SDK_TIMEOUTS);
  try {
    return await readStackOutputs(client, source.stackName);
  } finally {
    if (source.cloudFormation === undefined) client.destroy();
  }
}
