/** The shared tick schedule of the race tests: per round, the rotation time and the promotion time. */
export interface RaceSpec {
  readonly db: string;
  readonly audit: string;
  readonly keyring: string;
  /** ISO time of keyring creation. */
  readonly base: string;
  readonly rounds: number;
  /** Seconds between rounds; must equal rotateEvery + propagation of the policy. */
  readonly period: number;
  readonly propagation: number;
}

/** Every tick time of the schedule, in order, ending with a settling tick at the last time. */
export function raceSchedule(spec: RaceSpec): Date[] {
  const base = Date.parse(spec.base);
  const out: Date[] = [];
  for (let r = 1; r <= spec.rounds; r += 1) {
    const start = base + (r * spec.period - spec.propagation) * 1000;
    out.push(new Date(start), new Date(start + spec.propagation * 1000));
  }
  const last = out[out.length - 1];
  if (last !== undefined) out.push(last);
  return out;
}
