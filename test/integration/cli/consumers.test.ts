import { TestHome, T0, at, expectFailure } from './support/test-home';

const ORDERS = 'arn:aws:iam::111122223333:role/teams/orders';
const BILLING = 'arn:aws:iam::111122223333:role/billing';
const NOW = new Date(T0).toISOString();

interface ChangeJson { keyring: string; principalArn: string; outcome: string; changed: boolean; access: string | null; consumers: number; grants: string }
interface ListJson { keyrings: Array<{ keyring: string; consumers: Array<{ principalArn: string; access: string; addedAt: string; addedBy: string }> }> }

/** The first stderr line (main adds an "acted on" line after a change). */
function firstLine(stderr: string): string {
  return stderr.split('\n')[0] ?? '';
}

describe('rekey consumers add / remove / list (local mode)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome();
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    await home.ok(['keyring', 'create', 'ops'], { now: NOW });
  });
  afterEach(() => {
    home.remove();
  });

  it('registers a role, says local mode enforces no KMS grants, names the home and audits the change', async () => {
    // Act
    const r = await home.ok(['consumers', 'add', 'pii', ORDERS, '--decrypt-only'], { now: at(1) });
    // Assess
    expect(firstLine(r.stderr)).toBe(`registered ${ORDERS} on keyring pii (decrypt); local mode enforces no KMS grants: the registry is kept and listed only`);
    expect(r.stderr).toContain(`rekey: acted on local home ${home.dir}`);
    expect(home.auditEvents().filter((e) => String(e.action).startsWith('consumer.'))).toEqual([
      expect.objectContaining({ action: 'consumer.added', keyring: 'pii', at: at(1), details: { principalArn: ORDERS, access: 'decrypt', consumers: 1 } }),
    ]);
  });

  it('is idempotent, changes the access on a second add with another access, and prints stable JSON', async () => {
    // Act
    const first = await home.json<ChangeJson>(['consumers', 'add', 'pii', ORDERS, '--json'], { now: at(1) });
    const same = await home.json<ChangeJson>(['consumers', 'add', 'pii', ORDERS, '--json'], { now: at(2) });
    const narrowed = await home.json<ChangeJson>(['consumers', 'add', 'pii', ORDERS, '--decrypt-only', '--json'], { now: at(3) });
    // Assess
    expect(first).toEqual({ keyring: 'pii', principalArn: ORDERS, outcome: 'added', changed: true, access: 'encrypt-decrypt', consumers: 1, grants: 'none (local mode)' });
    expect(same).toMatchObject({ outcome: 'unchanged', changed: false, access: 'encrypt-decrypt' });
    expect(narrowed).toMatchObject({ outcome: 'updated', changed: true, access: 'decrypt', consumers: 1 });
    expect(home.auditEvents().filter((e) => String(e.action).startsWith('consumer.')).map((e) => e.action)).toEqual(['consumer.added', 'consumer.access-changed']);
  });

  it('lists one keyring or all, as text and JSON', async () => {
    // Prepare
    await home.ok(['consumers', 'add', 'pii', ORDERS], { now: at(1) });
    await home.ok(['consumers', 'add', 'pii', BILLING, '--decrypt-only'], { now: at(1) });
    // Act
    const text = await home.ok(['consumers', 'list', 'pii']);
    const all = await home.json<ListJson>(['consumers', 'list', '--json']);
    const none = await home.ok(['consumers', 'list', 'ops']);
    // Assess
    const rows = text.stdout.toString('utf8').trim().split('\n').map((l) => l.split('\t').slice(0, 3));
    expect(rows).toEqual([
      ['pii', 'encrypt-decrypt', ORDERS],
      ['pii', 'decrypt', BILLING],
    ]);
    expect(all.keyrings.map((k) => [k.keyring, k.consumers.length])).toEqual([
      ['ops', 0],
      ['pii', 2],
    ]);
    expect(all.keyrings[1]?.consumers[0]).toEqual({ principalArn: ORDERS, access: 'encrypt-decrypt', addedAt: at(1), addedBy: expect.stringMatching(/^cli:/) as unknown });
    expect(none.stdout.length).toBe(0);
    expect(none.stderr).toBe('no consumers registered on keyring ops\n');
  });

  it('removes a consumer once; a second remove says it is not registered', async () => {
    // Prepare
    await home.ok(['consumers', 'add', 'pii', ORDERS], { now: at(1) });
    // Act
    const removed = await home.ok(['consumers', 'remove', 'pii', ORDERS], { now: at(2) });
    const again = await home.ok(['consumers', 'remove', 'pii', ORDERS], { now: at(3) });
    // Assess
    expect(firstLine(removed.stderr)).toBe(`removed ${ORDERS} on keyring pii; local mode enforces no KMS grants: the registry is kept and listed only`);
    expect(firstLine(again.stderr)).toBe(`unchanged: ${ORDERS} on keyring pii is not registered`);
    expect((await home.json<ListJson>(['consumers', 'list', 'pii', '--json'])).keyrings[0]?.consumers).toEqual([]);
    expect(home.auditEvents().filter((e) => e.action === 'consumer.removed')).toHaveLength(1);
  });

  it.each<[string, string[], number, RegExp]>([
    ['a user ARN', ['consumers', 'add', 'pii', 'arn:aws:iam::111122223333:user/alice'], 2, /is not an IAM role ARN/],
    ['a wildcard role', ['consumers', 'add', 'pii', 'arn:aws:iam::111122223333:role/*'], 2, /is not an IAM role ARN/],
    ['an unknown keyring', ['consumers', 'add', 'payments', ORDERS], 4, /payments/],
    ['a missing role', ['consumers', 'add', 'pii'], 2, /missing required argument/],
  ])('refuses %s with exit %i and changes nothing', async (_what, args, code, pattern) => {
    // Prepare
    const before = await home.snapshot();
    // Act
    const r = await home.run(args);
    // Assess
    expectFailure(r, code, pattern);
    expect(await home.snapshot()).toBe(before);
  });

  it('bounds registrations by REKEY_CONSUMER_ACCOUNTS when it is set', async () => {
    // Act
    const r = await home.run(['consumers', 'add', 'pii', ORDERS], { env: { REKEY_CONSUMER_ACCOUNTS: '["444455556666"]' } });
    const inside = await home.run(['consumers', 'add', 'pii', ORDERS], { env: { REKEY_CONSUMER_ACCOUNTS: '["111122223333"]' } });
    // Assess
    expectFailure(r, 2, /outside the consumer accounts the stack was deployed with \(444455556666\)/);
    expect(inside.code).toBe(0);
  });

  it('is refused with --aws flags in local mode, and its paths are known to AWS mode', async () => {
    // Act
    const r = await home.run(['consumers', 'list', '--stack', 'Rekey']);
    // Assess
    expectFailure(r, 2, /--stack is AWS mode only/);
  });
});
