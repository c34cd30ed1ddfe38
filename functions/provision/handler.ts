/**
 * The `provision` Lambda function. CloudFormation custom resource provider of the stack's
 * keyrings: creates each keyring with its policy on deploy, updates the policy when the
 * configuration changes, and keeps everything when a keyring leaves the configuration.
 * Thin by design: validation, wiring, the response PUT and error mapping live in shared/lambda (the handler kit), shared/usecases and shared/compose/aws.
 */
import { loadConfig } from '../../shared/config/load-config';
import { createLogger } from '../../shared/lambda/create-logger';
import { createProvisionHandler, type ProvisionFunctionServices } from '../../shared/lambda/provision-handler';
import { PowertoolsMetricsPublisher } from '../../shared/lambda/rekey-metrics';
import { buildProvisionServices } from '../../shared/compose/aws/provision-services';

const logger = createLogger({ serviceName: 'rekey-provision' });
let services: ProvisionFunctionServices | undefined;

/** The Lambda entry point, on the services of this function only (built on the first valid request). */
export const handler = createProvisionHandler({
  logger,
  metrics: new PowertoolsMetricsPublisher({ serviceName: 'rekey-provision' }),
  services: () => (services ??= buildProvisionServices(loadConfig(), { logger })),
});
