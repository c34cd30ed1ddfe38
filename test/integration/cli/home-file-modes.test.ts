import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openLocal } from '../../../shared/compose/local/local-services';
import { scratchDir } from '../../support/scratch';
import { TestHome, T0, at } from './support/test-home';

const NOW = new Date(T0).toISOString();

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Every file and folder under `dir` with its mode, e.g. `escrow/pii 700`. */
function modes(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    out.push(`${prefix}${name} ${mode(full).toString(8)}`);
    if (statSync(full).isDirectory()) out.push(...modes(full, `${prefix}${name}/`));
  }
  return out;
}

describe('rekey home file modes (local mode)', () => {
  let home: TestHome;
  let umask: number;

  beforeAll(() => {
    // The usual umask: without explicit modes SQLite would create 0644 databases under it.
    umask = process.umask(0o022);
  });
  afterAll(() => {
    process.umask(umask);
  });
  beforeEach(() => {
    home = new TestHome('rekey-modes-');
  });
  afterEach(() => {
    home.remove();
  });

  it('creates every file of a fresh home owner-only through the CLI', async () => {
    // Act
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    await home.ok(['records', 'put', 'r1', '--keyring', 'pii'], { stdin: Buffer.from('hello'), now: NOW });
    await home.ok(['escrow', 'archive'], { now: at(1) });
    // Assess
    const listed = modes(home.dir);
    expect(listed).toEqual(expect.arrayContaining(['catalog.db 600', 'records.db 600', 'audit.jsonl 600', 'master.key 600']));
    expect(listed.some((l) => l.startsWith('escrow/pii/'))).toBe(true);
    // Files 0600 or tighter (escrow records are 0400), folders 0700, whatever else SQLite made (-wal, -shm).
    for (const line of listed) expect(line).toMatch(/ (600|400|700)$/);
    expect(mode(home.dir)).toBe(0o700);
  });

  it('creates a missing home 0700 with 0600 databases through local services', async () => {
    // Prepare
    const dir = join(scratchDir('rekey-modes-open-'), 'home');
    // Act
    const rk = await openLocal({ home: dir });
    await rk.keyrings.createKeyring('pii', { rotateEverySeconds: 30 * 86400 }, { actor: rk.actor });
    await rk.close();
    // Assess
    expect({ home: mode(dir), catalog: mode(join(dir, 'catalog.db')), records: mode(join(dir, 'records.db')), audit: mode(join(dir, 'audit.jsonl')) }).toEqual({
      home: 0o700,
      catalog: 0o600,
      records: 0o600,
      audit: 0o600,
    });
  });

  it('tightens a home left 0755 with 0644 databases and audit log when it is opened again', async () => {
    // Prepare
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    chmodSync(home.dir, 0o755);
    for (const name of readdirSync(home.dir)) if (name !== 'master.key' && !statSync(join(home.dir, name)).isDirectory()) chmodSync(join(home.dir, name), 0o644);
    // Act
    await home.ok(['status'], { now: NOW });
    // Assess
    expect(mode(home.dir)).toBe(0o700);
    for (const line of modes(home.dir)) expect(line).toMatch(/ (600|400|700)$/);
  });
});
