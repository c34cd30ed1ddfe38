/**
 * `--context k=v` of the commands that move records (sweep, revoke): records put with an extra
 * context that is not stored in the envelope can only be decrypted (re-encrypted) when the
 * operator supplies it; the record id is always bound.
 */
import { recordContext } from '../shared/reencrypt';
import type { SweepOptions } from '../shared/reencrypt';

/**
 * The sweep's context resolver for `--context`, or nothing when the option was not given.
 *
 * @example
 * const tuning = { ...contextForRecords({ tenant: 'acme' }) };
 */
export function contextForRecords(extra: Record<string, string> | undefined): Pick<SweepOptions, 'contextFor'> {
  if (extra === undefined) return {};
  return { contextFor: (record, info) => info.storedContext ?? (info.contextBound ? recordContext(record.id, extra) : undefined) };
}
