/**
 * AuditSink: every key operation (create, rotate, activate, deprecate, revoke, destroy, escrow,
 * sweep) is recorded as an audit event: who, what, which keyring and version, why. Events carry
 * identifiers and reasons only, never key material or plaintext.
 */

/** One audit event. */
export interface AuditEvent {
  /** ISO-8601 time of the operation. */
  readonly at: string;
  /** Who did it: an IAM principal, `cli:<user>`, or `scheduler`. */
  readonly actor: string;
  /** What was done, e.g. `version.activated`, `version.revoked`, `sweep.completed`. */
  readonly action: string;
  readonly keyring: string;
  readonly version?: number;
  /** Why (policy due, operator reason, security event id). */
  readonly reason?: string;
  /** Small, non-secret extra facts (counts, states). */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Present (true) when the event was written at a simulated time (`--now`, `tick --at`): `at`
   * is then the simulated time and {@link AuditEvent.recordedAt} the real one.
   */
  readonly simulated?: true;
  /** ISO-8601 real time the event was written, for simulated events. */
  readonly recordedAt?: string;
}

/** Port to an append-only audit trail. */
export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
}
