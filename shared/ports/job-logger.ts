/**
 * JobLogger: the structured log a use case writes to. On Lambda it is the Powertools logger
 * (JSON lines in CloudWatch Logs); the CLI's writes to stderr only when asked (REKEY_DEBUG=1),
 * so stdout carries data alone and stderr keeps its one-line contract.
 */

/** Structured fields of one log line. */
export type LogFields = Record<string, unknown>;

/**
 * Port to a structured logger (the subset of Powertools' Logger that use cases call; the fields
 * are a rest parameter so that Logger itself satisfies it).
 */
export interface JobLogger {
  /** Logs a routine step. */
  info(message: string, ...fields: LogFields[]): void;
  /** Logs something an operator should look at. */
  warn(message: string, ...fields: LogFields[]): void;
  /** Logs a failure. */
  error(message: string, ...fields: LogFields[]): void;
}
