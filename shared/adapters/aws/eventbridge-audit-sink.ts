/**
 * An AuditSink that publishes each audit event to an EventBridge bus (source
 * {@link AUDIT_EVENT_SOURCE}, `rekey.audit`; the stack's audit archive matches the same constant),
 * so that security tooling can subscribe with rules. Events are sanitized first: identifiers,
 * reasons and small counts only, never key material.
 */
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { BackendError } from '../../errors';
import { AUDIT_EVENT_DETAIL_TYPE, AUDIT_EVENT_SOURCE } from '../../vocabulary/event-names';
import type { AuditEvent, AuditSink } from '../../ports/audit-sink';
import { mapAwsError } from './map-aws-error';
import { sanitizeAuditEvent } from '../audit/sanitize-audit-event';

/** Options of {@link EventBridgeAuditSink}. */
export interface EventBridgeAuditSinkOptions {
  readonly client: EventBridgeClient;
  /** Bus name or ARN. */
  readonly eventBusName: string;
  /** @default AUDIT_EVENT_SOURCE ('rekey.audit') */
  readonly source?: string;
  /** @default AUDIT_EVENT_DETAIL_TYPE ('Rekey Audit Event') */
  readonly detailType?: string;
}

/**
 * Publishes audit events with PutEvents; a rejected entry is a retryable BackendError.
 *
 * @example
 * const audit = new EventBridgeAuditSink({ client: new EventBridgeClient({}), eventBusName: 'rekey-audit' });
 * await audit.record({ at: new Date().toISOString(), actor: 'scheduler', action: 'version.activated', keyring: 'k', version: 2 });
 */
export class EventBridgeAuditSink implements AuditSink {
  /** The event source of every audit event. */
  public static readonly SOURCE = AUDIT_EVENT_SOURCE;
  /** The detail-type of every audit event. */
  public static readonly DETAIL_TYPE = AUDIT_EVENT_DETAIL_TYPE;

  private readonly options: Required<EventBridgeAuditSinkOptions>;

  public constructor(options: EventBridgeAuditSinkOptions) {
    this.options = { source: EventBridgeAuditSink.SOURCE, detailType: EventBridgeAuditSink.DETAIL_TYPE, ...options };
  }

  public async record(event: AuditEvent): Promise<void> {
    const detail = sanitizeAuditEvent(event);
    const time = new Date(detail.at);
    try {
      const out = await this.options.client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.options.eventBusName,
              Source: this.options.source,
              DetailType: this.options.detailType,
              Detail: JSON.stringify(detail),
              Resources: [],
              ...(Number.isNaN(time.getTime()) ? {} : { Time: time }),
            },
          ],
        }),
      );
      if ((out.FailedEntryCount ?? 0) > 0) {
        const code = out.Entries?.[0]?.ErrorCode ?? 'unknown';
        throw new BackendError(`events:PutEvents rejected the audit event (${code})`);
      }
    } catch (err) {
      throw mapAwsError(err, 'events:PutEvents');
    }
  }
}
