/**
 * The Node interpreters that Process children run in, and the pool of prepared ones.
 *
 * With the 'forkserver' start method a child is forked from the fork server (forkserver.ts) and then behaves
 * as a prepared interpreter. With 'spawn' a child is a fresh Node, started by the addon's fork+exec on
 * `dist/child.js`, with a job channel (a socket pair, fd 3 in the child) over which it receives what to run.
 * Booting Node costs ~140 ms of CPU — Python's fork start+join takes ~3 ms — so a *prepared* interpreter is
 * kept: one that has already booted, loaded the bootstrap and posix-mp, and sleeps in a blocking read of its
 * job channel. `start()` then only sends the job. After a prepared interpreter is used, a replacement is
 * started in the background.
 *
 * A prepared interpreter:
 * - never outlives this process: it is spawned with PR_SET_PDEATHSIG = SIGKILL, and it also exits when its
 *   job channel reaches EOF (this process closed it, or died);
 * - never keeps this process's event loop alive while idle (its exit watch is unref'ed);
 * - never leaks: its exit is watched and reaped like any child's.
 *
 * Trade-off: each prepared interpreter is an idle Node process, ~45 MB of RSS, and ~150 ms of CPU to prepare
 * (paid in the background, once per start). The default pool holds 1, which makes a lone `start()` fast; raise
 * it for bursts of starts, or set 0 (or the environment variable `POSIX_MP_PREPARED=0`) to turn preparation
 * off: every start then boots a cold interpreter.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { mpError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { sendJob } from './job.js';
import type { PassedFile } from '../comm/reduction.js';
import { validateInteger } from '../internal/validate.js';
import { forkFromServer, ZYGOTE_ARG } from './forkserver.js';
import type { StartMethod } from './start_method.js';

/** The job channel's descriptor number in the child. */
export const CHANNEL_FD = 3;
const SIGKILL = 9;

/** dist/child.js, next to this module's bundle (ESM chunk or CJS index). */
const CHILD_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child.js');

/** How an interpreter ended: Python's exitcode (the exit status, or -N if killed by signal N). */
export type ExitHandler = (exitCode: number) => void;

/**
 * Node options a child must not inherit: they name code to evaluate, change what the entry point is, or
 * would make every child fight for the parent's debugger port (`--inspect-brk` would even stop each child).
 */
const DROPPED_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '--input-type', '--watch-path', '--inspect-port', '--debug-port']);
const DROPPED = /^(?:-i|--interactive|-c|--check|--test|--watch|--watch-preserve-output|--inspect(?:-brk|-wait)?(?:=.*)?|--debug(?:-brk)?(?:=.*)?|--input-type=.*|--watch-path=.*|--inspect-port=.*|--eval=.*|--print=.*)$/;

/** This process's Node options, minus those that make no sense for a child (as Python passes its flags on). */
function childExecArgv(): string[] {
  const argv: string[] = [];
  const execArgv = process.execArgv;
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (DROPPED_WITH_VALUE.has(arg)) i++;
    else if (!DROPPED.test(arg)) argv.push(arg);
  }
  return argv;
}

/**
 * Node options the fork server gives itself, unless the user's options set the same thing; they come first,
 * and are named to it after its ZYGOTE_ARG so that it can undo them for its children:
 * - Node's code copied into huge pages: a forked child finds all of it mapped — fork() copies a few entries
 *   for it — instead of taking ~150 page faults on the binary's code (~0.3 ms of each start). Silently a
 *   no-op where transparent huge pages are off.
 * - Every function compiled when its script is (V8 compiles lazily, at the first call): a child would
 *   otherwise compile each function that only children run — the exit path, its own set-up, a preloaded
 *   target — ~0.35 ms of each start. The fork server turns lazy compilation back on before it forks, so its
 *   children compile their own new code as any Node does.
 * The fork server boots ~60 ms slower and is ~3 MB larger for them.
 */
const ZYGOTE_OPTIONS: readonly { option: string; family: RegExp }[] = [
  { option: '--use-largepages=silent', family: /^--use-largepages(?:=|$)/ },
  { option: '--no-lazy', family: /^--(?:no-)?lazy$/ },
];

/**
 * Variables that would make the new Node something else than a plain program: an IPC channel on some fd
 * (child_process.fork), a cluster worker. Node removes them from process.env at startup, so they are only
 * here if user code put them back.
 */
const NOT_INHERITED = new Set(['NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'NODE_UNIQUE_ID']);

function environment(): string[] {
  const envp: string[] = [];
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !NOT_INHERITED.has(key)) envp.push(`${key}=${value}`);
  }
  return envp;
}

/**
 * What the fork server's environment adds to this process's: the dynamic linker told to bind every symbol at
 * load (LD_BIND_NOW). Otherwise each child would look up, on its first call, every library function that
 * only children call (~50 page faults and as many symbol searches per start). The fork server removes it
 * from its own environment once booted; a child's environment is its requester's anyway.
 */
function zygoteVariables(): string[] {
  return process.env.LD_BIND_NOW === undefined ? ['LD_BIND_NOW=1'] : [];
}

/**
 * The command line and environment of a child Node: `node [the parent's options] dist/child.js`; for the
 * fork server, with the Node options of ZYGOTE_OPTIONS it adds first and the variables of zygoteVariables(),
 * all of which it is told about after its ZYGOTE_ARG:
 * `dist/child.js --posix-mp-zygote '<what it was given for itself>' [modules to preload...]`.
 */
function command(origin: 'spawn' | { preload: readonly string[] }): { argv: string[]; envp: string[] } {
  const options = childExecArgv();
  if (origin === 'spawn') return { argv: [process.execPath, ...options, CHILD_SCRIPT], envp: environment() };
  const added = ZYGOTE_OPTIONS.filter(({ family }) => !options.some((arg) => family.test(arg))).map(({ option }) => option);
  const variables = zygoteVariables();
  return {
    argv: [process.execPath, ...added, ...options, CHILD_SCRIPT, ZYGOTE_ARG, [...added, ...variables].join(' '), ...origin.preload],
    envp: [...environment(), ...variables],
  };
}

/**
 * Environment variables Node reads only while booting: a prepared interpreter booted with other values than
 * the current ones would not behave like a fresh child, so it is discarded.
 */
const BOOT_VARIABLES = ['NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'UV_THREADPOOL_SIZE'] as const;

export function bootFingerprint(): string {
  return BOOT_VARIABLES.map((name) => process.env[name] ?? '').join('\0');
}

/**
 * Where an interpreter comes from: a fresh Node (`'spawn'`), a fresh Node that becomes the fork server and
 * imports the modules to preload (`{ preload }`, see forkserver.ts), or a fork of the fork server: its pid and
 * our end of its job channel, on which its job has been sent already.
 */
export type Origin = 'spawn' | { preload: readonly string[] } | { pid: number; channel: number };

/** A child Node running dist/child.js, waiting for (or running) its job. */
export class Interpreter {
  readonly pid: number;
  /** Booted with these boot variables (see BOOT_VARIABLES). */
  readonly fingerprint: string;
  /** Our end of the job channel until the job is sent. */
  #channel: number | undefined;
  #exitCode: number | null = null;
  #onExit: ExitHandler | undefined;

  /**
   * Forks and execs a new interpreter, or takes one the fork server forked (see Origin). `deathSignal` is
   * sent to a new one when this process dies (0: none).
   */
  constructor(deathSignal: number, ref: boolean, origin: Origin = 'spawn') {
    const onExit = (code: number, signal: number): void => this.#exited(signal !== 0 ? -signal : code);
    this.fingerprint = bootFingerprint();
    if (typeof origin === 'object' && 'pid' in origin) {
      // The watch keeps a copy of the channel, on which the exit status comes.
      try {
        binding.watchForkedChild(origin.pid, origin.channel, onExit, ref);
      } finally {
        binding.closeFd(origin.channel);
      }
      this.pid = origin.pid;
      return;
    }
    const { argv, envp } = command(origin);
    const [ours, theirs] = binding.socketPair();
    try {
      this.pid = binding.spawn(
        {
          file: process.execPath,
          paths: [process.execPath],
          argv,
          envp,
          cwd: undefined,
          // stdin is /dev/null, as in Python's children; stdout and stderr are shared with this process.
          fds: [-1, 1, 2, theirs],
          setsid: false,
          pgid: -1,
          deathSignal,
          umask: -1,
          ref,
        },
        onExit,
      );
    } catch (error) {
      binding.closeFd(ours);
      throw error;
    } finally {
      binding.closeFd(theirs);
    }
    this.#channel = ours;
  }

  /** Our end of the job channel until the job is sent (the fork server's control socket for its zygote). */
  get channel(): number | undefined {
    return this.#channel;
  }

  /** Null while running; the exit status, or -N if killed by signal N. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Called once when the interpreter has exited (and been reaped). */
  set onExit(handler: ExitHandler | undefined) {
    this.#onExit = handler;
  }

  #exited(code: number): void {
    this.#exitCode = code;
    this.#closeChannel();
    this.#onExit?.(code);
  }

  #closeChannel(): void {
    if (this.#channel === undefined) return;
    binding.closeFd(this.#channel);
    this.#channel = undefined;
  }

  /**
   * Sends the serialized job (with the descriptors of `files`), then closes our end of the channel — after
   * handing a copy to the native child watch, which receives the child's exit report on it: the exit status
   * the child sends just before `_exit()` (child.ts), so that `join()` need not wait the milliseconds the
   * kernel takes to tear a Node process down before reaping it.
   */
  send(job: Buffer, files: readonly PassedFile[]): void {
    if (this.#channel === undefined) throw mpError('ERR_MP_PROTOCOL', 'the interpreter already has a job');
    try {
      sendJob(this.#channel, job, files);
      binding.childExitReport(this.pid, this.#channel);
    } finally {
      this.#closeChannel();
    }
  }

  /** Closes an idle interpreter's channel: it reads EOF and exits. */
  dismiss(): void {
    this.#closeChannel();
  }

  /** Whether the interpreter keeps this process's event loop alive until it exits. */
  ref(ref: boolean): void {
    if (this.#exitCode === null) binding.childRef(this.pid, ref);
  }

  /**
   * Blocks until the interpreter exits or `timeoutMs` passes (-1: forever); 0 only checks. The exit handler
   * has run when this returns true.
   */
  waitSync(timeoutMs: number): boolean {
    if (this.#exitCode !== null) return true;
    return binding.childWait(this.pid, timeoutMs);
  }

  /** Sends a signal unless the interpreter has been reaped (so the pid can never be someone else's). */
  signal(signal: number): void {
    if (this.#exitCode !== null) return;
    try {
      binding.kill(this.pid, signal);
    } catch (error) {
      // ESRCH: it exited between our check and the kill, and is a zombie awaiting its reaping.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

/** Default number of prepared interpreters, unless POSIX_MP_PREPARED says otherwise. */
const DEFAULT_POOL_SIZE = 1;
/** How long a used prepared interpreter's replacement waits before booting (see PreparedPool.take). */
const REFILL_DELAY_MS = 100;
/** Prepared interpreters that die idle, in a row, before preparation stops (it would fail forever). */
const MAX_FAILURES = 3;

function sizeFromEnvironment(): number {
  const value = process.env.POSIX_MP_PREPARED;
  if (value === undefined || value === '') return DEFAULT_POOL_SIZE;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 64) : DEFAULT_POOL_SIZE;
}

/** The prepared interpreters of this process. */
class PreparedPool {
  size = sizeFromEnvironment();
  readonly #idle: Interpreter[] = [];
  #refillScheduled = false;
  /** Prepared interpreters that died before being used, in a row: stop preparing if they keep dying. */
  #failures = 0;

  constructor() {
    // In a worker_thread that ends, idle interpreters must not wait for the whole process to end: closing
    // their channels makes them exit now. (When the process itself ends, the kernel does the same.)
    process.once('exit', () => this.resize(0));
  }

  /** An idle prepared interpreter, if one is ready (or booting); a replacement is prepared afterwards. */
  take(): Interpreter | undefined {
    const fingerprint = bootFingerprint();
    let interpreter: Interpreter | undefined;
    while ((interpreter = this.#idle.shift()) !== undefined) {
      if (interpreter.fingerprint === fingerprint) break;
      interpreter.dismiss();
    }
    // One lived long enough to be used: preparing works.
    if (interpreter) this.#failures = 0;
    // A start that found a prepared interpreter lets its job run before the replacement's boot competes
    // with it for CPU; one that found none shows that starts come faster than preparation: resume at once.
    this.refill(interpreter ? REFILL_DELAY_MS : 0);
    return interpreter;
  }

  resize(size: number): void {
    this.size = size;
    while (this.#idle.length > size) this.#idle.pop()!.dismiss();
    this.refill();
  }

  /** Prepares interpreters up to the pool size, `delay` ms later (never inside start(), which stays fast). */
  refill(delay = 0): void {
    if (this.#refillScheduled || this.#idle.length >= this.size || this.#failures >= MAX_FAILURES) return;
    this.#refillScheduled = true;
    // Unref'ed: preparing for a start that will never come must not keep the process alive.
    setTimeout(() => {
      this.#refillScheduled = false;
      while (this.#idle.length < this.size && this.#failures < MAX_FAILURES) this.#prepare();
    }, delay).unref();
  }

  #prepare(): void {
    let interpreter: Interpreter;
    try {
      interpreter = new Interpreter(SIGKILL, false);
    } catch {
      // Out of processes or memory: starts fall back to cold interpreters, which report the error.
      this.#failures = MAX_FAILURES;
      return;
    }
    interpreter.onExit = (exitCode) => {
      // Died idle (a dismissed one is no longer listed): killed from outside (a signal: Ctrl-C reaches the
      // whole process group), or failed to boot (an exit status: broken Node options, say). One that cannot
      // even boot must not be replaced forever.
      const index = this.#idle.indexOf(interpreter);
      if (index < 0) return;
      this.#idle.splice(index, 1);
      if (exitCode > 0) this.#failures++;
      this.refill();
    };
    this.#idle.push(interpreter);
  }
}

const POOL = Symbol.for('posix-mp.prepared');

/** One pool per process, shared by the ESM and CommonJS copies of the package. */
function pool(): PreparedPool {
  const g = globalThis as { [POOL]?: PreparedPool };
  return (g[POOL] ??= new PreparedPool());
}

/**
 * An interpreter running a new Process's job, sent to it. With 'forkserver', a fork of the fork server,
 * unless it is unavailable right now. Else a prepared one if there is one, else a cold one started now (never
 * waiting for a prepared one to boot); either way the pool is topped up in the background.
 */
export function startInterpreter(daemon: boolean, method: StartMethod, job: Buffer, files: readonly PassedFile[]): Interpreter {
  if (method === 'forkserver') {
    const forked = forkFromServer(daemon, job, files);
    if (forked) return forked;
  }
  // A cold child gets its final death signal at once; a prepared one adjusts its own (see child.ts).
  const cold = (): Interpreter => new Interpreter(daemon ? SIGKILL : 0, !daemon);
  let interpreter = pool().take() ?? cold();
  try {
    interpreter.send(job, files);
  } catch (error) {
    // A prepared interpreter that died a moment ago: start a fresh one instead (a cold one cannot be gone).
    interpreter.dismiss();
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE' && (error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    interpreter = cold();
    interpreter.send(job, files);
  }
  return interpreter;
}

/**
 * Sets how many prepared interpreters this process keeps ready for `Process.start()` (default 1, or the
 * environment variable `POSIX_MP_PREPARED`). Each one is an idle Node process (~45 MB RSS) that cost ~150 ms
 * of CPU to prepare; in exchange a start that finds one ready takes a few milliseconds instead of a Node
 * boot. `0` turns preparation off (idle interpreters exit at once). Preparation otherwise starts with the
 * first `start()`, never at import; calling this with a positive count prepares right away.
 */
export function setPreparedInterpreters(count: number): void {
  validateInteger(count, 'count', 0, 64);
  pool().resize(count);
}

/** The number of prepared interpreters this process keeps ready (see {@link setPreparedInterpreters}). */
export function getPreparedInterpreters(): number {
  return pool().size;
}
