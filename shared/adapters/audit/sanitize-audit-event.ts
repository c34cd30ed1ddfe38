/**
 * Normalizes an audit event before it leaves the process: known fields only, bounded text,
 * secret-named or blob-like details dropped, so no sink can publish a secret by accident.
 */
import type { AuditEvent } from '../../ports/audit-sink';
import { REDACTED, redactingReplacer } from '../../vocabulary/redact';

const MAX_TEXT = 512;
const MAX_DETAILS = 32;

/**
 * Returns a plain, bounded, redacted copy of `event`.
 *
 * @example
 * sanitizeAuditEvent({ at, actor: 'scheduler', action: 'version.created', keyring: 'k', details: { token: 'x' } }).details; // {}
 */
export function sanitizeAuditEvent(event: AuditEvent): AuditEvent {
  const details: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(event.details ?? {}).slice(0, MAX_DETAILS)) {
    const kept = redactingReplacer(name, value);
    if (kept === REDACTED || (typeof kept !== 'string' && typeof kept !== 'number' && typeof kept !== 'boolean')) continue;
    details[name.slice(0, 64)] = typeof kept === 'string' ? kept.slice(0, MAX_TEXT) : kept;
  }
  const reason = event.reason === undefined ? undefined : redactingReplacer('reason', event.reason);
  return {
    at: event.at,
    actor: String(event.actor).slice(0, 256),
    action: String(event.action).slice(0, 128),
    keyring: String(event.keyring).slice(0, 128),
    ...(event.version === undefined ? {} : { version: event.version }),
    ...(typeof reason === 'string' ? { reason: reason.slice(0, MAX_TEXT) } : {}),
    ...(Object.keys(details).length === 0 ? {} : { details }),
  };
}
