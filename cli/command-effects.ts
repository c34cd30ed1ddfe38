/**
 * What each command does to the system it reaches: only reads it, or changes it. After a command
 * that changes something the CLI names the system it acted on (`rekey: acted on local home X`),
 * so an operator who meant the stack and reached a local home (or the other way round) sees it
 * at once. One table for both modes: a command path means the same thing in each.
 */

/** `reads`: looks only. `changes`: writes the catalog, records, escrow, files' declarations, or sends an event. */
export type CommandEffect = 'reads' | 'changes';

/**
 * Every command path of both trees (local and `--aws`), space-separated without `rekey`.
 * Paths of commands still being added are listed too, so they are classified when they land.
 */
export const COMMAND_EFFECTS: Readonly<Record<string, CommandEffect>> = {
  // keyrings
  'keyring create': 'changes',
  'keyring list': 'reads',
  'keyring sources': 'changes',
  'keyring update': 'changes',
  'keyring delete': 'changes',
  // envelopes: encrypt declares the files source on its keyring; rewrap re-wraps under the active version.
  encrypt: 'changes',
  decrypt: 'reads',
  inspect: 'reads',
  rewrap: 'changes',
  // lifecycle
  rotate: 'changes',
  tick: 'changes',
  plan: 'reads',
  reenable: 'changes',
  revoke: 'changes',
  freeze: 'changes',
  unfreeze: 'changes',
  status: 'reads',
  sweep: 'changes',
  migrate: 'changes',
  // records: a get may re-wrap the record under the active version on the way (lazy
  // re-encryption), but what the operator asked for is a read: the re-wrap keeps what the record
  // says, so it is not announced (a pipeline reading many records would drown in the line).
  'records put': 'changes',
  'records get': 'reads',
  'records list': 'reads',
  'records delete': 'changes',
  'records import': 'changes',
  'cache stats': 'reads',
  // escrow: the drill archives what is missing first and stamps each proven version.
  'escrow archive': 'changes',
  'escrow verify': 'changes',
  'escrow restore': 'changes',
  // consumers: the registry document (the stack's key-access function grants from it).
  'consumers add': 'changes',
  'consumers remove': 'changes',
  'consumers list': 'reads',
  audit: 'reads',
  // AWS mode only: the stack's outputs.
  outputs: 'reads',
};

/**
 * The effect of the command at `path` (e.g. `'keyring create'`), or undefined when it is not classified.
 *
 * @example
 * commandEffect('records put'); // 'changes'
 */
export function commandEffect(path: string): CommandEffect | undefined {
  return Object.prototype.hasOwnProperty.call(COMMAND_EFFECTS, path) ? COMMAND_EFFECTS[path] : undefined;
}

/**
 * Whether the CLI names the system after running `path`. An unclassified command counts as
 * changing: naming the system once too often is harmless, keeping quiet after a change is not.
 */
export function namesTarget(path: string): boolean {
  return commandEffect(path) !== 'reads';
}
