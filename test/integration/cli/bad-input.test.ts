import { SqliteCatalogStore } from '../../../shared/adapters/local/sqlite-catalog-store';
import { TestHome, T0, at, expectFailure } from './support/test-home';

const NOW = new Date(T0).toISOString();

interface Case {
  readonly argv: readonly string[];
  readonly stdin?: 'plain' | 'bound' | 'garbage' | 'truncated' | 'headerOnly' | 'tamperedHeader' | 'tamperedBody' | 'extended';
  readonly code: number;
  readonly message?: RegExp;
}

const DECRYPT = /^rekey: unable to decrypt: the envelope is malformed, tampered with, or not for this key$/;

// Every command with the kinds of bad input it takes; each must fail cleanly and change nothing.
const CASES: ReadonlyArray<[string, Case]> = [
  ['unknown command', { argv: ['bogus'], code: 2, message: /^rekey: unknown command 'bogus'/ }],
  ['unknown subcommand', { argv: ['keyring', 'frobnicate', 'pii'], code: 2, message: /^rekey: unknown command 'frobnicate'/ }],
  ['unknown option', { argv: ['encrypt', '--keyring', 'pii', '--frobnicate'], stdin: 'plain', code: 2, message: /^rekey: unknown option '--frobnicate'/ }],
  ['unknown global option', { argv: ['--colour', 'status'], code: 2, message: /^rekey: unknown option '--colour'/ }],
  ['excess argument', { argv: ['rotate', 'pii', 'ops'], code: 2, message: /^rekey: too many arguments/ }],
  ['keyring create without a name', { argv: ['keyring', 'create'], code: 2, message: /^rekey: missing required argument 'name'/ }],
  ['encrypt without --keyring', { argv: ['encrypt'], stdin: 'plain', code: 2, message: /^rekey: name the keyring: rekey <command> KEYRING \(or --keyring KEYRING\)/ }],
  ['records put without --keyring', { argv: ['records', 'put', 'x'], stdin: 'plain', code: 2, message: /^rekey: required option '--keyring <name>'/ }],
  ['revoke without --reason', { argv: ['revoke', 'pii', '--version', '1'], code: 2, message: /^rekey: required option '--reason <text>'/ }],
  ['escrow restore without --version', { argv: ['escrow', 'restore', 'pii', '--out', '/tmp/never-written.key'], code: 2, message: /^rekey: required option '--version <n>'/ }],
  ['decrypt of garbage', { argv: ['decrypt'], stdin: 'garbage', code: 3, message: DECRYPT }],
  ['decrypt of a truncated envelope', { argv: ['decrypt'], stdin: 'truncated', code: 3, message: DECRYPT }],
  ['decrypt of an extended envelope', { argv: ['decrypt'], stdin: 'extended', code: 3, message: DECRYPT }],
  ['decrypt of a tampered header', { argv: ['decrypt'], stdin: 'tamperedHeader', code: 3, message: DECRYPT }],
  ['decrypt of a tampered body', { argv: ['decrypt'], stdin: 'tamperedBody', code: 3, message: DECRYPT }],
  ['decrypt --out of a tampered body', { argv: ['decrypt', '--out', '/tmp/rekey-cli-never-written.out'], stdin: 'tamperedBody', code: 3, message: DECRYPT }],
  ['rewrap of garbage', { argv: ['rewrap'], stdin: 'garbage', code: 3, message: DECRYPT }],
  // rewrap and inspect read the header only: a cut inside the header is theirs to refuse.
  ['rewrap of an envelope cut inside its header', { argv: ['rewrap'], stdin: 'headerOnly', code: 3, message: DECRYPT }],
  ['inspect of an envelope cut inside its header', { argv: ['inspect'], stdin: 'headerOnly', code: 3, message: DECRYPT }],
  ['encrypt under an unknown keyring', { argv: ['encrypt', '--keyring', 'nope'], stdin: 'plain', code: 4, message: /^rekey: unknown keyring 'nope'$/ }],
  ['framed encrypt under an unknown keyring', { argv: ['encrypt', '--keyring', 'nope', '--framed'], stdin: 'plain', code: 4, message: /unknown keyring 'nope'/ }],
  ['records put under an unknown keyring', { argv: ['records', 'put', 'x', '--keyring', 'nope'], stdin: 'plain', code: 4, message: /unknown keyring 'nope'/ }],
  ['rotate of an unknown keyring', { argv: ['rotate', 'nope'], code: 4, message: /unknown keyring 'nope'/ }],
  ['tick of an unknown keyring', { argv: ['tick', '--keyring', 'nope'], code: 4, message: /unknown keyring 'nope'/ }],
  ['status of an unknown keyring', { argv: ['status', 'nope'], code: 4, message: /unknown keyring 'nope'/ }],
  ['sweep of an unknown keyring', { argv: ['sweep', 'nope'], code: 4, message: /unknown keyring 'nope'/ }],
  ['revoke of an unknown keyring', { argv: ['revoke', 'nope', '--version', '1', '--reason', 'x'], code: 4, message: /unknown keyring 'nope'/ }],
  ['freeze of an unknown keyring', { argv: ['freeze', 'nope', '--reason', 'x'], code: 4, message: /unknown keyring 'nope'/ }],
  ['unfreeze of an unknown keyring', { argv: ['unfreeze', 'nope'], code: 4, message: /unknown keyring 'nope'/ }],
  ['escrow archive of an unknown keyring', { argv: ['escrow', 'archive', 'nope'], code: 4, message: /unknown keyring 'nope'/ }],
  ['escrow restore of an unknown keyring', { argv: ['escrow', 'restore', 'nope', '--version', '1', '--out', '/tmp/rekey-cli-never-written.key'], code: 4 }],
  ['keyring name that is not allowed', { argv: ['status', '../etc'], code: 2, message: /invalid keyring name/ }],
  // Only the active version is a re-wrap target: an unknown one is refused before any lookup.
  ['rewrap to an unknown version', { argv: ['rewrap', '--to-version', '9'], stdin: 'plain', code: 2, message: /version 9 is not the active version of keyring 'pii' \(the active version is 1\)/ }],
  ['revoke of an unknown version', { argv: ['revoke', 'pii', '--version', '9', '--reason', 'x'], code: 4, message: /has no version 9/ }],
  ['sweep of an unknown version', { argv: ['sweep', 'pii', '--version', '9'], code: 4, message: /has no version 9/ }],
  ['escrow restore of an unknown version', { argv: ['escrow', 'restore', 'pii', '--version', '9', '--out', '/tmp/rekey-cli-never-written.key'], code: 4 }],
  ['decrypt without the bound context', { argv: ['decrypt'], stdin: 'bound', code: 2, message: /bound to a caller context/ }],
  ['decrypt with a wrong context', { argv: ['decrypt', '--context', 'tenant=evil'], stdin: 'bound', code: 3, message: DECRYPT }],
  ['records get without its context', { argv: ['records', 'get', 'r1'], code: 3, message: DECRYPT }],
  ['records get with a wrong context', { argv: ['records', 'get', 'r1', '--context', 'tenant=evil'], code: 3, message: DECRYPT }],
  ['records get of an unknown id', { argv: ['records', 'get', 'nobody'], code: 4, message: /record 'nobody' does not exist/ }],
  ['--context without =', { argv: ['encrypt', '--keyring', 'pii', '--context', 'tenant'], stdin: 'plain', code: 2, message: /--context expects key=value/ }],
  ['--context with an empty key', { argv: ['decrypt', '--context', '=acme'], stdin: 'bound', code: 2, message: /--context expects key=value/ }],
  ['--context key given twice', { argv: ['records', 'put', 'r2', '--keyring', 'pii', '--context', 'a=1', '--context', 'a=2'], stdin: 'plain', code: 2, message: /given twice/ }],
  ['--context without = on records get', { argv: ['records', 'get', 'r1', '--context', 'x'], code: 2, message: /--context expects key=value/ }],
  ['--context without = on sweep', { argv: ['sweep', 'pii', '--context', 'x'], code: 2, message: /--context expects key=value/ }],
  ['--context without = on revoke', { argv: ['revoke', 'pii', '--version', '1', '--reason', 'x', '--context', 'x'], code: 2, message: /--context expects key=value/ }],
  ['--to-version 0', { argv: ['rewrap', '--to-version', '0'], stdin: 'plain', code: 2, message: /--to-version must be between/ }],
  ['--to-version 1.5', { argv: ['rewrap', '--to-version', '1.5'], stdin: 'plain', code: 2, message: /--to-version must be a positive integer/ }],
  ['--to-version too large', { argv: ['rewrap', '--to-version', '99999999999'], stdin: 'plain', code: 2 }],
  ['--version not a number', { argv: ['revoke', 'pii', '--version', 'one', '--reason', 'x'], code: 2, message: /--version must be a positive integer/ }],
  ['--limit 0', { argv: ['audit', '--limit', '0'], code: 2, message: /--limit must be between/ }],
  ['--rate 0', { argv: ['sweep', 'pii', '--rate', '0'], code: 2, message: /--rate must be between/ }],
  ['--now that is not a time', { argv: ['--now', 'yesterday', 'status'], code: 2, message: /--now must be an ISO-8601 time/ }],
  ['--now out of range', { argv: ['--now', '2030-13-45T00:00:00Z', 'tick'], code: 2, message: /--now must be an ISO-8601 time/ }],
  ['--at that is not a time', { argv: ['tick', '--at', 'tomorrow'], code: 2, message: /--at must be an ISO-8601 time/ }],
  ['bad duration', { argv: ['keyring', 'create', 'new', '--grace', '7 days'], code: 2 }],
  ['duplicate keyring', { argv: ['keyring', 'create', 'pii'], code: 5, message: /already exists/ }],
  ['rotate of a frozen keyring', { argv: ['rotate', 'frozen'], code: 5, message: /frozen/ }],
];

describe('rekey CLI bad input (local mode)', () => {
  const home = new TestHome();
  const inputs: Record<NonNullable<Case['stdin']>, Buffer> = {} as Record<NonNullable<Case['stdin']>, Buffer>;

  beforeAll(async () => {
    await home.ok(['keyring', 'create', 'pii'], { now: NOW });
    await home.ok(['keyring', 'create', 'frozen'], { now: NOW });
    await home.ok(['freeze', 'frozen', '--reason', 'incident'], { now: NOW });
    await home.ok(['records', 'put', 'r1', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: Buffer.from('record one'), now: NOW });
    const plain = (await home.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('some plaintext that must never be printed'), now: NOW })).stdout;
    const bound = (await home.ok(['encrypt', '--keyring', 'pii', '--context', 'tenant=acme'], { stdin: Buffer.from('bound plaintext'), now: NOW })).stdout;
    const flip = (b: Buffer, i: number): Buffer => {
      const c = Buffer.from(b);
      c.writeUInt8(c.readUInt8(i) ^ 0x40, i);
      return c;
    };
    Object.assign(inputs, {
      plain,
      bound,
      garbage: Buffer.from('not an envelope\n'),
      truncated: plain.subarray(0, plain.length - 1),
      headerOnly: plain.subarray(0, 20),
      extended: Buffer.concat([plain, Buffer.from([0])]),
      tamperedHeader: flip(plain, 12),
      tamperedBody: flip(plain, plain.length - 20),
    });
  });
  afterAll(() => {
    home.remove();
  });

  describe('every command', () => {
    it.each(CASES)('fails cleanly on %s', async (_label, c) => {
      // Prepare
      const before = await home.snapshot();

      // Act
      const r = await home.run(c.argv, { now: at(1), ...(c.stdin ? { stdin: inputs[c.stdin] } : {}) });

      // Assess
      expectFailure(r, c.code, c.message);
      expect(r.stderr).not.toContain('plaintext');
      expect(await home.snapshot()).toBe(before);
    });
  });

  describe('rewrap', () => {
    it('does not hide a damaged body: re-wrapping a body-truncated envelope still yields one that fails to decrypt', async () => {
      // Prepare
      const truncated = inputs.truncated;

      // Act
      const rewrapped = await home.ok(['rewrap'], { stdin: truncated, now: at(1) });
      const dec = await home.run(['decrypt'], { stdin: rewrapped.stdout, now: at(1) });

      // Assess
      expectFailure(dec, 3, DECRYPT);
    });
  });

  describe('a failed decrypt under a retired version', () => {
    const retired = new TestHome();
    afterAll(() => {
      retired.remove();
    });

    it('changes nothing but the key-use evidence: the version key was unwrapped before the body failed', async () => {
      // Prepare: an envelope under v1, then v2 active, so v1 is retired and its uses are weighed.
      await retired.ok(['keyring', 'create', 'pii'], { now: NOW });
      const plain = (await retired.ok(['encrypt', '--keyring', 'pii'], { stdin: Buffer.from('retired plaintext'), now: NOW })).stdout;
      await retired.ok(['rotate', 'pii'], { now: at(1) });
      await retired.ok(['tick', '--at', at(1, 11)]);
      const tampered = Buffer.from(plain);
      tampered.writeUInt8(tampered.readUInt8(tampered.length - 20) ^ 0x40, tampered.length - 20);
      const before = await state(retired);

      // Act
      const r = await retired.run(['decrypt'], { stdin: tampered, now: at(2) });

      // Assess
      expectFailure(r, 3, DECRYPT);
      // key-use.db is left out of the comparison on purpose: the key was unwrapped before the body
      // failed to authenticate, and that unwrap is a use, as KMS's Decrypt in CloudTrail would be
      // on AWS (a key someone still tries to open is not quiet). Everything else is unchanged.
      const after = await state(retired);
      expect({ ...after, lastUsedAt: undefined }).toEqual({ ...before, lastUsedAt: undefined });
      expect(before.lastUsedAt).toBeUndefined();
      expect(after.lastUsedAt).toBe(at(2));
    });
  });
});

interface VersionStatus {
  readonly version: number;
  readonly state: string;
  readonly lastUsedAt?: string;
}

/** The catalog's history, the audit trail, the files of the home (databases by name), and v1's last use. */
async function state(home: TestHome): Promise<{ generations: number[]; audit: string; files: string; lastUsedAt: string | undefined }> {
  const catalogs = new SqliteCatalogStore(`${home.dir}/catalog.db`, { readOnly: true });
  try {
    const generations = (await catalogs.history('pii')).map((h) => h.generation);
    const snap = JSON.parse(await home.snapshot()) as { audit: string; files: string[] };
    const status = await home.json<{ keyrings: Array<{ versions: VersionStatus[] }> }>(['status', 'pii', '--json'], { now: at(2) });
    return { generations, audit: snap.audit, files: snap.files.join(','), lastUsedAt: status.keyrings[0]?.versions.find((v) => v.version === 1)?.lastUsedAt };
  } finally {
    catalogs.close();
  }
}
