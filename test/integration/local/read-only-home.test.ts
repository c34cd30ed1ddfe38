/**
 * A read-only home (issue 11, "Locally"): on a read-only home even `status` failed, and write
 * failures gave messages without the path. Now the commands that only read work on a real
 * read-only home (a read-only mount as root, a home without write permission otherwise), nothing
 * in it is created, tightened or written, and a command that writes fails with one line naming
 * the path and saying what to do.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TestHome, T0, at, expectFailure } from '../cli/support/test-home';
import { readOnlyCopy, type ReadOnlyHome } from './support/constrained-home';

const NOW = new Date(T0).toISOString();

/** Every entry under `dir` with its mode and, for files, a digest of its bytes. */
function tree(dir: string, root = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const stat = lstatSync(full);
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isDirectory()) out.push(`${relative(root, full)}/ ${mode}`, ...tree(full, root));
    else out.push(`${relative(root, full)} ${mode} ${createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 16)}`);
  }
  return out;
}

describe('a read-only local home', () => {
  let source: TestHome;
  let ro: ReadOnlyHome;
  let oldEnvelope: Buffer;

  beforeAll(async () => {
    // Prepare: a home with two versions, a record and an envelope under the older one, and an
    // audit log left 0644 by an older release (a writable home would tighten it).
    source = new TestHome('rekey-ro-src-');
    await source.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
    await source.ok(['records', 'put', 'r1', '--keyring', 'pii'], { stdin: Buffer.from('old record'), now: NOW });
    oldEnvelope = (await source.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('old file'), now: NOW })).stdout;
    await source.ok(['rotate', 'pii'], { now: at(1) });
    await source.ok(['tick'], { now: at(2) });
    await source.ok(['records', 'put', 'r2', '--keyring', 'pii'], { stdin: Buffer.from('new record'), now: at(2) });
    const { chmodSync } = await import('node:fs');
    chmodSync(join(source.dir, 'audit.jsonl'), 0o644);
    ro = readOnlyCopy(source.dir);
  });
  afterAll(() => {
    ro?.dispose();
    source?.remove();
  });

  it('runs every reading command, and leaves every file, byte and mode as it was', async () => {
    // Prepare
    const before = tree(ro.dir);
    // Act
    const status = await ro.run(['status'], { now: at(3) });
    const statusJson = await ro.run(['status', '--json'], { now: at(3) });
    const plan = await ro.run(['plan'], { now: at(3) });
    const list = await ro.run(['keyring', 'list'], { now: at(3) });
    const audit = await ro.run(['audit', '--json'], { now: at(3) });
    const decrypt = await ro.run(['decrypt'], { stdin: oldEnvelope, now: at(3) });
    const inspect = await ro.run(['inspect'], { stdin: oldEnvelope, now: at(3) });
    const getNew = await ro.run(['records', 'get', 'r2'], { now: at(3) });
    const getOld = await ro.run(['records', 'get', 'r1'], { now: at(3) });
    // Assess
    const outcome = (r: { code: number; stderr: string }) => ({ code: r.code, stderr: r.stderr });
    expect({ mechanism: ro.mechanism, status: outcome(status), statusJson: outcome(statusJson), plan: outcome(plan), list: outcome(list), audit: outcome(audit), decrypt: outcome(decrypt), inspect: outcome(inspect), getNew: outcome(getNew), getOld: outcome(getOld) }).toEqual({
      mechanism: ro.mechanism,
      status: { code: 0, stderr: '' },
      statusJson: { code: 0, stderr: '' },
      plan: { code: 0, stderr: '' },
      list: { code: 0, stderr: '' },
      audit: { code: 0, stderr: '' },
      decrypt: { code: 0, stderr: '' },
      inspect: { code: 0, stderr: '' },
      getNew: { code: 0, stderr: '' },
      getOld: { code: 0, stderr: '' },
    });
    expect(decrypt.stdout.toString('utf8')).toBe('old file');
    expect(getNew.stdout.toString('utf8')).toBe('new record');
    expect(getOld.stdout.toString('utf8')).toBe('old record');
    expect(list.stdout.toString('utf8')).toMatch(/pii/);
    expect(status.stdout.toString('utf8')).toMatch(/pii/);
    // The plan reads the catalog and the stored key-use evidence; the reads above could not add to it.
    expect(plan.stdout.toString('utf8')).toMatch(new RegExp(`^keyring pii at ${escape(`${at(3).slice(0, 10)} ${at(3).slice(11, 16)}Z`)}\n(.*\n)*  v1 rotating`));
    const parsedStatus = JSON.parse(statusJson.stdout.toString('utf8')) as { home: string };
    expect(parsedStatus.home).toBe(ro.dir);
    expect(audit.stdout.toString('utf8').trim().split('\n').map((l) => (JSON.parse(l) as { keyring: string }).keyring)).toContain('pii');
    expect(tree(ro.dir)).toEqual(before);
    expect(before).toContainEqual(expect.stringMatching(/^audit\.jsonl (644|444) /));
  });

  it('refuses a writing command with one line naming the path, and changes nothing', async () => {
    // Prepare
    const before = tree(ro.dir);
    // Act
    const put = await ro.run(['records', 'put', 'r3', '--keyring', 'pii'], { stdin: Buffer.from('x'), now: at(3) });
    const rotate = await ro.run(['rotate', 'pii'], { now: at(40) });
    // Assess
    const readOnlyLine = new RegExp(`^rekey: \\S+ database ${escape(ro.dir)}/\\S+\\.db( \\([a-z ]+\\))? cannot be written \\((SQLITE_READONLY|EROFS|EACCES)\\w*\\): the home is read-only or not writable by this user`);
    expectFailure(put, 6, readOnlyLine);
    expectFailure(rotate, 6, readOnlyLine);
    expect(tree(ro.dir)).toEqual(before);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
