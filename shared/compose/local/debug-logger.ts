/**
 * The use cases' logger in the CLI. stdout carries a command's data and stderr its one-line
 * outcome, so the use cases' structured log is kept off both unless REKEY_DEBUG=1 asks for it,
 * in which case each line goes to stderr as JSON.
 */
import type { JobLogger, LogFields } from '../../ports/job-logger';

/**
 * A JobLogger that writes JSON lines to stderr when enabled, and nothing otherwise.
 *
 * @example
 * const logger = new DebugLogger(process.env.REKEY_DEBUG === '1');
 * logger.warn('version not escrowed', { keyring: 'pii', version: 1 });
 */
export class DebugLogger implements JobLogger {
  public constructor(private readonly enabled: boolean) {}

  public info(message: string, ...fields: LogFields[]): void {
    this.write('INFO', message, fields);
  }

  public warn(message: string, ...fields: LogFields[]): void {
    this.write('WARN', message, fields);
  }

  public error(message: string, ...fields: LogFields[]): void {
    this.write('ERROR', message, fields);
  }

  private write(level: string, message: string, fields: readonly LogFields[]): void {
    if (!this.enabled) return;
    process.stderr.write(`${JSON.stringify(Object.assign({ level, message }, ...fields))}\n`);
  }
}
