/**
 * `keyring delete` against a writer in another process that read the catalog before the delete
 * (the orphan a reviewer reproduced): the writer is a real `rekey records import -` spawned
 * through bin/rekey.js, the delete runs in this process, both with a short catalog cache lifetime
 * so that the settle window is a few seconds of real time.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, spawnCli } from './support/cli-harness';
import { TestHome, expectFailure } from './support/test-home';

/** The catalog cache lifetime of every process here: long enough for the hand-over below, short enough to wait out. */
const TTL_MS = 4000;
const ENV = { REKEY_CATALOG_TTL_MS: String(TTL_MS) };

interface DeleteJson {
  keyring: string;
  state: string;
  settlesAt: string;
}

/** A running `rekey` child whose stdin stays open until the test ends it. */
function startRekey(argv: readonly string[]): { child: ChildProcessWithoutNullStreams; done: Promise<{ code: number; stderr: string }> } {
  const env: NodeJS.ProcessEnv = { ...process.env, ...ENV };
  for (const k of ['REKEY_HOME', 'REKEY_REDIS_URL', 'REKEY_DEBUG']) delete env[k];
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'rekey.js'), ...argv], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => err.push(c));
  child.stdout.resume();
  child.stdin.on('error', () => undefined);
  const done = new Promise<{ code: number; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr: Buffer.concat(err).toString('utf8') }));
  });
  return { child, done };
}

/**
 * Resolves once the child has started reading its stdin. `records import -` reads stdin only
 * after it has read the keyring's catalog (it refuses an unknown keyring before reading any
 * input), and 512 KiB of blank lines (ignored by the import) cannot all fit in the pipe, so the
 * write drains only once the child reads: from then on the child holds the catalog.
 */
function untilReading(child: ChildProcessWithoutNullStreams, exited: Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (child.stdin.write('\n'.repeat(512 * 1024))) resolve();
    else child.stdin.once('drain', () => resolve());
    void exited.then(() => reject(new Error('the writer exited before reading its input')));
  });
}

/** Waits (really) until the instant `iso` has passed. */
async function until(iso: string): Promise<void> {
  const ms = Date.parse(iso) - Date.now();
  if (ms >= 0) await new Promise((resolve) => setTimeout(resolve, ms + 20));
}

describe('keyring delete racing a writer in another process', () => {
  let home: TestHome;
  beforeEach(async () => {
    home = new TestHome('rekey-delete-race-');
    await home.ok(['keyring', 'create', 'k'], { env: ENV });
  });
  afterEach(() => {
    home.remove();
  });

  it('a record written after the delete started by a writer holding the old catalog restores the keyring: readable, never orphaned', async () => {
    // Prepare: the writer has read the catalog and waits for its input
    const writer = startRekey(['--home', home.dir, 'records', 'import', '-', '--keyring', 'k']);
    await untilReading(writer.child, writer.done);

    // Act: the delete starts, then the writer writes with the catalog it read before
    const started = await home.run(['keyring', 'delete', 'k', '--yes', '--json'], { env: ENV });
    writer.child.stdin.end('{"id":"x1","data":"precious"}\n');
    const imported = await writer.done;
    const whileDeleting = await home.run(['records', 'get', 'x1'], { env: ENV });
    const view = JSON.parse(started.stdout.toString('utf8')) as DeleteJson;
    await until(view.settlesAt);
    const rerun = await home.run(['keyring', 'delete', 'k'], { env: ENV });
    const read = await home.run(['records', 'get', 'x1'], { env: ENV });

    // Assess: the first run only started the deletion (exit 5, when to rerun)
    expect(started.code).toBe(5);
    expect(view).toMatchObject({ keyring: 'k', state: 'deleting' });
    expect(started.stderr).toContain(`rekey: deleting keyring k: writers with a cached catalog may still write until ${view.settlesAt}; rerun 'rekey keyring delete k' after that to finish\n`);
    // The writer's catalog was still fresh: it wrote its record under the tombstoned keyring.
    expect({ code: imported.code, summary: /imported 1 record\(s\) into k/.test(imported.stderr) }).toEqual({ code: 0, summary: true });
    // Until the rerun, a reader is told what is going on and what brings the record back.
    expectFailure(whileDeleting, 5, /^rekey: keyring 'k' is being deleted: rerun 'rekey keyring delete k' to restore it if records were written under it/);
    // The rerun (no --yes needed: it only finishes or undoes) counted the record and restored the keyring.
    expectFailure(rerun, 5, /^rekey: 1 record\(s\) were written under k after its deletion started \(a writer held an earlier catalog\): the keyring was restored so they stay readable/);
    expect({ code: read.code, data: read.stdout.toString('utf8') }).toEqual({ code: 0, data: 'precious' });
    expect(home.auditEvents().map((e) => e.action).filter((a) => typeof a === 'string' && a.startsWith('keyring.'))).toEqual(['keyring.created', 'keyring.delete-started', 'keyring.restored']);
  }, 60_000);

  it('a writer that reads the catalog after the delete started is refused, and the rerun after the settle window makes the deletion final', async () => {
    // Prepare
    const started = await home.run(['keyring', 'delete', 'k', '--yes', '--json'], { env: ENV });
    const view = JSON.parse(started.stdout.toString('utf8')) as DeleteJson;

    // Act
    const late = await spawnCli(['--home', home.dir, 'records', 'put', 'x2', '--keyring', 'k'], { stdin: Buffer.from('too late'), env: ENV });
    await until(view.settlesAt);
    const rerun = await home.run(['keyring', 'delete', 'k', '--json'], { env: ENV });
    const recreate = await home.run(['keyring', 'create', 'k'], { env: ENV });

    // Assess
    expect(started.code).toBe(5);
    expectFailure(late, 5, /^rekey: keyring 'k' is being deleted: /);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout.toString('utf8'))).toMatchObject({ keyring: 'k', state: 'deleted', deleted: true, settlesAt: view.settlesAt });
    expect(rerun.stderr.split('\n')[0]).toBe('deleted keyring k; its name is never reused');
    expectFailure(recreate, 5, /keyring 'k' was deleted on .*; its name is never reused: choose another name/);
    expect((await home.json<{ keyrings: unknown[] }>(['keyring', 'list', '--json'], { env: ENV })).keyrings).toEqual([]);
  }, 60_000);
});
