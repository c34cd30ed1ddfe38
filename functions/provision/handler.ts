/**
 * The `provision` Lambda function. CloudFormation custom resource provider of the stack's
 * keyrings: creates each keyring with its policy on deploy, updates the policy when the
 * configuration changes, and keeps everything when a keyring leaves the configuration.
 * Thin by design: validation, wiring, the response PUT and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { defaultHandlerDeps } from '../../shared/lambda/create-handler';
import { createProvisionHandler } from '../../shared/lambda/provision-handler';
import { buildProvisionServices } from '../../shared/compose/aws/provision-services';
import { runProvision } from '../../shared/usecases/provision';

/** The Lambda entry point, on the services of this function only (built on the first valid request). */
export const handler = createProvisionHandler({ ...defaultHandlerDeps('provision', buildProvisionServices), run: runProvision });
