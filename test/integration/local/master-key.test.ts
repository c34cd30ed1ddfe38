/**
 * The local master key (issue 11, "Stranding data"): deleting or replacing `master.key` made the
 * next command create a new key silently, and `rotate`/`tick` then activated versions under it,
 * so whichever key was restored, one set of records stayed unreadable. Now only `keyring create`
 * on a home without keyrings creates a key; every other command stops with one line naming the
 * path, exits non-zero and writes nothing; putting the original key back makes the home whole.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { TestHome, T0, at, expectFailure } from '../cli/support/test-home';

const NOW = new Date(T0).toISOString();
const KEY_UNAVAILABLE_EXIT = 6;

function hashFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Everything a refused command could have changed: the catalog history, and every file but the databases. */
async function homeState(dir: string): Promise<string> {
  const catalogs = new SqliteCatalogStore(join(dir, 'catalog.db'), { readOnly: true });
  try {
    const history = await catalogs.history('pii');
    const files = readdirSync(dir)
      .filter((n) => !/\.db(-wal|-shm)?$/.test(n))
      .sort()
      .map((n) => (n === 'escrow' || n === 'escrow-key' ? n : `${n}=${hashFile(join(dir, n))}`));
    return JSON.stringify({ files, generations: history.map((h) => h.generation), versions: history.at(-1)?.catalog.versions.map((v) => `${v.version}:${v.state}`) });
  } finally {
    catalogs.close();
  }
}

describe('local master key', () => {
  let home: TestHome;
  let keyPath: string;
  let envelope: Buffer;

  beforeEach(async () => {
    home = new TestHome('rekey-master-key-');
    keyPath = join(home.dir, 'master.key');
    await home.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
    envelope = (await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('the README example'), now: NOW })).stdout;
    // A pending version under the original key: tick would promote it once propagation passed.
    await home.ok(['rotate', 'pii'], { now: at(1) });
  });
  afterEach(() => {
    home.remove();
  });

  // What the issue ran after the key was gone: each must fail the same way and change nothing.
  const commands = (): Array<{ name: string; args: string[]; stdin?: Buffer; now: string }> => [
    { name: 'rotate', args: ['rotate', 'pii'], now: at(40) },
    { name: 'tick', args: ['tick'], now: at(40) },
    { name: 'status', args: ['status'], now: at(40) },
    { name: 'decrypt', args: ['decrypt'], stdin: envelope, now: at(1) },
    { name: 'encrypt', args: ['encrypt', '--keyring', 'pii'], stdin: Buffer.from('x'), now: at(1) },
    { name: 'keyring create', args: ['keyring', 'create', 'other'], now: at(1) },
  ];

  it('refuses every command when master.key was deleted, never creating a new one', async () => {
    // Prepare
    rmSync(keyPath);
    const before = await homeState(home.dir);
    for (const c of commands()) {
      // Act
      const r = await home.run(c.args, { stdin: c.stdin, now: c.now });
      // Assess
      expectFailure(r, KEY_UNAVAILABLE_EXIT, new RegExp(`^rekey: master key missing at ${escape(keyPath)}: restore it from your backup; rekey never creates one for an existing home$`));
      expect({ command: c.name, keyCreated: existsSync(keyPath) }).toEqual({ command: c.name, keyCreated: false });
    }
    expect(await homeState(home.dir)).toBe(before);
  });

  it('refuses every command when master.key was replaced, and neither rotate nor tick activates a version under it', async () => {
    // Prepare
    const original = readFileSync(keyPath);
    const replacement = randomBytes(32);
    rmSync(keyPath);
    writeFileSync(keyPath, replacement, { mode: 0o600 });
    const before = await homeState(home.dir);
    const pattern = new RegExp(`^rekey: master key at ${escape(keyPath)} is not the one versions of 'pii' were wrapped under \\((local:[0-9a-f]{8}) vs (local:[0-9a-f]{8})\\)`);
    for (const c of commands()) {
      // Act
      const r = await home.run(c.args, { stdin: c.stdin, now: c.now });
      // Assess
      expectFailure(r, KEY_UNAVAILABLE_EXIT, pattern);
      const [, wrappedUnder, present] = pattern.exec(r.stderr) ?? [];
      expect({ command: c.name, differ: wrappedUnder !== present }).toEqual({ command: c.name, differ: true });
    }
    expect(await homeState(home.dir)).toBe(before);
    expect(readFileSync(keyPath).equals(replacement)).toBe(true);

    // Putting the original key back makes the home whole: the old envelope decrypts, tick promotes v2.
    rmSync(keyPath);
    writeFileSync(keyPath, original, { mode: 0o600 });
    const decrypted = await home.ok(['decrypt'], { stdin: envelope, now: at(40) });
    expect(decrypted.stdout.toString('utf8')).toBe('the README example');
    await home.ok(['tick'], { now: at(40) });
    const catalogs = new SqliteCatalogStore(join(home.dir, 'catalog.db'), { readOnly: true });
    const after = await catalogs.get('pii');
    catalogs.close();
    const v2 = after?.catalog.versions.find((v) => v.version === 2);
    expect({ state: v2?.state, wrappedUnderOriginal: v2?.wrappingKeyId === after?.catalog.versions[0]?.wrappingKeyId }).toEqual({ state: 'active', wrappedUnderOriginal: true });
  });

  it('creates master.key only for keyring create on a home without keyrings', async () => {
    // Prepare
    const empty = new TestHome('rekey-master-key-empty-');
    try {
      const emptyKey = join(empty.dir, 'master.key');
      // Act: commands that need no key on an empty home do not make one
      await empty.run(['keyring', 'list'], { now: NOW });
      await empty.run(['status'], { now: NOW });
      const afterReads = existsSync(emptyKey);
      await empty.ok(['keyring', 'create', 'pii'], { now: NOW });
      // Assess
      expect({ afterReads, afterCreate: existsSync(emptyKey) }).toEqual({ afterReads: false, afterCreate: true });
      expect(readFileSync(emptyKey)).toHaveLength(32);
    } finally {
      empty.remove();
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
