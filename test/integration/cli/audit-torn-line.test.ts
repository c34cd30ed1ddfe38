import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestHome, T0, at } from './support/test-home';

const NOW = new Date(T0).toISOString();

function actions(stdout: Buffer): string[] {
  return stdout.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action);
}

describe('rekey audit with a torn audit log (local mode)', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome('rekey-audit-torn-');
  });
  afterEach(() => {
    home.remove();
  });

  it('lists every whole event, names the torn line on stderr, and reads the next event', async () => {
    // Prepare
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    const whole = (await home.ok(['audit', '--json'])).stdout.toString('utf8').trim().split('\n');
    const log = join(home.dir, 'audit.jsonl');
    appendFileSync(log, '{"at":"2030-01-01T00:00:01.000Z","actor":"cli:te');

    // Act
    const torn = await home.run(['audit', '--json']);
    await home.ok(['freeze', 'pii', '--reason', 'INC-1'], { now: at(1) });
    const after = await home.run(['audit', '--json']);

    // Assess
    expect({ code: torn.code, events: torn.stdout.toString('utf8').trim().split('\n') }).toEqual({ code: 0, events: whole });
    expect(torn.stderr).toBe(`rekey: warning: skipped 1 unreadable line of ${log}: line ${whole.length + 1} (torn)\n`);
    expect(after.code).toBe(0);
    expect(actions(after.stdout)).toEqual([...whole.map((l) => (JSON.parse(l) as { action: string }).action), 'keyring.frozen']);
    expect(after.stderr).toBe(`rekey: warning: skipped 1 unreadable line of ${log}: line ${whole.length + 1} (malformed)\n`);
  });

  it('prints nothing on stderr for a whole log', async () => {
    // Prepare
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    // Act
    const r = await home.ok(['audit', '--json']);
    // Assess
    expect({ stderr: r.stderr, events: actions(r.stdout).length > 0 }).toEqual({ stderr: '', events: true });
  });
});
