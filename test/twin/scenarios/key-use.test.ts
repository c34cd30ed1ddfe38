/**
 * Observed key use on the deployed-stack twin. The stack of docs/deploy.md with an application
 * role for `pii`; a rotation makes version 2 active. The application then unwraps version 1's
 * key (an old copy of an envelope, as a backup restore would): KMS Decrypt → CloudTrail → the
 * default bus (a read-only management event, received only by a rule in state
 * ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS) → the key-use rule → the key-use function → the
 * last use of version 1 in the state bucket, by the application's role session. The grace-period
 * tick then keeps version 1 readable while it was used within the quiet period (7 days by
 * default) although no record references it, and disables it once the quiet period passed in
 * silence. Nothing is denied along the way.
 */
import { S3KeyUseLog } from '../../../shared/adapters/aws/s3-key-use-log';
import { isoSeconds } from '../drivers/types';
import { standUpRevocation, type RevocationWorld } from './revocation-setup';

jest.setTimeout(900_000);

const DAY = 86_400_000;

describe('observed key use keeps a used version readable (CloudTrail → key-use → grace-period)', () => {
  let w: RevocationWorld;
  let t0 = 0;
  let log: S3KeyUseLog;
  const stateOf = async (v: number): Promise<string | undefined> => (await w.catalog()).versions.find((x) => x.version === v)?.state;
  /** Daily coalesced steps (every schedule once a day) up to `to`. */
  const walkTo = async (to: number): Promise<void> => {
    while (w.twin.clock.now() < to) await w.twin.advanceTo(Math.min(to, w.twin.clock.now() + DAY), { coalesce: true });
  };

  beforeAll(async () => {
    w = await standUpRevocation();
    log = new S3KeyUseLog({ client: w.admin.s3, bucket: w.twin.world.outputs.CatalogBucket ?? '' });
    const rotated = await w.twin.cli(['rotate', 'pii', '--reason', 'scheduled drill'], w.operator);
    expect(rotated.code).toBe(0);
    // pii's propagation is 15 min: the next grace-period run activates version 2.
    await w.twin.advance(20 * 60_000);
    t0 = w.twin.clock.now();
  });
  afterAll(async () => {
    await w?.close();
  });

  it('starts from v1 rotating, v2 active', async () => {
    expect((await w.catalog()).versions.map((v) => [v.version, v.state])).toEqual([[1, 'rotating'], [2, 'active']]);
  });

  it("records the application's unwrap of v1 as v1's last use, by its role session", async () => {
    // Act
    const at = w.twin.clock.now();
    await w.unwrapAsApp(1);
    await w.twin.settle();
    // Assess
    const decrypts = w.twin.cloudTrail.records.filter((r) => r.eventName === 'Decrypt' && r.userIdentity['arn'] === `arn:aws:sts::${w.twin.world.account}:assumed-role/${w.appRole.name}/${w.appRole.name}`);
    expect(decrypts.map((r) => [r.errorCode, r.requestParameters?.['encryptionContext']])).toEqual([[undefined, { keyring: 'pii', version: '1' }]]);
    const delivered = w.twin.bus.deliveries.filter((d) => d.targetArn === w.twin.fn('key-use').arn);
    expect(delivered.length).toBeGreaterThan(0);
    expect(delivered.every((d) => d.outcome === 'delivered')).toBe(true);
    expect((await log.lastUse('pii')).get(1)).toEqual({ at: new Date(isoSeconds(at)), by: `arn:aws:sts::${w.twin.world.account}:assumed-role/${w.appRole.name}/${w.appRole.name}` });
  });

  it('keeps v1 out of disabled while it was used within the quiet period, with no record left on it', async () => {
    // Prepare: past the grace period (7 d), the application unwraps v1 again on day 6
    await walkTo(t0 + 6 * DAY);
    await w.unwrapAsApp(1);
    await w.twin.settle();
    // Act: four days later (quiet period: 7 d from day 6)
    await walkTo(t0 + 10 * DAY);
    // Assess
    expect((await log.lastUse('pii')).get(1)?.at.getTime()).toBeGreaterThanOrEqual(t0 + 6 * DAY - 1000);
    expect(await stateOf(1)).toBe('deprecated');
  });

  it('disables v1 once the quiet period passed in silence', async () => {
    // Act
    await walkTo(t0 + 14 * DAY);
    // Assess
    expect(await stateOf(1)).toBe('disabled');
    expect(await stateOf(2)).toBe('active');
  });

  it('denied nothing, and no background work failed', () => {
    expect(w.twin.deniedRequests().map((d) => `${d.caller} ${d.action} ${d.resources.join(',')}: ${d.reason ?? ''}`)).toEqual([]);
    expect(w.twin.backgroundErrors).toEqual([]);
    const failures = w.twin.runtime.invocationLogs.filter((l) => l.functionName === w.twin.fn('key-use').name && l.logs.some((x) => /"level":"ERROR"/.test(x.text)));
    expect(failures).toEqual([]);
  });
});
