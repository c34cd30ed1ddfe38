/**
 * The outputs of a deployed CloudFormation stack, as an object of output key → value: how an
 * application in another stack learns where rekey keeps its catalogs and which KMS keys wrap
 * its keyrings (the table of keys is shared/config/stack-outputs.ts).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { AccessDeniedError, NotFoundError } from '../../errors';
import { awsErrorCode, mapAwsError } from './map-aws-error';

/**
 * Reads every output of `stackName` with DescribeStacks.
 *
 * @example
 * const outputs = await readStackOutputs(new CloudFormationClient({ region: 'eu-west-1' }), 'Rekey');
 * outputs.CatalogBucket; // 'rekey-catalog-…'
 * @throws NotFoundError when there is no such stack (or it has no outputs); AccessDeniedError
 *   when the role may not describe it (IAM answers before CloudFormation looks, so a role scoped
 *   to other stacks cannot tell the two apart); the mapped AWS failure otherwise.
 */
export async function readStackOutputs(client: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  let outputs: { OutputKey?: string; OutputValue?: string }[] | undefined;
  try {
    const res = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = res.Stacks?.[0]?.Outputs;
  } catch (err) {
    // CloudFormation answers a missing stack with a ValidationError ("Stack with id X does not exist").
    const code = awsErrorCode(err);
    if (code === 'ValidationError') throw new NotFoundError(`stack '${stackName}' not found: name the deployed rekey stack (and its region)`);
    if (code === 'AccessDenied' || code === 'AccessDeniedException') {
      throw new AccessDeniedError(`access denied: cloudformation:DescribeStacks on stack '${stackName}': no such stack, or this role may not describe it`, { cause: err });
    }
    throw mapAwsError(err, 'cloudformation:DescribeStacks');
  }
  if (outputs === undefined || outputs.length === 0) throw new NotFoundError(`stack '${stackName}' has no outputs; is it a rekey stack?`);
  const values: Record<string, string> = {};
  for (const o of outputs) if (o.OutputKey !== undefined && o.OutputValue !== undefined) values[o.OutputKey] = o.OutputValue;
  return values;
}
