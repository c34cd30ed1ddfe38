/**
 * Confirmation of irreversible steps (revoke, keyring delete, escrow restore): on a terminal the
 * operator types the keyring's name back, as `gh repo delete` and `terraform destroy` ask; a
 * script passes `--yes`. Without a terminal and without `--yes` nothing is done.
 */
import { createInterface } from 'node:readline/promises';
import { ValidationError } from '../shared/errors';

/** What {@link confirmIrreversible} asks. */
export interface ConfirmRequest {
  /** One line saying what will happen, e.g. `revoke pii v3 in stack Rekey (eu-west-1)`. */
  readonly action: string;
  /** What the operator must type back (the keyring's name). */
  readonly answer: string;
  /** `--yes` was given. */
  readonly yes?: boolean;
  /** Streams, injectable for tests. @default process.stdin / process.stderr */
  readonly input?: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly output?: NodeJS.WritableStream;
}

/**
 * Returns when the step is confirmed; throws ValidationError (exit 2, nothing changed) otherwise.
 *
 * @example
 * await confirmIrreversible({ action: 'revoke pii v3', answer: 'pii', yes: o.yes });
 */
export async function confirmIrreversible(req: ConfirmRequest): Promise<void> {
  if (req.yes === true) return;
  const input = req.input ?? process.stdin;
  const output = req.output ?? process.stderr;
  if (input.isTTY !== true) {
    throw new ValidationError(`${req.action} cannot be undone: confirm with --yes (no terminal to ask on); nothing was changed`);
  }
  const rl = createInterface({ input, output, terminal: true });
  try {
    let typed: string;
    try {
      typed = await rl.question(`${req.action}: this cannot be undone. Type '${req.answer}' to go on: `);
    } catch (err) {
      // Ctrl-C or Ctrl-D at the prompt (readline's AbortError): a refusal, not a crash.
      if ((err as { name?: string }).name === 'AbortError') {
        output.write('\n'); // end the prompt's line, so the reason stands on its own
        throw new ValidationError('not confirmed (the prompt was closed); nothing was changed');
      }
      throw err;
    }
    if (typed.trim() !== req.answer) throw new ValidationError(`not confirmed (expected '${req.answer}'); nothing was changed`);
  } finally {
    rl.close();
  }
}
