/**
 * An AuditSink that writes audit events to the structured log (CloudWatch Logs on Lambda,
 * stderr for the CLI), redacted like every other log line.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AuditEvent, AuditSink } from '../../ports/audit-sink';
import { sanitizeAuditEvent } from './sanitize-audit-event';

/**
 * Records each audit event as one `audit` log line.
 *
 * @example
 * const audit = new LoggerAuditSink(createLogger({ serviceName: 'rotate' }));
 * await audit.record({ at: new Date().toISOString(), actor: 'scheduler', action: 'version.created', keyring: 'k', version: 2 });
 */
export class LoggerAuditSink implements AuditSink {
  public constructor(private readonly logger: Pick<Logger, 'info'>) {}

  public async record(event: AuditEvent): Promise<void> {
    this.logger.info('audit', { audit: sanitizeAuditEvent(event) });
  }
}
