/**
 * The CLI promises one line on failure. The AWS SDK emits a multi-line NodeVersionSupportWarning
 * on Node 20 at load time; it says nothing about this run, so the CLI drops that one warning
 * type and lets every other warning through.
 */
const original = process.emitWarning.bind(process);

/** Installs the filter (idempotent). */
export function quietSdkNodeVersionWarning(): void {
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const first = rest[0];
    const type = typeof first === 'string' ? first : (first as { type?: string } | undefined)?.type;
    const text = warning instanceof Error ? warning.name : warning;
    // The SDK passes the type inside the message text ("NodeVersionSupportWarning: ...").
    if (type === 'NodeVersionSupportWarning' || text.startsWith('NodeVersionSupportWarning')) return;
    (original as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}
