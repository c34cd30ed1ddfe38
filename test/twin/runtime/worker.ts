/**
 * One execution environment: a Node 24 child process that requires a function's bundle once
 * (cold start) and then serves one invocation at a time over IPC, as Lambda runs one
 * invocation per execution environment ("Understanding the Lambda execution environment
 * lifecycle"). Its stdout/stderr are captured line by line and attributed to the phase that
 * wrote them; see ./worker-main.js for the child's side.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LambdaErrorPayload, LogLine } from './types';

const WORKER_MAIN = path.join(__dirname, 'worker-main.js');
const DATE_SHIM = path.join(__dirname, 'sim-date-shim.js');
// ASCII record separators around the marker: no function writes them into a log line.
const RS = String.fromCharCode(0x1e);
const SENTINEL = new RegExp(`${RS}TWIN-END:(\\d+)${RS}\n`);

/** How one phase (init or invoke) ended. */
export type PhaseResult =
  | { readonly kind: 'ok'; readonly payload?: string }
  | { readonly kind: 'error'; readonly error: LambdaErrorPayload }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'crash'; readonly exitCode: number | null; readonly signal: string | null };

/** A phase's result with its output. */
export interface PhaseOutcome {
  readonly result: PhaseResult;
  readonly logs: LogLine[];
  /** Real milliseconds from sending the message to the end of the phase. */
  readonly durationMs: number;
}

/** Options of {@link Worker.start}. */
export interface WorkerStartOptions {
  readonly node: string;
  readonly taskRoot: string;
  /** The complete environment of the process (nothing is inherited). */
  readonly env: Readonly<Record<string, string>>;
  /** Simulated time at the start of the init phase. */
  readonly now: number;
  readonly initTimeoutMs: number;
}

/** One invocation request to a warm worker. */
export interface WorkerInvokeRequest {
  readonly requestId: string;
  readonly invokedFunctionArn: string;
  readonly event: unknown;
  readonly now: number;
  /** The function's configured timeout in ms (what getRemainingTimeInMillis counts down from). */
  readonly timeoutMs: number;
  /** Real ms per simulated timeout ms: the worker is killed after `timeoutMs * timeScale` real ms. */
  readonly timeScale: number;
}

interface Phase {
  readonly seq: number;
  readonly phase: LogLine['phase'];
  readonly lines: LogLine[];
  readonly started: number;
  done: { stdout: boolean; stderr: boolean };
  message?: { ok?: boolean; payload?: string; error?: LambdaErrorPayload };
  readonly resolve: (o: PhaseOutcome) => void;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
}

/** A live execution environment. */
export class Worker {
  private seq = 0;
  private current: Phase | undefined;
  private readonly buffers = { stdout: '', stderr: '' };
  private exited = false;
  private exit: { code: number | null; signal: string | null } = { code: null, signal: null };

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.onData('stdout', chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.onData('stderr', chunk));
    child.on('message', (msg: { type: string; seq: number; ok?: boolean; payload?: string; error?: LambdaErrorPayload }) => {
      if (this.current === undefined || msg.seq !== this.current.seq) return;
      this.current.message = msg.type === 'init-done' ? { ok: msg.error === undefined, ...(msg.error === undefined ? {} : { error: msg.error }) } : msg;
      this.settleIfComplete();
    });
    // 'close' comes after the stdio streams ended, so no output of a dying worker is lost.
    child.on('close', (code, signal) => {
      this.exited = true;
      this.exit = { code, signal };
      this.flush('stdout');
      this.flush('stderr');
      const phase = this.current;
      if (phase === undefined) return;
      this.finish(phase, phase.timedOut ? { kind: 'timeout' } : { kind: 'crash', exitCode: code, signal });
    });
    child.on('error', () => undefined);
  }

  /**
   * Spawns the process and runs the init phase (requires the bundle).
   *
   * @example
   * const { worker, init } = await Worker.start({ node, taskRoot, env, now: clock.now(), initTimeoutMs: 10_000 });
   */
  public static async start(options: WorkerStartOptions): Promise<{ worker: Worker; init: PhaseOutcome }> {
    const child = fork(WORKER_MAIN, [], {
      execPath: options.node,
      execArgv: ['--require', DATE_SHIM],
      env: { ...options.env },
      cwd: options.taskRoot,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const worker = new Worker(child);
    const init = await worker.run('init', { type: 'init', now: options.now }, options.initTimeoutMs);
    return { worker, init };
  }

  /** True while the process runs. */
  public get alive(): boolean {
    return !this.exited;
  }

  /** The process id (for diagnostics). */
  public get pid(): number | undefined {
    return this.child.pid;
  }

  /** How the process ended, once it has. */
  public get exitStatus(): { code: number | null; signal: string | null } {
    return this.exit;
  }

  /** Runs one invocation; the worker is killed if it exceeds its (scaled) timeout. */
  public invoke(request: WorkerInvokeRequest): Promise<PhaseOutcome> {
    const { now, timeoutMs, timeScale, ...rest } = request;
    return this.run('invoke', { type: 'invoke', now, timeoutMs, timeScale, ...rest }, timeoutMs * timeScale);
  }

  /** Kills the process (SIGKILL: an execution environment gets no say in its shutdown here). */
  public kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private run(phase: LogLine['phase'], message: Record<string, unknown>, limitMs: number): Promise<PhaseOutcome> {
    if (this.current !== undefined) throw new Error('twin worker: one invocation per execution environment');
    if (this.exited) return Promise.resolve({ result: { kind: 'crash', exitCode: this.exit.code, signal: this.exit.signal }, logs: [], durationMs: 0 });
    const seq = ++this.seq;
    return new Promise<PhaseOutcome>((resolve) => {
      const current: Phase = { seq, phase, lines: [], started: performance.now(), done: { stdout: false, stderr: false }, resolve, timedOut: false };
      this.current = current;
      current.timer = setTimeout(() => {
        current.timedOut = true;
        this.kill();
      }, Math.max(1, Math.round(limitMs)));
      this.child.send({ ...message, seq });
    });
  }

  private onData(stream: 'stdout' | 'stderr', chunk: string): void {
    this.buffers[stream] += chunk;
    for (;;) {
      const buf = this.buffers[stream];
      const match = SENTINEL.exec(buf);
      if (match === null) break;
      this.emitLines(stream, buf.slice(0, match.index), true);
      this.buffers[stream] = buf.slice(match.index + match[0].length);
      if (this.current !== undefined && Number(match[1]) === this.current.seq) {
        this.current.done[stream] = true;
        this.settleIfComplete();
      }
    }
    const rest = this.buffers[stream];
    const cut = rest.lastIndexOf('\n');
    if (cut >= 0) {
      this.emitLines(stream, rest.slice(0, cut + 1), false);
      this.buffers[stream] = rest.slice(cut + 1);
    }
  }

  private flush(stream: 'stdout' | 'stderr'): void {
    this.emitLines(stream, this.buffers[stream], true);
    this.buffers[stream] = '';
  }

  private emitLines(stream: 'stdout' | 'stderr', text: string, includePartial: boolean): void {
    if (text === '') return;
    const parts = text.split('\n');
    // Text ending in a newline leaves an empty last part; a partial line is kept only when asked.
    const last = parts.pop() ?? '';
    if (includePartial && last !== '') parts.push(last);
    const phase = this.current?.phase ?? 'invoke';
    for (const line of parts) this.current?.lines.push({ stream, phase, text: line });
  }

  private settleIfComplete(): void {
    const phase = this.current;
    if (phase === undefined || phase.message === undefined || !phase.done.stdout || !phase.done.stderr) return;
    const m = phase.message;
    const result: PhaseResult = m.ok === true ? { kind: 'ok', ...(m.payload === undefined ? {} : { payload: m.payload }) } : { kind: 'error', error: m.error ?? { errorType: 'Error', errorMessage: '' } };
    this.finish(phase, result);
  }

  private finish(phase: Phase, result: PhaseResult): void {
    if (this.current !== phase) return;
    clearTimeout(phase.timer);
    this.current = undefined;
    phase.resolve({ result, logs: phase.lines, durationMs: performance.now() - phase.started });
  }
}
