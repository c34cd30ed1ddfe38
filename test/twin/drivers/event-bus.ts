/**
 * EventBridge event buses, rules and archives on the twin.
 * - PutEvents ("Sending events with PutEvents", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html;
 *   API_PutEvents / API_PutEventsResultEntry): entries are processed in order, the response has one
 *   entry per request entry ({EventId} or {ErrorCode, ErrorMessage}) and FailedEntryCount; at most
 *   10 entries. Per-entry validation messages are moto's (moto/events/models.py put_events), which
 *   mirror AWS's: InvalidArgument for a missing Source / DetailType / Detail, MalformedDetail for
 *   Detail that is not a JSON object.
 * - Delivery to an SNS topic target needs the topic policy to allow events.amazonaws.com
 *   sns:Publish (aws:SourceArn = the rule ARN, aws:SourceAccount) and, for an SSE-KMS topic, the
 *   key policy to allow it kms:GenerateDataKey* / kms:Decrypt (eb-use-resource-based.html#eb-sns-permissions).
 * - Delivery to a Lambda target needs the function's resource-based policy to allow
 *   events.amazonaws.com, with aws:SourceArn = the rule ARN and aws:SourceAccount.
 * - Retries and DLQ ("Event retry policy and using dead-letter queues", eb-rule-dlq.html): by default
 *   24 hours and up to 185 attempts; errors from missing permissions or a missing target go to
 *   the DLQ without retries; the DLQ (sent as events.amazonaws.com, which the queue policy must
 *   allow with aws:SourceArn = the rule ARN) receives the event with attributes RULE_ARN, TARGET_ARN,
 *   ERROR_CODE, ERROR_MESSAGE, RETRY_ATTEMPTS (and EXHAUSTED_RETRY_CONDITION after retries).
 * Simplification: retries are immediate (no simulated back-off), so MaximumEventAgeInSeconds never ends them.
 */
import { randomUUID } from 'node:crypto';
import type { RequestAuthorizer, TwinPrincipal } from '../authz/types';
import type { SimClock, TwinRule, TwinRuleTarget, TwinWorld } from '../world';
import { matchesPattern, type EventPattern } from './event-pattern';
import { arnService, DeniedError, errorOf, isoSeconds, type DeliveryError, type DeliveryOutcome, type EventEnvelope, type TargetInvoker } from './types';

/** One PutEvents request entry (API_PutEventsRequestEntry). */
export interface PutEventsRequestEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  /** A JSON object, as a string. */
  readonly Detail?: string;
  /** Bus name or ARN; `default` when absent. */
  readonly EventBusName?: string;
  readonly Resources?: readonly string[];
  /** A number is epoch seconds, as the JSON wire format carries it. */
  readonly Time?: Date | string | number;
}

/** One PutEvents response entry (API_PutEventsResultEntry). */
export type PutEventsResultEntry = { readonly EventId: string } | { readonly ErrorCode: string; readonly ErrorMessage: string };

/** The PutEvents response. */
export interface PutEventsResponse {
  readonly FailedEntryCount: number;
  readonly Entries: readonly PutEventsResultEntry[];
}

/** An archive (AWS::Events::Archive): which bus, which events. */
export interface ArchiveSpec {
  readonly name: string;
  readonly busName: string;
  /** Empty or absent: every event of the bus. */
  readonly pattern?: EventPattern;
}

/** What happened to one event at one rule target. */
export interface RuleDelivery {
  readonly rule: string;
  readonly ruleArn: string;
  readonly targetId: string;
  readonly targetArn: string;
  readonly eventId: string;
  readonly at: number;
  readonly attempts: number;
  readonly outcome: DeliveryOutcome;
  /** What the target received (Input verbatim, or the event). */
  readonly payload: unknown;
  readonly error?: DeliveryError;
  readonly deadLetterAttributes?: Readonly<Record<string, string>>;
}

/** Options of {@link TwinEventBus}. */
export interface TwinEventBusOptions {
  readonly world: TwinWorld;
  readonly clock: SimClock;
  readonly authorizer: RequestAuthorizer;
  readonly invoker: TargetInvoker;
  readonly archives?: readonly ArchiveSpec[];
}

/** EventBridge's documented default retry policy (eb-rule-dlq.html). */
export const DEFAULT_RULE_RETRY = { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86_400 } as const;

const EVENTS: TwinPrincipal = { kind: 'service', service: 'events.amazonaws.com' };

/**
 * Whether a rule in its State receives `event` ("Receiving read-only management events from AWS
 * services", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail-management.html):
 * DISABLED matches nothing; ENABLED matches everything except read-only AWS management events
 * delivered through CloudTrail (`detail.readOnly` true, `detail.managementEvent` true, e.g. KMS
 * Decrypt); ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS matches those too.
 */
export function receives(rule: Pick<TwinRule, 'state'>, event: EventEnvelope): boolean {
  if (rule.state === 'DISABLED') return false;
  if (rule.state === 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS') return true;
  const readOnlyManagement = event['detail-type'] === 'AWS API Call via CloudTrail' && event.detail['readOnly'] === true && event.detail['managementEvent'] === true;
  return !readOnlyManagement;
}

/** A denial the service treats as permanent: straight to the DLQ, no retries. */
class PermanentFailure extends DeniedError {}

/**
 * The twin's EventBridge.
 *
 * @example
 * const bus = new TwinEventBus({ world, clock, authorizer, invoker });
 * const res = await bus.putEvents([{ Source: 'rekey', DetailType: 'Key Version Compromised', Detail: '{"keyring":"pii"}', EventBusName: 'rekey' }], callerArn);
 */
export class TwinEventBus {
  /** Every target delivery so far. */
  public readonly deliveries: RuleDelivery[] = [];
  private readonly archive = new Map<string, EventEnvelope[]>();

  public constructor(private readonly opts: TwinEventBusOptions) {
    for (const a of opts.archives ?? []) this.archive.set(a.name, []);
  }

  /** PutEvents; `callerArn` is recorded only (the proxy authorized events:PutEvents already). */
  public async putEvents(entries: readonly PutEventsRequestEntry[], callerArn: string): Promise<PutEventsResponse> {
    void callerArn;
    if (entries.length < 1 || entries.length > 10) {
      throw new DeniedError('ValidationException', "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1");
    }
    const results: PutEventsResultEntry[] = [];
    for (const entry of entries) {
      const checked = this.validate(entry);
      if ('ErrorCode' in checked) {
        results.push(checked);
        continue;
      }
      results.push({ EventId: checked.event.id });
      await this.dispatch(checked.event, checked.busName);
    }
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  /** Sends an already-built event (an AWS service event, e.g. S3's) to the rules of `busName`. */
  public async dispatch(event: EventEnvelope, busName: string): Promise<RuleDelivery[]> {
    for (const a of this.opts.archives ?? []) {
      if (a.busName !== busName || !matchesPattern(a.pattern ?? {}, event)) continue;
      // Archives may be declared after construction (the stand-up records them while it runs).
      const kept = this.archive.get(a.name) ?? [];
      kept.push(event);
      this.archive.set(a.name, kept);
    }
    const out: RuleDelivery[] = [];
    for (const rule of this.opts.world.rules.values()) {
      if (rule.busName !== busName || !receives(rule, event) || !matchesPattern(rule.pattern, event)) continue;
      for (const target of rule.targets) {
        const delivery = await this.deliver(rule, target, event);
        out.push(delivery);
        this.deliveries.push(delivery);
      }
    }
    return out;
  }

  /** The events an archive kept, in arrival order. */
  public archived(name: string): readonly EventEnvelope[] {
    if (!(this.opts.archives ?? []).some((a) => a.name === name)) throw new RangeError(`no archive ${name}`);
    return this.archive.get(name) ?? [];
  }

  /** The bus name an EventBusName (name or ARN) refers to. */
  public static busNameOf(nameOrArn: string | undefined): string {
    if (nameOrArn === undefined || nameOrArn === '') return 'default';
    return nameOrArn.startsWith('arn:') ? (nameOrArn.split('event-bus/')[1] ?? '') : nameOrArn;
  }

  private validate(entry: PutEventsRequestEntry): { event: EventEnvelope; busName: string } | { ErrorCode: string; ErrorMessage: string } {
    if (!entry.Source) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.' };
    if (!entry.DetailType) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.' };
    if (!entry.Detail) return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter Detail is not valid. Reason: Detail is a required argument.' };
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail);
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    const busName = TwinEventBus.busNameOf(entry.EventBusName);
    if (busName !== 'default' && !this.opts.world.buses.has(busName)) {
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${busName} does not exist.` };
    }
    const w = this.opts.world;
    // awsJson1_1 sends a timestamp as epoch *seconds* by default (Smithy, "AWS JSON 1.1 protocol",
    // timestamp serialization; @aws-sdk/client-eventbridge's PutEventsRequestEntry schema types Time as a default timestamp).
    const time = entry.Time === undefined ? this.opts.clock.now() : typeof entry.Time === 'number' ? entry.Time * 1000 : new Date(entry.Time).getTime();
    const event: EventEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: w.account,
      time: isoSeconds(time),
      region: w.region,
      resources: [...(entry.Resources ?? [])],
      detail: detail as Record<string, unknown>,
    };
    return { event, busName };
  }

  private payloadFor(target: TwinRuleTarget, event: EventEnvelope): unknown {
    if (target.input === undefined) return event;
    try {
      return JSON.parse(target.input) as unknown;
    } catch {
      return target.input;
    }
  }

  private async deliver(rule: TwinRule, target: TwinRuleTarget, event: EventEnvelope): Promise<RuleDelivery> {
    const payload = this.payloadFor(target, event);
    const retry = { ...DEFAULT_RULE_RETRY, ...target.retry };
    const maxAttempts = 1 + Math.max(0, retry.maximumRetryAttempts);
    let attempts = 0;
    let error: DeliveryError | undefined;
    let permanent = false;
    while (attempts < maxAttempts) {
      attempts++;
      try {
        await this.callTarget(rule, target, payload);
        return { rule: rule.name, ruleArn: rule.arn, targetId: target.id, targetArn: target.arn, eventId: event.id, at: this.opts.clock.now(), attempts, outcome: 'delivered', payload };
      } catch (err) {
        error = errorOf(err);
        if (err instanceof PermanentFailure) {
          permanent = true;
          break;
        }
      }
    }
    const failure = error ?? { code: 'InternalFailure', message: 'no attempt was made' };
    const base = { rule: rule.name, ruleArn: rule.arn, targetId: target.id, targetArn: target.arn, eventId: event.id, at: this.opts.clock.now(), attempts, payload, error: failure };
    if (target.deadLetterArn === undefined) return { ...base, outcome: 'dropped' };
    const attributes: Record<string, string> = {
      RULE_ARN: rule.arn,
      TARGET_ARN: target.arn,
      ERROR_CODE: failure.code,
      ERROR_MESSAGE: failure.message,
      RETRY_ATTEMPTS: String(attempts - 1),
      ...(permanent ? {} : { EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts' }),
    };
    const decision = await this.opts.authorizer.authorize({
      principal: EVENTS,
      action: 'sqs:SendMessage',
      resource: target.deadLetterArn,
      context: { 'aws:SourceArn': rule.arn, 'aws:SourceAccount': this.opts.world.account },
    });
    if (!decision.allowed) return { ...base, outcome: 'dlq-failed', deadLetterAttributes: attributes };
    try {
      await this.opts.invoker.sendToQueue(target.deadLetterArn, JSON.stringify(event), attributes);
      return { ...base, outcome: 'dead-lettered', deadLetterAttributes: attributes };
    } catch {
      return { ...base, outcome: 'dlq-failed', deadLetterAttributes: attributes };
    }
  }

  private async callTarget(rule: TwinRule, target: TwinRuleTarget, payload: unknown): Promise<void> {
    const { authorizer, invoker, world } = this.opts;
    const service = arnService(target.arn);
    const context = { 'aws:SourceArn': rule.arn, 'aws:SourceAccount': world.account };
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    if (service === 'lambda') {
      if (world.fn(target.arn) === undefined) throw new PermanentFailure('ResourceNotFoundException', `Function not found: ${target.arn}`);
      const d = await authorizer.authorize({ principal: EVENTS, action: 'lambda:InvokeFunction', resource: target.arn, context });
      if (!d.allowed) throw new PermanentFailure('AccessDeniedException', `events.amazonaws.com is not authorized to perform lambda:InvokeFunction on ${target.arn}: ${d.reason}`);
      await invoker.invokeLambdaAsync(target.arn, payload);
      return;
    }
    if (service === 'sqs') {
      const d = await authorizer.authorize({ principal: EVENTS, action: 'sqs:SendMessage', resource: target.arn, context });
      if (!d.allowed) throw new PermanentFailure('AccessDenied', `events.amazonaws.com is not authorized to perform sqs:SendMessage on ${target.arn}: ${d.reason}`);
      await invoker.sendToQueue(target.arn, body);
      return;
    }
    if (service === 'states') {
      if (target.roleArn === undefined) throw new PermanentFailure('ValidationException', 'a state machine target needs a RoleArn');
      const assume = await authorizer.authorize({ principal: EVENTS, action: 'sts:AssumeRole', resource: target.roleArn, context });
      if (!assume.allowed) throw new PermanentFailure('AccessDenied', `events.amazonaws.com cannot assume ${target.roleArn}: ${assume.reason}`);
      const d = await authorizer.authorize({ principal: { kind: 'role', arn: target.roleArn }, action: 'states:StartExecution', resource: target.arn });
      if (!d.allowed) throw new PermanentFailure('AccessDeniedException', `${target.roleArn} is not authorized to perform states:StartExecution on ${target.arn}: ${d.reason}`);
      await invoker.startExecution(target.arn, body);
      return;
    }
    if (service === 'sns') {
      // "Amazon SNS permissions" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions):
      // the topic policy must allow events.amazonaws.com sns:Publish (scoped by aws:SourceArn, the
      // rule ARN, and aws:SourceAccount); an SSE-KMS topic also needs the key policy to let
      // events.amazonaws.com use the key (kms:GenerateDataKey* and kms:Decrypt, as for every AWS
      // service publishing to an encrypted topic: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
      // The message is the event JSON (or the target's Input), without a subject.
      // Missing permissions are not retried (eb-rule-dlq.html): a PermanentFailure.
      // EventBridge calls SNS over TLS: a topic policy denying aws:SecureTransport false lets it through.
      const snsContext = { ...context, 'aws:SecureTransport': true };
      const d = await authorizer.authorize({ principal: EVENTS, action: 'sns:Publish', resource: target.arn, context: snsContext });
      if (!d.allowed) throw new PermanentFailure('AuthorizationError', `events.amazonaws.com is not authorized to perform sns:Publish on ${target.arn}: ${d.reason}`);
      const topic = [...world.topics.values()].find((x) => x.arn === target.arn);
      if (topic?.kmsKeyArn !== undefined) {
        const keyArn = world.key(topic.kmsKeyArn)?.arn ?? topic.kmsKeyArn;
        for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
          const k = await authorizer.authorize({ principal: EVENTS, action, resource: keyArn, context: { ...snsContext, 'kms:EncryptionContext:aws:sns:topicArn': target.arn } });
          if (!k.allowed) throw new PermanentFailure('KMSAccessDeniedException', `events.amazonaws.com is not authorized to perform ${action} on ${keyArn} (the key of ${target.arn}): ${k.reason}`);
        }
      }
      await invoker.publish(target.arn, undefined, body);
      return;
    }
    throw new PermanentFailure('ValidationException', `the twin's EventBridge has no target type for ${target.arn}`);
  }
}
