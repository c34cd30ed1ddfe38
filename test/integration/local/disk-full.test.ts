/**
 * A full disk (issue 11, "Locally"): full-disk failures gave messages without the path. Now a
 * command that cannot write because the disk is full fails with one line naming the file and
 * saying what to do, the home is unchanged, and once space is freed the same command works.
 * As root (CI) the home sits on a small tmpfs that is then filled up (ENOSPC, SQLITE_FULL from
 * SQLite); without mount rights the single-file case is shown with /dev/full, which fails every
 * write with ENOSPC.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TestHome, T0, at, expectFailure } from '../cli/support/test-home';
import { canMountTmpfs, Tmpfs } from './support/constrained-home';

const NOW = new Date(T0).toISOString();
const REPO_ROOT = join(__dirname, '..', '..', '..');

/** Writes zeros into `path` until the file system has no block left. */
function fillUp(path: string): void {
  const fd = openSync(path, 'w', 0o600);
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let size = chunk.length; size >= 512; ) {
      try {
        writeSync(fd, chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        size /= 2;
      }
    }
  } finally {
    closeSync(fd);
  }
}

const onTmpfs = canMountTmpfs();

describe('a full disk under a local home', () => {
  // Without mount rights (a normal user) the filled-tmpfs case cannot be built; the /dev/full
  // case below runs everywhere, so this file always asserts a full-disk failure.
  (onTmpfs ? describe : describeWithoutMount)('on a filled tmpfs (root)', () => {
    let fs: Tmpfs;
    let source: TestHome;
    let dir: string;

    beforeAll(async () => {
      source = new TestHome('rekey-full-src-');
      await source.ok(['keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m'], { now: NOW });
      await source.ok(['records', 'put', 'r1', '--keyring', 'pii'], { stdin: Buffer.from('kept'), now: NOW });
      fs = new Tmpfs(4 * 1024 * 1024);
      dir = join(fs.dir, 'home');
      cpSync(source.dir, dir, { recursive: true });
    });
    afterAll(() => {
      fs?.dispose();
      source?.remove();
    });

    it('names the file and the remedy, changes nothing, and works again once space is freed', async () => {
      // Prepare
      const filler = join(fs.dir, 'filler');
      fillUp(filler);
      const catalogBefore = readFileSync(join(dir, 'catalog.db'));
      const run = (args: string[], now: string, stdin?: Buffer) => runIn(dir, args, now, stdin);
      // Act
      const rotate = await run(['rotate', 'pii'], at(1));
      // An output file on the full disk, from a home that is not on it.
      const encrypt = await runIn(source.dir, ['encrypt', '--keyring', 'pii', '--out', join(fs.dir, 'out.bin')], at(1), Buffer.alloc(256 * 1024, 1));
      // Assess
      const full = (file: string) => new RegExp(`^rekey: .*${escape(file)}.*(the disk is full|ENOSPC)`);
      expectFailure(rotate, 6, full(dir));
      expectFailure(encrypt, 6, full(join(fs.dir, 'out.bin')));
      expect(readFileSync(join(dir, 'catalog.db')).equals(catalogBefore)).toBe(true);
      // No partial output file is left looking like a whole envelope.
      expect(existsSync(join(fs.dir, 'out.bin'))).toBe(false);
      rmSync(filler);
      await expect(run(['rotate', 'pii'], at(1))).resolves.toMatchObject({ code: 0 });
      const kept = await run(['records', 'get', 'r1'], at(1));
      expect({ code: kept.code, out: kept.stdout.toString('utf8') }).toEqual({ code: 0, out: 'kept' });
    });
  });

  it('names standard output when a redirect to a full device fails (/dev/full)', async () => {
    // Prepare
    const home = new TestHome('rekey-full-dev-');
    try {
      await home.ok(['keyring', 'create', 'pii'], { now: NOW });
      // Act: a real child process whose stdout is /dev/full
      const out = openSync('/dev/full', 'w');
      let child;
      try {
        child = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'rekey.js'), '--home', home.dir, 'audit'], { cwd: REPO_ROOT, stdio: ['ignore', out, 'pipe'] });
      } finally {
        closeSync(out);
      }
      // Assess
      expect({ code: child.status, stderr: child.stderr.toString('utf8') }).toEqual({ code: 6, stderr: 'rekey: cannot write standard output: ENOSPC (the disk is full: free space on that file system and retry)\n' });
    } finally {
      home.remove();
    }
  }, 60_000);
});

/** Stands in for the tmpfs block where nothing can be mounted: says so, as a passing check of the fact. */
function describeWithoutMount(name: string): void {
  describe(`${name}: not available here`, () => {
    it('cannot mount a tmpfs (not root, or no mount rights); the /dev/full case covers a full disk', () => {
      expect(canMountTmpfs()).toBe(false);
    });
  });
}

async function runIn(dir: string, args: string[], now: string, stdin?: Buffer) {
  const { runCli } = await import('../cli/support/cli-harness');
  return runCli(['--home', dir, '--now', now, ...args], stdin ? { stdin } : {});
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
