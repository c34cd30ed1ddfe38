import { TestHome, T0, at } from './support/test-home';

const NOW = new Date(T0).toISOString();

describe('rekey simulated times in the audit trail (local mode)', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome('rekey-simulated-');
  });
  afterEach(() => {
    home.remove();
  });

  it('marks events of a --now run simulated, with the real recordedAt beside the simulated at', async () => {
    // Prepare
    const before = Date.now();

    // Act
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    await home.ok(['freeze', 'pii', '--reason', 'INC-7'], { now: at(2) });
    const after = Date.now();

    // Assess
    const events = home.auditEvents();
    expect(events.map((e) => [e.action, e.at, e.simulated])).toEqual([
      ['keyring.created', NOW, true],
      ['keyring.frozen', at(2), true],
    ]);
    for (const e of events) {
      const recorded = Date.parse(String(e.recordedAt));
      expect(recorded >= before - 1000 && recorded <= after + 1000).toBe(true);
    }
  });

  it('leaves events of a real-time run unmarked', async () => {
    // Prepare
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });

    // Act
    await home.ok(['freeze', 'pii', '--reason', 'INC-8']);

    // Assess
    const frozen = home.auditEvents().find((e) => e.action === 'keyring.frozen');
    expect(frozen).toBeDefined();
    expect({ simulated: frozen?.simulated, recordedAt: frozen?.recordedAt }).toEqual({ simulated: undefined, recordedAt: undefined });
  });

  it('reads a relative --now from the real current time', async () => {
    // Prepare
    const before = Date.now();

    // Act
    await home.ok(['keyring', 'create', 'pii'], { now: '+8d' });

    // Assess
    const [created] = home.auditEvents();
    const offset = Date.parse(String(created?.at)) - before;
    expect(offset >= 8 * 86_400_000 - 1000 && offset <= 8 * 86_400_000 + 60_000).toBe(true);
    expect(created?.simulated).toBe(true);
  });

  it('shows the trail one line per event, simulated ones marked, and the JSON lines with --json', async () => {
    // Prepare
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    await home.ok(['keyring', 'create', 'ops'], { now: NOW });
    await home.ok(['freeze', 'pii', '--reason', 'INC-9'], { now: at(1) });

    // Act
    const text = (await home.ok(['audit', 'pii'])).stdout.toString();
    const flag = (await home.ok(['audit', '--keyring', 'pii'])).stdout.toString();
    const json = (await home.ok(['audit', 'pii', '--json'])).stdout.toString();

    // Assess
    expect(text.split('\n').filter((l) => l.length > 0)).toEqual([
      `${NOW} (simulated)  pii  keyring.created  v1  cli:${process.env.USER ?? 'unknown'}`,
      `${at(1)} (simulated)  pii  keyring.frozen  -  cli:${process.env.USER ?? 'unknown'}  INC-9`,
    ]);
    expect(flag).toBe(text);
    const parsed = json.trim().split('\n').map((l) => JSON.parse(l) as { action: string; simulated?: boolean });
    expect(parsed.map((e) => [e.action, e.simulated])).toEqual([['keyring.created', true], ['keyring.frozen', true]]);
  });
});
