/**
 * `npm start`: the main job on embedded defaults. A fresh rekey home in a temporary folder;
 * two keyrings; 10,000 records; a rotation through its propagation window and grace period
 * (an injected clock moves time, nothing sleeps); lazy re-wrap on reads; a background sweep to
 * zero old records; escrow and its restore drill; destruction after retention; an emergency
 * revocation. The version distribution is printed after each stage with its timing, and at
 * the end every record is decrypted and compared with a digest of its original. The scheduled
 * jobs (tick, cache invalidation, escrow archive and drill, revocation) run through the same
 * use cases the Lambda functions run, over the local composition root.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocal, type LocalServices } from '../shared/compose/local/local-services';
import { localJobContext } from '../shared/compose/local/local-jobs';
import { runCacheInvalidate } from '../shared/usecases/cache-invalidate';
import { runEscrow } from '../shared/usecases/escrow';
import { readKeyringStatus } from '../shared/usecases/keyring-status';
import { runGracePeriod } from '../shared/usecases/reconcile';
import { revokeVersion } from '../shared/usecases/revoke';
import { sweepWithProgress } from '../cli/commands/sweep';
import { renderStatus } from '../cli/render';
import { activeVersion } from '../shared/catalog';
import { recordContext } from '../shared/reencrypt';
import { inspectEnvelope } from '../shared/envelope';
import { run } from '../cli/main';

const DAY = 86_400_000;
const RECORDS = { pii: 6_000, ops: 4_000 } as const;
const CACHED = 500;

function digest(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const home = mkdtempSync(join(tmpdir(), 'rekey-start-'));
  let now = Date.now();
  const clock = () => new Date(now);
  const advance = (ms: number) => {
    now += ms;
  };
  const started = Date.now();
  const rk = await openLocal({ home, clock, actor: 'npm-start', redisUrl: process.env.REKEY_REDIS_URL });
  // What the scheduled Lambda functions get on AWS, here over the local home.
  const job = localJobContext(rk);
  const tick = () => runGracePeriod({}, job);
  let stageStart = Date.now();
  const stage = async (title: string, keyrings: readonly string[] = ['pii', 'ops']) => {
    const ms = Date.now() - stageStart;
    console.log(`\n== ${title}  [${ms} ms, clock ${clock().toISOString()}]`);
    for (const k of keyrings) process.stdout.write(renderStatus(await readKeyringStatus({ keyring: k }, job.services)));
    stageStart = Date.now();
  };

  try {
    console.log(`rekey walk-through in ${home} (cache: ${rk.cacheBackend})`);

    // 1. The CLI on this home: two keyrings with their own policies, one message through
    //    encrypt, inspect and decrypt (the same commands an operator types).
    const cli = async (...args: string[]) => {
      console.log(`$ rekey ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
      const code = await run(['--home', home, '--now', clock().toISOString(), ...args]);
      if (code !== 0) throw new Error(`rekey ${args[0]} exited ${code}`);
    };
    const msg = join(home, 'message.txt');
    const msgRk = join(home, 'message.rk');
    writeFileSync(msg, 'card 4111-1111-1111-1111, exp 12/29\n');
    await cli('keyring', 'create', 'pii', '--rotate-every', '30d', '--grace', '7d', '--propagation', '10m', '--retention', '30d');
    await cli('keyring', 'create', 'ops', '--rotate-every', '90d', '--grace', '7d', '--propagation', '10m', '--retention', '30d');
    await cli('encrypt', '--keyring', 'pii', '--context', 'tenant=acme', '--in', msg, '--out', msgRk);
    await cli('inspect', '--in', msgRk);
    await cli('decrypt', '--context', 'tenant=acme', '--in', msgRk);
    await stage('CLI walk-through: keyrings created, a message encrypted, inspected and decrypted');

    // 2. 10,000 records, each bound to its id; digests kept to check the end state.
    const digests = new Map<string, string>();
    for (const [keyring, n] of Object.entries(RECORDS)) {
      for (let i = 0; i < n; i += 1) {
        const id = `${keyring}-${String(i).padStart(5, '0')}`;
        const plaintext = randomBytes(randomInt(64, 2048));
        digests.set(id, digest(plaintext));
        await rk.recordService.put(id, keyring, plaintext, { context: { tenant: `t${i % 7}` } });
      }
    }
    // Some values are cached too: envelopes in the cache, never plaintext.
    for (let i = 0; i < CACHED; i += 1) await rk.cache.set(`session:${i}`, 'pii', randomBytes(128), { ttlSeconds: 86_400 * 30 });
    for (let i = 0; i < CACHED / 2; i += 1) await rk.cache.set(`ops-report:${i}`, 'ops', randomBytes(256), { ttlSeconds: 86_400 * 30 });
    // A copy of one ops envelope taken now, as a stale backup or replica would hold it.
    const staleCopy = await rk.envelopes.encrypt('ops', Buffer.from('a value written before the incident'));
    await stage(`10,000 records written (6,000 pii, 4,000 ops) and ${CACHED + CACHED / 2} cache entries`);

    // 3. Time passes: pii's rotation falls due; the scheduled tick adds v2 as pending.
    advance(30 * DAY + 1000);
    const t1 = await tick();
    console.log(`tick: ${t1.results.map((k) => `${k.keyring}: ${k.applied.map((t) => `${t.kind} v${t.version}`).join(', ') || 'nothing due'}`).join('; ')}`);
    await stage('30 days later: pii v2 is pending (readers learn it during the propagation window)', ['pii']);

    // 4. The propagation window passes: v2 becomes active, v1 rotating.
    advance(600_000 + 1000);
    await tick();
    await stage('10 minutes later: pii v2 active, v1 rotating (still decrypts)', ['pii']);

    // The message of stage 1 moves to v2 by re-wrapping its header only: payload bytes identical.
    const msgV2 = join(home, 'message-v2.rk');
    await cli('rewrap', '--in', msgRk, '--out', msgV2);
    await cli('decrypt', '--context', 'tenant=acme', '--in', msgV2);
    const [before, after] = [readFileSync(msgRk), readFileSync(msgV2)];
    const [hb, ha] = [inspectEnvelope(before), inspectEnvelope(after)];
    const samePayload = before.subarray(hb.headerLength).equals(after.subarray(ha.headerLength));
    let changed = 0;
    for (let i = 0; i < hb.headerLength; i += 1) if (before[i] !== after[i]) changed += 1;
    console.log(`re-wrap: v${hb.version} -> v${ha.version}; ${changed} of the header's ${hb.headerLength} bytes changed (the key slot); payload bytes identical: ${samePayload}`);
    if (!samePayload || ha.version !== 2) throw new Error('re-wrap changed the payload or missed the active version');

    // 5. Lazy re-wrap: the application reads a third of pii; every read of v1 data re-wraps it.
    let rewrapped = 0;
    for (let i = 0; i < RECORDS.pii; i += 3) {
      const id = `pii-${String(i).padStart(5, '0')}`;
      const r = await rk.recordService.get(id, { context: { tenant: `t${i % 7}` } });
      if (r.rewrap === 'rewrapped') rewrapped += 1;
      r.plaintext.fill(0);
    }
    await stage(`lazy re-wrap: ${rewrapped} records read and moved to v2 on the way`, ['pii']);

    // 6. The grace period ends: v1 deprecated; its cache entries are dropped by version.
    advance(7 * DAY + 1000);
    await tick();
    const invalidated = await runCacheInvalidate({ keyring: 'pii' }, job);
    const dropped = invalidated.results.flatMap((r) => (r.status === 'done' ? [r.dropped['1'] ?? 0] : []))[0] ?? 0;
    await stage(`7 days later: v1 deprecated; ${dropped} cache entries of v1 dropped through the per-version index`, ['pii']);

    // 7. The background sweep re-wraps the cold rest (header only), checkpointed.
    const [sweep] = await sweepWithProgress(rk, 'pii', { version: 1, mode: 'rewrap', concurrency: 8, batch: 500 });
    if (sweep === undefined) throw new Error('pii has no version 1 to sweep');
    console.log(`sweep pii v1: done ${sweep.done}, skipped ${sweep.skipped}, failed ${sweep.failedCount}, remaining ${sweep.remaining}`);
    await tick();
    await stage('sweep finished: no record references v1, so the tick disabled it', ['pii']);

    // 8. Escrow: archive every version, run the restore drill; after retention v1 is destroyed.
    await runEscrow({ action: 'archive' }, job);
    const drill = await runEscrow({ action: 'drill' }, job);
    const checks = drill.results.flatMap((r) => (r.status === 'done' ? r.versions : []));
    console.log(`escrow drill: ${checks.filter((r) => r.ok).length}/${checks.length} versions restored from escrow alone and their canaries decrypted`);
    if (!drill.ok) throw new Error('escrow drill failed');
    advance(30 * DAY + 1000);
    await tick();
    await stage('30 days of retention later: v1 kept disabled (destruction is opt-in: destroyAfterRetention is off)');

    // 9. A security event: ops v1 is compromised. Revocation does it all in one command.
    // Re-encryption must decrypt every record, so the application says how to rebuild each
    // record's context (here the tenant follows from the id; it is authenticated, not stored).
    const tenantOf = (id: string) => ({ tenant: `t${Number(id.slice(id.indexOf('-') + 1)) % 7}` });
    const revokeOps = () =>
      revokeVersion(
        {
          keyring: 'ops',
          version: 1,
          reason: 'security event SEC-1234: key material exposed in a log',
          actor: 'security-team',
          sweep: { concurrency: 8, batchSize: 500, contextFor: (record) => recordContext(record.id, tenantOf(record.id)) },
        },
        job,
      );
    let rev = await revokeOps();
    // The first run cannot call itself complete until one catalog cache lifetime has passed (a
    // writer may still encrypt under v1 from its cached catalog): wait it out, then re-count.
    if (rev.pending === 'settling') {
      advance(Date.parse(rev.settlesAt) - now + 1000);
      rev = await revokeOps();
    }
    if (!rev.complete) throw new Error(`revocation incomplete: ${rev.remaining} records remain under ops v1`);
    const refused = await rk.envelopes.decrypt(staleCopy).then(
      () => 'decrypted (WRONG)',
      (err: unknown) => `refused (${(err as { code?: string }).code ?? 'error'})`,
    );
    console.log(`a stale copy of an ops v1 envelope: ${refused}`);
    if (!refused.startsWith('refused')) throw new Error('a revoked version still decrypts');
    console.log(`revocation: ops v${rev.version} ${rev.state}; active v${rev.activeVersion}; cache purged ${rev.cacheEntriesPurged}; re-encrypted with fresh data keys ${rev.sweep?.done ?? 0}; remaining ${rev.remaining}`);
    await stage('emergency revocation of ops v1', ['ops']);

    // 10. Every record decrypts to its original.
    let ok = 0;
    for (const [id, expected] of digests) {
      const r = await rk.recordService.get(id, { context: tenantOf(id) });
      if (digest(r.plaintext) !== expected) throw new Error(`record ${id} does not match its original`);
      r.plaintext.fill(0);
      ok += 1;
    }
    for (const name of ['pii', 'ops']) {
      const c = await rk.keyrings.get(name);
      if (!activeVersion(c)) throw new Error(`${name} has no active version`);
    }
    console.log(`\nchecked: ${ok}/${digests.size} records decrypt to their originals`);
    console.log(`audit trail: ${(await rk.audit.read()).length} events in ${join(home, 'audit.jsonl')}`);
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await closeAndClean(rk, home, keep);
  }
}

async function closeAndClean(rk: LocalServices, home: string, keep: boolean): Promise<void> {
  await rk.close();
  if (keep) console.log(`home kept at ${home}`);
  else rmSync(home, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(`npm start failed: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  process.exitCode = 1;
});
