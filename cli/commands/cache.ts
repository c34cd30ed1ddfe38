/**
 * `rekey cache stats` (local mode): cache entries per version; with Redis configured but not
 * answering, says the counts are unavailable instead of failing or printing zeros.
 */
import type { Command } from 'commander';
import { writeJson, writeStdout } from '../io';
import { withLocal } from '../local-context';

/** Registers the `cache` group on `program`. */
export function registerCacheCommands(program: Command): void {
  const cache = program.command('cache').description('the encrypted cache');
  cache
    .command('stats [keyring]')
    .description('cache entries per version (the in-process cache is per process: set REKEY_REDIS_URL to share one)')
    .option('--json', 'print as JSON: { backend, available, keyrings: { NAME: { vN: entries } } } (keyrings empty when unavailable)')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      await withLocal(cmd, async (rk) => {
        if (!rk.cacheAvailable) {
          // withLocal has already said why on stderr; zeros would read as "nothing cached".
          if (o.json) return writeJson({ backend: rk.cacheBackend, available: false, keyrings: {} });
          return writeStdout(`cache backend: ${rk.cacheBackend} (unavailable: entry counts unknown)\n`);
        }
        const names = name ? [name] : (await rk.keyrings.list()).map((c) => c.keyring);
        const stats: Record<string, Record<string, number>> = {};
        for (const n of names) stats[n] = Object.fromEntries([...(await rk.cacheStore.countByVersion(n))].map(([v, c]) => [`v${v}`, c]));
        if (o.json) return writeJson({ backend: rk.cacheBackend, available: true, keyrings: stats });
        await writeStdout(`cache backend: ${rk.cacheBackend}\n`);
        for (const [n, s] of Object.entries(stats)) await writeStdout(`${n}: ${Object.entries(s).map(([v, c]) => `${v}=${c}`).join(' ') || 'no entries'}\n`);
      });
    });
}
