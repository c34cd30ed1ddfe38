/**
 * The log of the key-access function: one JSON object per line, `{ message, ...fields }`,
 * routine lines on stdout and failures on stderr. Kept as it was before the function joined the
 * handler kit, so the log lines operators and alarms read stay the same.
 */
import type { JobContext } from '../../shared/usecases/context';

/** The logger a use case writes to. */
type JobLogger = JobContext<unknown>['logger'];

function line(message: string, fields: Record<string, unknown>[]): string {
  return JSON.stringify(Object.assign({ message }, ...fields));
}

/**
 * A JobLogger writing JSON lines through the console.
 *
 * @example
 * jsonLineLogger.error('key access failed', { error: { code: 'VALIDATION' } }); // stderr: {"message":"key access failed","error":{"code":"VALIDATION"}}
 */
export const jsonLineLogger: JobLogger = {
  info: (message, ...fields) => console.log(line(message, fields)),
  warn: (message, ...fields) => console.error(line(message, fields)),
  error: (message, ...fields) => console.error(line(message, fields)),
};
