/**
 * Declared data sources of a keyring: the holders of envelopes rekey cannot count ("files",
 * "backups"). Their names are labels for people and audit events, hence a narrow alphabet.
 */
import { ValidationError } from '../errors';
import type { Catalog, CatalogSources } from './model';

/** One unmanaged source name: 1 to 40 characters of `[a-z0-9._-]`, starting with a letter or digit. */
export const SOURCE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,39}$/;

/** Most unmanaged sources one keyring may declare. */
export const MAX_UNMANAGED_SOURCES = 16;

/** The source `rekey encrypt` declares when it writes a file for a keyring. */
export const FILES_SOURCE = 'files';

/**
 * Checks and normalizes a list of unmanaged source names: trimmed, de-duplicated, sorted.
 *
 * @example
 * normalizeUnmanaged([' files', 'backups', 'files']); // ['backups', 'files']
 * @throws ValidationError naming the first bad entry (truncated) or a list that is too long.
 */
export function normalizeUnmanaged(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of names) {
    const name = typeof raw === 'string' ? raw.trim() : '';
    if (!SOURCE_NAME_PATTERN.test(name)) {
      throw new ValidationError(`invalid unmanaged source '${String(raw).slice(0, 40)}': use 1 to 40 characters of a-z, 0-9, '.', '_' or '-'`);
    }
    out.add(name);
  }
  if (out.size > MAX_UNMANAGED_SOURCES) {
    throw new ValidationError(`at most ${MAX_UNMANAGED_SOURCES} unmanaged sources may be declared`);
  }
  return [...out].sort();
}

/**
 * Parses the CLI's comma-separated list (`files,backups`).
 *
 * @example
 * parseUnmanagedList('files, backups'); // ['backups', 'files']
 * @throws ValidationError on an empty or bad entry.
 */
export function parseUnmanagedList(text: string): string[] {
  return normalizeUnmanaged(text.split(','));
}

/** The unmanaged sources a catalog declares (empty when none). */
export function unmanagedSources(catalog: Pick<Catalog, 'sources'>): readonly string[] {
  return catalog.sources?.unmanaged ?? [];
}

/** Whether two source declarations say the same. */
export function sameSources(a: CatalogSources | undefined, b: readonly string[]): boolean {
  const left = a?.unmanaged ?? [];
  return left.length === b.length && left.every((name, i) => name === b[i]);
}
