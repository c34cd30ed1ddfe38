/**
 * `rekey migrate` end to end on a local home: records imported by `rekey records import` (rekey
 * envelopes already) next to rows that predate rekey (plaintext, an ESDK message), migrated in
 * place and read back with `rekey records get`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildProgram } from '../../cli/main';
import { registerMigrateCommand } from '../../cli/commands/migrate';
import { PartialFailureError } from '../../shared/errors';
import { SqliteRecordStore } from '../../shared/adapters/local/sqlite-record-store';
import { TestHome } from '../integration/cli/support/test-home';
import { esdkKey, esdkMessage } from './support';

const SECRET = 'card=4111111111111111';

/**
 * Runs `rekey --home HOME migrate ...` through the local command tree (registering `migrate`
 * on it when cli/main.ts does not yet), with stdout and stderr captured.
 */
async function migrate(home: TestHome, args: readonly string[]): Promise<{ stdout: string; stderr: string; error?: unknown }> {
  const program = buildProgram('local');
  if (!program.commands.some((c) => c.name() === 'migrate')) registerMigrateCommand(program);
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]): Writable => new Writable({ write: (chunk: Buffer, _e, done) => { into.push(chunk.toString()); done(); } });
  const saved = { stdout: Object.getOwnPropertyDescriptor(process, 'stdout'), stderr: Object.getOwnPropertyDescriptor(process, 'stderr') };
  const fakes = { stdout: sink(out), stderr: sink(err) };
  for (const name of ['stdout', 'stderr'] as const) Object.defineProperty(process, name, { configurable: true, get: () => fakes[name] });
  let error: unknown;
  try {
    await program.parseAsync(['--home', home.dir, 'migrate', ...args], { from: 'user' });
  } catch (e) {
    error = e;
  } finally {
    for (const name of ['stdout', 'stderr'] as const) Object.defineProperty(process, name, saved[name] as PropertyDescriptor);
  }
  return { stdout: out.join(''), stderr: err.join(''), ...(error === undefined ? {} : { error }) };
}

describe('rekey migrate (local home)', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome('rekey-migrate-');
    await home.ok(['keyring', 'create', 'pii']);
    const dir = home.path('export');
    mkdirSync(dir);
    writeFileSync(join(dir, 'imported-1'), 'imported one');
    writeFileSync(join(dir, 'imported-2'), 'imported two');
    await home.ok(['records', 'import', dir, '--keyring', 'pii']);
  });
  afterEach(() => home.remove());

  async function seedLegacy(rows: Readonly<Record<string, Buffer>>): Promise<void> {
    const store = new SqliteRecordStore({ home: home.dir });
    try {
      for (const [id, envelope] of Object.entries(rows)) await store.put({ id, keyring: 'pii', version: 1, envelope }, null);
    } finally {
      store.close();
    }
  }

  it('counts in a dry run, migrates plaintext rows, skips imported records, and reads them back', async () => {
    // Prepare
    const key = esdkKey();
    await seedLegacy({ 'legacy-1': Buffer.from(`${SECRET}-1`), 'legacy-2': Buffer.from(`${SECRET}-2`), 'legacy-esdk': await esdkMessage(key, Buffer.from(`${SECRET}-e`), { context: { app: 'orders' } }) });
    // Act
    const dry = await migrate(home, ['pii', '--from', 'plaintext', '--dry-run', '--json']);
    const run = await migrate(home, ['pii', '--from', 'plaintext', '--json', '--batch', '2']);
    const again = await migrate(home, ['pii', '--from', 'plaintext']);
    const read = (await home.ok(['records', 'get', 'legacy-1'])).stdout.toString();
    // Assess
    expect(dry.error).toBeUndefined();
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, listed: 5, migrated: 0, seen: { plaintext: 2, esdk: 1, rekey: 2, undecidable: 0 } });
    expect(JSON.parse(run.stdout)).toMatchObject({ dryRun: false, listed: 5, migrated: 2, conflicts: 0, failedCount: 0, completed: true, seen: { plaintext: 2, esdk: 1, rekey: 2 } });
    expect(again.stdout).toBe('migrated 0 of 5 record(s) (plaintext 0, esdk 1, already rekey 4, undecidable 0); conflicts 0, failed 0\n');
    expect(read).toBe(`${SECRET}-1`);
    expect((await home.ok(['records', 'get', 'imported-1'])).stdout.toString()).toBe('imported one');
    for (const o of [dry, run, again]) expect(o.stdout + o.stderr).not.toContain('4111');
    expect(home.auditEvents().filter((e) => e.action === 'records.migrated')).toHaveLength(2);
  });

  it('migrates ESDK messages with a raw AES key file and a required context, and exits 7 for the rest', async () => {
    // Prepare
    const key = esdkKey();
    await seedLegacy({
      'esdk-ok': await esdkMessage(key, Buffer.from(`${SECRET}-ok`), { context: { app: 'orders' }, flavour: 'v1-legacy' }),
      'esdk-other': await esdkMessage(key, Buffer.from(`${SECRET}-other`), { context: { app: 'billing' } }),
    });
    const keyFile = home.path('esdk.key');
    writeFileSync(keyFile, key.key.toString('base64'));
    // Act
    const r = await migrate(home, ['pii', '--from', 'esdk', '--esdk-aes-key-file', keyFile, '--esdk-key-name', key.keyName, '--esdk-key-namespace', key.keyNamespace, '--esdk-context', 'app=orders', '--json']);
    // Assess
    expect(r.error).toBeInstanceOf(PartialFailureError);
    expect(JSON.parse(r.stdout)).toMatchObject({ migrated: 1, failed: [{ id: 'esdk-other', reason: 'source-context-mismatch' }] });
    expect((await home.ok(['records', 'get', 'esdk-ok'])).stdout.toString()).toBe(`${SECRET}-ok`);
    expect(r.stdout + r.stderr).not.toContain('4111');
  });

  it('refuses an esdk run without its keyring, and an unknown source, before reading anything', async () => {
    // Act
    const noKeyring = await migrate(home, ['pii', '--from', 'esdk']);
    const badSource = await migrate(home, ['pii', '--from', 'csv']);
    const unknown = await migrate(home, ['nope', '--from', 'plaintext']);
    // Assess
    expect(String(noKeyring.error)).toContain('--esdk-kms-key');
    expect(String(badSource.error)).toContain('--from must be plaintext or esdk');
    expect((unknown.error as { code?: string }).code).toBe('UNKNOWN_KEYRING');
  });
});
