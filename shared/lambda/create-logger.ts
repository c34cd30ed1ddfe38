/**
 * The Powertools Logger every rekey function uses, with the redaction guard installed as its
 * JSON replacer, so a secret that slips into a log call is replaced before it is written.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { redactingReplacer } from '../vocabulary/redact';

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  /** Service name on every line (the function's name). */
  readonly serviceName: string;
  /** @default 'INFO' (Powertools also honours POWERTOOLS_LOG_LEVEL) */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
}

/**
 * Creates a structured JSON logger with the redaction guard.
 *
 * @example
 * const logger = createLogger({ serviceName: 'rotate' });
 * logger.info('rotated', { keyring: 'payments', version: 3 });
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  return new Logger({
    serviceName: options.serviceName,
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    jsonReplacerFn: redactingReplacer,
  });
}
