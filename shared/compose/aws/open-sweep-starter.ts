/**
 * The Step Functions side of a revocation: the SFN client and the sweep starter over it.
 * Loaded by ./revocation-wiring only when a revocation hands a large target to the state
 * machine, so a revocation swept inline never loads the SFN client.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnSweepStarter } from '../../adapters/aws/sfn-sweep-starter';
import { FUNCTION_SDK_TIMEOUTS, newSdkClient } from '../../adapters/aws/sdk-client-options';

/**
 * Builds the sweep starter for `stateMachineArn`, over `client` or a default client.
 *
 * @example
 * const starter = openSweepStarter(stateMachineArn, { region: 'eu-west-1' });
 */
export function openSweepStarter(stateMachineArn: string, region: { readonly region?: string }, client?: SFNClient): SfnSweepStarter {
  return new SfnSweepStarter({ client: client ?? newSdkClient(SFNClient, { ...region }, FUNCTION_SDK_TIMEOUTS), stateMachineArn });
}
