/**
 * EscrowStore for local mode: one read-only file per record, `<home>/escrow/<keyring>/<version>.json`.
 * A record is written to a private temporary file (O_EXCL, 0600), flushed, then published with
 * link(2), which fails if the name exists: creation is atomic and never overwrites, and a crash
 * leaves at most a stray temporary file, never a half-written record. Published records are 0400.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { AlreadyExistsError, BackendError, ValidationError } from '../../errors';
import { parseEscrowRecord, serializeEscrowRecord, MAX_ESCROW_RECORD_BYTES, type EscrowRecord } from '../../escrow/escrow-record';
import type { EscrowStore } from '../../ports/escrow-store';
import { assertKeyringName } from '../../vocabulary/keyring-name';
import { versionNumber } from '../../vocabulary/names';

/** Options of {@link FileEscrowStore}. */
export interface FileEscrowStoreOptions {
  /** The rekey home folder; records go to `<home>/escrow/`. */
  readonly home: string;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

/**
 * {@link EscrowStore} over files, for the CLI's local mode.
 *
 * @example
 * const store = new FileEscrowStore({ home: '.rekey' });
 * await store.put(record);
 */
export class FileEscrowStore implements EscrowStore {
  private readonly root: string;

  public constructor(options: FileEscrowStoreOptions) {
    if (typeof options.home !== 'string' || options.home.length === 0) throw new ValidationError('home is required');
    this.root = join(options.home, 'escrow');
  }

  /** Creates the record file; AlreadyExistsError when it exists. */
  public async put(record: EscrowRecord): Promise<void> {
    const body = serializeEscrowRecord(record);
    const dir = this.dirFor(record.keyring);
    const final = this.fileFor(record.keyring, record.version);
    const tmp = join(dir, `.${record.version}.json.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.chmod(tmp, 0o400);
      try {
        await fs.link(tmp, final);
      } catch (err) {
        if (errno(err) === 'EEXIST') {
          throw new AlreadyExistsError(`keyring '${record.keyring}' version ${record.version} is already escrowed`);
        }
        throw err;
      }
      await syncDir(dir);
    } catch (err) {
      if (err instanceof AlreadyExistsError) throw err;
      throw new BackendError(`cannot write escrow record of keyring '${record.keyring}' version ${record.version} (${errno(err) ?? 'error'})`, { cause: err });
    } finally {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  /** Reads a record, or undefined; BackendError when the file is corrupt. */
  public async get(keyring: string, version: number): Promise<EscrowRecord | undefined> {
    const file = this.fileFor(keyring, version);
    let bytes: Buffer;
    try {
      const stat = await fs.stat(file);
      if (stat.size > MAX_ESCROW_RECORD_BYTES) return parseEscrowRecord(Buffer.alloc(MAX_ESCROW_RECORD_BYTES + 1), keyring, version);
      bytes = await fs.readFile(file);
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw new BackendError(`cannot read escrow record of keyring '${keyring}' version ${version} (${errno(err) ?? 'error'})`, { cause: err });
    }
    return parseEscrowRecord(bytes, keyring, version);
  }

  /** Versions of a keyring with a record, ascending. */
  public async list(keyring: string): Promise<number[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dirFor(keyring));
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw new BackendError(`cannot list escrow records of keyring '${keyring}' (${errno(err) ?? 'error'})`, { cause: err });
    }
    const versions: number[] = [];
    for (const name of names) {
      const m = /^(\d{1,7})\.json$/.exec(name);
      if (m?.[1] !== undefined && versionNumber.safeParse(Number(m[1])).success) versions.push(Number(m[1]));
    }
    return versions.sort((a, b) => a - b);
  }

  private dirFor(keyring: string): string {
    // The keyring pattern has no `/` and cannot be `.` or `..`, so it never escapes the folder.
    assertKeyringName(keyring);
    return join(this.root, keyring);
  }

  private fileFor(keyring: string, version: number): string {
    if (!versionNumber.safeParse(version).success) throw new ValidationError('version must be a positive integer');
    return join(this.dirFor(keyring), `${version}.json`);
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the new directory entry durable; some filesystems refuse fsync on a directory.
  const handle = await fs.open(dir, fsc.O_RDONLY).catch(() => undefined);
  if (handle === undefined) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
