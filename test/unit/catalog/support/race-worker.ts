/**
 * A second process for the cross-process race test: runs a KeyringService on the shared
 * SQLite catalog and JSONL audit log, ticking at the schedule given on the command line,
 * once the parent writes a line on stdin (so both start together).
 */
import { KeyringService } from '../../../../shared/catalog/keyring-service';
import { SqliteCatalogStore } from '../../../../shared/adapters/local/sqlite-catalog-store';
import { JsonlAuditSink } from '../../../../shared/adapters/local/jsonl-audit-sink';
import { MapFacts, MemoryKeyVault } from './fakes';
import { raceSchedule, type RaceSpec } from './race-schedule';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as RaceSpec;
  const facts = new MapFacts(0);
  for (let v = 1; v <= spec.rounds + 1; v += 1) facts.setEscrow(spec.keyring, v, true);
  const service = new KeyringService({
    store: new SqliteCatalogStore(spec.db),
    vault: new MemoryKeyVault(),
    audit: new JsonlAuditSink(spec.audit),
    facts,
    clock: () => new Date(spec.base),
  });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  let failed = 0;
  for (const now of raceSchedule(spec)) {
    failed += (await service.tick({ keyring: spec.keyring, now, actor: `worker:${process.pid}` })).failed;
  }
  process.stdout.write(`${JSON.stringify({ failed })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
