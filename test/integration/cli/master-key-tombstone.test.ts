/**
 * A deleted keyring's catalog keeps its version keys, wrapped under the home's master key, so
 * the deletion can be undone (and a late writer's record restored). A home whose only keyrings
 * are deleted is therefore not empty: a missing master.key there is refused, never replaced by
 * a new key that would strand the tombstoned keys.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TestHome, T0, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();
const LATER = new Date(T0 + 2 * 60_000).toISOString();

describe('master key of a home with only deleted keyrings', () => {
  let home: TestHome;
  beforeEach(() => {
    home = new TestHome('rekey-tombstone-key-');
  });
  afterEach(() => {
    home.remove();
  });

  it('refuses to make a new master key while a tombstone holds keys wrapped under the old one', async () => {
    // Prepare: a keyring deleted for good (two runs, the second after the settle window).
    await home.ok(['keyring', 'create', 'scratch'], { now: NOW });
    await home.run(['keyring', 'delete', 'scratch', '--yes'], { now: NOW });
    await home.ok(['keyring', 'delete', 'scratch'], { now: LATER });
    rmSync(join(home.dir, 'master.key'));

    // Act
    const r = await home.run(['keyring', 'create', 'other'], { now: LATER });

    // Assess
    expectFailure(r, 6, /master\.key/);
    expect(existsSync(join(home.dir, 'master.key'))).toBe(false);
  });
});
