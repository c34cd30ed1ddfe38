/**
 * Events of the rekey stack: the bus carrying audit events and compromise reports, its audit
 * archive, and the two rules that route events to functions (a compromise report to revoke and
 * key-access; a catalog or consumer registry write to key-access). Sources and detail-types are the ones the code
 * sends and validates (shared/vocabulary/event-names.ts, S3's `Object Created` included).
 * Built in the stack's scope (see storage.ts for why).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ARCHIVED_EVENT_SOURCES, COMPROMISE_EVENT_DETAIL_TYPE, COMPROMISE_EVENT_SOURCE, S3_OBJECT_CREATED } from '../../shared/vocabulary/event-names';
import { CONSUMER_REGISTRY_PREFIX } from '../../shared/vocabulary/consumer-registry';
import type { RekeyFunction } from '../constructs/rekey-function';
import { DELIVERY_RETRY, deadLetterQueueProps, type FunctionName } from '../defaults';
import type { ResolvedRekeyConfig } from '../props';

/**
 * The bus of rekey's events, with an archive of the audit events and compromise reports.
 *
 * @example
 * const eventBus = createEventBus(stack);
 */
export function createEventBus(scope: Construct): events.EventBus {
  const eventBus = new events.EventBus(scope, 'Bus', { eventBusName: `${Stack.of(scope).stackName}-events` });
  eventBus.archive('AuditArchive', {
    description: 'rekey audit events (who, what, which version, why) and the compromise reports they answer',
    eventPattern: { source: [...ARCHIVED_EVENT_SOURCES] },
    retention: Duration.days(365),
  });
  return eventBus;
}

/** What the rules route to, and what they match. */
export interface EventRoutesProps {
  readonly config: ResolvedRekeyConfig;
  readonly eventBus: events.IEventBus;
  readonly functions: Readonly<Record<FunctionName, RekeyFunction>>;
  readonly catalogBucket: s3.IBucket;
}

/**
 * The rules: compromise reports (on the rekey bus) to revoke and key-access, catalog writes
 * (S3's events, on the default bus) to key-access.
 *
 * @example
 * const routes = new EventRoutes(stack, { config, eventBus, functions, catalogBucket });
 */
export class EventRoutes {
  /** Dead-letter queue of the rules' targets. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The rule that runs the grant reconciler after every catalog or registry write. */
  public readonly catalogWritten: events.Rule;

  public constructor(scope: Construct, props: EventRoutesProps) {
    const { config, functions: fns } = props;
    this.deadLetterQueue = new sqs.Queue(scope, 'CompromiseRuleDlq', deadLetterQueueProps());
    const deliver = { deadLetterQueue: this.deadLetterQueue, retryAttempts: DELIVERY_RETRY.attempts, maxEventAge: DELIVERY_RETRY.maxEventAge };
    new events.Rule(scope, 'KeyVersionCompromised', {
      description: 'rekey: emergency revocation of a compromised key version',
      eventBus: props.eventBus,
      eventPattern: {
        source: [COMPROMISE_EVENT_SOURCE],
        detailType: [COMPROMISE_EVENT_DETAIL_TYPE],
        detail: { keyring: config.keyrings.map((k) => k.name), version: [{ numeric: ['>', 0] }], reason: [{ exists: true }] },
      },
      targets: [new targets.LambdaFunction(fns.revoke.fn, deliver), new targets.LambdaFunction(fns['key-access'].fn, deliver)],
    });
    this.catalogWritten = new events.Rule(scope, 'CatalogWritten', {
      description: 'rekey: reconcile KMS grants after every catalog or consumer registry write',
      eventPattern: {
        source: [S3_OBJECT_CREATED.source],
        detailType: [S3_OBJECT_CREATED.detailType],
        // A registry write (`rekey consumers add`) must reach the reconciler as a catalog write does.
        detail: { bucket: { name: [props.catalogBucket.bucketName] }, object: { key: [{ prefix: config.catalogPrefix }, { prefix: CONSUMER_REGISTRY_PREFIX }] } },
      },
      targets: [new targets.LambdaFunction(fns['key-access'].fn, deliver)],
    });
  }
}
