/**
 * Low-level POSIX process control, `import { posix } from 'posix-mp'`: fork+exec done by the addon, waiting
 * for this process's own children, signals, sessions and process groups, and the classic double-fork
 * daemon.
 *
 * Python's `os.waitpid` blocks; here, as everywhere in posix-mp, the blocking operation comes in two forms:
 * `waitpid()` returns a Promise and never blocks the event loop, `waitpidSync()` blocks the thread.
 */
import { invalidArgValue } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { signalName, signalNumber, type Signal } from './signals.js';
import {
  daemonizeProgram,
  spawnChild,
  waitChild,
  waitChildSync,
  type DaemonizeOptions,
  type ExitStatus,
  type SpawnOptions,
  type WaitpidOptions,
  type WaitpidSyncOptions,
} from './spawn.js';
import { validateBoolean, validateInteger, validateOptions } from '../internal/validate.js';
import { parseAsyncWait, parseSyncWait } from '../internal/wait.js';

export type { Signal } from './signals.js';
export type { DaemonizeOptions, ExitStatus, SpawnOptions, WaitpidOptions, WaitpidSyncOptions } from './spawn.js';

const INT32_MAX = 0x7fffffff;

/** `(file, options)` is accepted for `(file, [], options)`, as in `child_process.spawn`. */
function splitArgs(args: unknown, options: unknown): [unknown, unknown] {
  const isOptions = typeof args === 'object' && args !== null && !Array.isArray(args);
  if (isOptions && options === undefined) return [undefined, args];
  return [args, options];
}

/**
 * Starts a program by fork+exec and returns its pid — Python's `os.posix_spawnp`, or `os.fork()` followed
 * by `os.execvpe()`. `args` are the arguments after the program name, as in `child_process.spawn`
 * (`argv[0]` is `file`, or `options.argv0`). A `file` without a `/` is searched in the PATH of
 * `options.env`.
 *
 * The new program starts with every signal at its default disposition and none blocked, with exactly the
 * descriptors of `options.fds` (default: this process's stdin, stdout and stderr), and is reaped as soon as
 * it exits — it never stays a zombie; collect its status with {@link waitpid}. Until it exits it keeps the
 * event loop alive, unless `options.ref` is `false`.
 *
 * If the program cannot be started this throws a system error — e.g. `code: 'ENOENT'`, `syscall: 'execve'`,
 * `path: file`, or `syscall: 'chdir'` for a bad `cwd` — and no process is left behind.
 */
export function spawn(file: string, args?: readonly string[], options?: SpawnOptions): number;
export function spawn(file: string, options?: SpawnOptions): number;
export function spawn(file: string, args?: unknown, options?: unknown): number {
  const [a, o] = splitArgs(args, options);
  return spawnChild(file, a, o);
}

function parsePid(pid: unknown): number {
  // waitpid(-1) and waitpid(-pgid) are deliberately not offered: they would reap child_process's children.
  return validateInteger(pid, 'pid', 1, INT32_MAX);
}

/**
 * Waits for the exit of a child started by {@link spawn} in this thread and collects its status:
 * `{ pid, exitCode, signal, coreDumped }`, where `exitCode` is `null` if a signal killed it and `signal` is
 * `null` if it exited. Resolves `null` if `options.timeout` passes first, or at once with `noHang: true`
 * (or `timeout: 0`) if the child is still running. Once collected, a pid is no longer a child: waiting for
 * it again, or for any pid this thread did not spawn, rejects with `code: 'ECHILD'`.
 *
 * Waiting never blocks the event loop, nor occupies libuv's thread pool: the child's pidfd is polled on the
 * loop. A pending wait keeps the loop alive, even for a child spawned with `ref: false`.
 */
export async function waitpid(pid: number, options?: WaitpidOptions): Promise<ExitStatus | null> {
  const p = parsePid(pid);
  const wait = parseAsyncWait(options);
  if (validateBoolean(validateOptions<WaitpidOptions>(options).noHang, 'options.noHang', false)) wait.timeoutMs = 0;
  return waitChild(p, wait);
}

/**
 * Blocking form of {@link waitpid}: Python's `os.waitpid(pid, 0)`, or `os.waitpid(pid, os.WNOHANG)` with
 * `noHang: true` (then `null` means "still running"). Blocks the calling thread, up to `options.timeout`.
 */
export function waitpidSync(pid: number, options?: WaitpidSyncOptions): ExitStatus | null {
  const p = parsePid(pid);
  let timeoutMs = parseSyncWait(options);
  if (validateBoolean(validateOptions<WaitpidSyncOptions>(options).noHang, 'options.noHang', false)) timeoutMs = 0;
  return waitChildSync(p, timeoutMs);
}

/**
 * Starts a daemon, as the classic recipe does with two forks: an intermediate child calls `setsid()`, forks
 * the daemon and exits at once; the daemon sets its umask (default 0), changes to `options.cwd` (default
 * `'/'`), gets `/dev/null` as stdin and `options.stdout`/`options.stderr` (files, appended, or `/dev/null`)
 * and execs the program. Returns the daemon's pid.
 *
 * The daemon is not this process's child: it is adopted by init (or the nearest subreaper), is never our
 * zombie, outlives us, and cannot be waited for (`waitpid` rejects with `ECHILD`); use {@link kill}. It is
 * in a session of its own without being its leader, so it can never acquire a controlling terminal.
 * Errors are reported like {@link spawn}'s, once the daemon has exec'd or failed to.
 */
export function daemonize(file: string, args?: readonly string[], options?: DaemonizeOptions): number;
export function daemonize(file: string, options?: DaemonizeOptions): number;
export function daemonize(file: string, args?: unknown, options?: unknown): number {
  const [a, o] = splitArgs(args, options);
  return daemonizeProgram(file, a, o);
}

/**
 * Sends `signal` (default `'SIGTERM'`; `0` only checks that the process exists) to `pid` — any process,
 * or with `pid` 0 this process group, with a negative `pid` the group `-pid`, as kill(2). Throws
 * `code: 'ESRCH'` if there is no such process, `'EPERM'` if it is not ours to signal.
 */
export function kill(pid: number, signal: Signal = 'SIGTERM'): void {
  const p = validateInteger(pid, 'pid', -INT32_MAX, INT32_MAX);
  binding.kill(p, signalNumber(signal, 'signal', 0));
}

/** Sends `signal` (default `'SIGTERM'`) to every process of group `pgid` (0: this process's group). */
export function killpg(pgid: number, signal: Signal = 'SIGTERM'): void {
  const g = validateInteger(pgid, 'pgid', 0, INT32_MAX);
  binding.killpg(g, signalNumber(signal, 'signal', 0));
}

/**
 * Makes this process the leader of a new session and process group, without a controlling terminal, and
 * returns the session id (its pid). Throws `code: 'EPERM'` if it already leads a process group.
 */
export function setsid(): number {
  return binding.setsid();
}

/** The process group of `pid` (default 0: this process). */
export function getpgid(pid: number = 0): number {
  return binding.getpgid(validateInteger(pid, 'pid', 0, INT32_MAX));
}

function dispositionSignal(signal: unknown): number {
  const n = signalNumber(signal, 'signal');
  if (n === 9 || n === 19) throw invalidArgValue('signal', signal, 'cannot be caught or ignored (SIGKILL, SIGSTOP)');
  if (n === 32 || n === 33) throw invalidArgValue('signal', signal, 'is reserved by the C library');
  const name = signalName(n);
  // Node owns the disposition of a signal it has listeners for; changing it underneath would silently
  // disconnect them.
  if (process.listenerCount(name) > 0) {
    throw invalidArgValue('signal', signal, `has process.on('${name}') listeners; remove them first`);
  }
  return n;
}

/**
 * Ignores `signal` in this whole process (`SIG_IGN`; Python's `signal.signal(sig, signal.SIG_IGN)`), e.g.
 * `'SIGHUP'` so that closing the terminal does not end it. Programs started by {@link spawn} still get
 * default dispositions. `'SIGCHLD'` is refused (ignoring it makes the kernel discard every child's exit
 * status, `child_process`'s included), and so is a signal with `process.on` listeners.
 */
export function ignoreSignal(signal: Signal): void {
  const n = dispositionSignal(signal);
  if (n === 17) {
    throw invalidArgValue('signal', signal, 'must not be ignored: the exit status of every child would be lost');
  }
  binding.signalDisposition(n, true);
}

/**
 * Restores the default disposition (`SIG_DFL`) of `signal` in this whole process, e.g. `'SIGPIPE'`, which
 * Node ignores. A signal with `process.on` listeners is refused.
 */
export function defaultSignal(signal: Signal): void {
  binding.signalDisposition(dispositionSignal(signal), false);
}
