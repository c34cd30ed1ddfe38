/**
 * The facts `rekey --aws plan` plans on under an operator role, which may read the catalog, the
 * key-use log and the ledger but not list the application teams' record buckets
 * (docs/deploy.md, operator roles): the record targets are reported as not counted, so the plan
 * never shows a disable or destroy that a count could refute (the lifecycle's own rule for an
 * uncounted source), and says why. `--count-records` plans on real counts instead.
 */
import type { KeyVersion } from '../../shared/catalog/model';
import type { FactsSource, ReferenceCounts } from '../../shared/ports/facts-source';

/** What the plan names as not counted. */
export const UNCOUNTED_RECORD_TARGETS = 'record targets (not listed by default: pass --count-records)';

/**
 * A FactsSource for planning without listing record targets.
 *
 * @example
 * const keyrings = buildAwsCore(ctx.config, { clients }).keyringsWith(new OperatorPlanFacts());
 */
export class OperatorPlanFacts implements FactsSource {
  public referenceCounts(_keyring: string): Promise<ReferenceCounts> {
    return Promise.resolve({ records: new Map<number, number>(), uncounted: [UNCOUNTED_RECORD_TARGETS] });
  }

  /** The drill's stamp in the catalog (the escrow function writes it after a verified restore). */
  public escrowVerified(_keyring: string, _version: number, recorded: KeyVersion): Promise<boolean> {
    return Promise.resolve(recorded.escrowVerifiedAt !== undefined);
  }
}
