/**
 * Whether a version is moving on as it should: its next transition with its instant, OVERDUE
 * when that instant has passed by more than a tick interval and no tick applied it (the
 * scheduler is not running, or a tick keeps failing), STUCK when a fact holds it back that
 * waiting alone will not clear (references until a sweep, an escrow copy until a drill, a
 * breaker or a freeze until an operator acts). Pure; `status` and `plan` both read it, so the
 * two never disagree.
 */
import type { OutlookHold, VersionOutlook } from '../catalog/version-outlook';

/**
 * The longest a due transition may wait for a tick before it counts as overdue: the slowest
 * default schedule of the deployed reconcilers (the rotation check runs hourly, the grace-period
 * reconciler every 15 minutes; infra/props.ts).
 */
export const DEFAULT_TICK_INTERVAL_SECONDS = 3600;

/** One hold as `status --json` and `plan --json` print it. */
export interface HoldView {
  readonly kind: OutlookHold['kind'];
  /** False: waiting alone never clears it (the version is stuck until someone acts). */
  readonly clearsWithTime: boolean;
  /** ISO instant the hold ends on current facts, for holds that end by time. */
  readonly until?: string;
  /** The figure behind the hold (references counted), when it has one. */
  readonly count?: number;
  readonly text: string;
}

/** The progress of one version. */
export interface VersionProgress {
  /** The next transition's instant has passed by more than a tick interval and it was not applied. */
  readonly overdue: boolean;
  /** A hold that time alone does not clear keeps the next transition back. */
  readonly stuck: boolean;
  readonly holds: readonly HoldView[];
}

/**
 * The progress of a version from its outlook.
 *
 * @example
 * progressOf(outlook, now).stuck; // true while 1,204 records are still under the version
 */
export function progressOf(outlook: VersionOutlook, now: Date, tickIntervalSeconds = DEFAULT_TICK_INTERVAL_SECONDS): VersionProgress {
  const overdue = outlook.next !== undefined && outlook.dueAt !== undefined && now.getTime() - outlook.dueAt.getTime() > tickIntervalSeconds * 1000;
  const holds = outlook.holds.map(holdView);
  return { overdue, stuck: outlook.next !== undefined && holds.some((h) => !h.clearsWithTime), holds };
}

function holdView(h: OutlookHold): HoldView {
  return {
    kind: h.kind,
    clearsWithTime: h.clearsWithTime,
    ...(h.until === undefined ? {} : { until: h.until.toISOString() }),
    ...(h.count === undefined ? {} : { count: h.count }),
    text: h.text,
  };
}
