/**
 * An AuditSink that records each event in several sinks (the EventBridge bus and the log).
 */
import type { AuditEvent, AuditSink } from '../../ports/audit-sink';

/**
 * Records to every sink; all are attempted, and the first failure is rethrown afterwards so
 * that the operation's caller learns that the trail is incomplete.
 *
 * @example
 * const audit = new CompositeAuditSink([new EventBridgeAuditSink(opts), new LoggerAuditSink(logger)]);
 */
export class CompositeAuditSink implements AuditSink {
  public constructor(private readonly sinks: readonly AuditSink[]) {}

  public async record(event: AuditEvent): Promise<void> {
    const results = await Promise.allSettled(this.sinks.map((s) => s.record(event)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }
}
