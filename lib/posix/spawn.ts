/**
 * Children started by the addon's fork+exec: option checks, the PATH search, and the registry of this
 * thread's children and their exit statuses. `posix` (posix.ts) and the Process class build on it.
 *
 * Every child is watched on the event loop from the moment it is spawned and reaped as soon as it exits, so
 * none is ever left a zombie. Its exit status is then either handed to the `onExit` callback it was spawned
 * with, or, for children of `posix.spawn`, kept until `waitpid` collects it — like a zombie's status, but
 * costing a few bytes of memory instead of a process table entry.
 */
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

import { invalidArgType, invalidArgValue, type CodedError } from '../internal/errors.js';
import { binding, type SpawnRequest } from '../internal/native.js';
import { signalName, signalNumber, type Signal } from './signals.js';
import { validateBoolean, validateInteger, validateOptions } from '../internal/validate.js';
import type { ParsedAsyncWait } from '../internal/wait.js';

/** How a child ended, as Node's `'exit'` event reports it. */
export interface ExitStatus {
  /** The child's pid. */
  pid: number;
  /** The exit status if the child exited normally, `null` if a signal killed it. */
  exitCode: number | null;
  /** The name of the signal that killed the child (`'SIGKILL'`), `null` if it exited normally. */
  signal: string | null;
  /** Whether the kernel dumped a core when the signal killed it. */
  coreDumped: boolean;
}

/** Options of `posix.spawn`. */
export interface SpawnOptions {
  /**
   * The program's environment; default `process.env`. Variables whose value is `undefined` are left out.
   * A `file` without a `/` is searched in this environment's `PATH` (default `/bin:/usr/bin`), like
   * `child_process.spawn` does.
   */
  env?: Record<string, string | undefined>;
  /** The program's working directory; default the parent's. */
  cwd?: string | URL;
  /**
   * The descriptors the program gets. Array form: `fds[i]` is the parent descriptor that becomes the
   * program's descriptor `i` (default `[0, 1, 2]`). Object form: `{ 3: pipeEnd }` sets the listed slots on
   * top of the default stdio. `null` (or a hole) means `/dev/null` for 0–2 and closed from 3 on — the
   * meaning of `'ignore'` in `child_process`. No other descriptor of this process reaches the program:
   * everything not listed is closed at exec, whatever its close-on-exec flag.
   */
  fds?: readonly (number | null | undefined)[] | { readonly [childFd: number]: number | null };
  /** Start a new session (and process group) led by the program, detached from the terminal. */
  setsid?: boolean;
  /** Put the program in process group `pgid`; `0` makes it the leader of a new group. Not with `setsid`. */
  pgid?: number;
  /**
   * A signal the kernel sends the program when this process dies, however it dies (SIGKILL included).
   * Children are forked from a thread that lives as long as the process, so a child spawned from a
   * worker_thread does not get it when that worker ends. It is dropped by the kernel if the program is
   * set-user-ID or set-group-ID.
   */
  deathSignal?: Signal;
  /** `argv[0]` for the program; default `file`. */
  argv0?: string;
  /**
   * Whether the child keeps this thread's event loop alive until it exits (default `true`, like a
   * `child_process` child; `false` is `child.unref()`). A pending `waitpid` keeps it alive regardless.
   */
  ref?: boolean;
}

/** Options of `posix.daemonize`. */
export interface DaemonizeOptions {
  /** The daemon's environment; default `process.env`. See {@link SpawnOptions.env}. */
  env?: Record<string, string | undefined>;
  /** The daemon's working directory; default `'/'`, so it keeps no mount point busy. */
  cwd?: string | URL;
  /** The daemon's umask; default `0`, as in the classic recipe. */
  umask?: number;
  /**
   * Where the daemon's stdout goes: a file path or URL (opened for appending, created if missing) or a
   * descriptor of this process. Default `/dev/null`. Its stdin is always `/dev/null`.
   */
  stdout?: string | URL | number;
  /** Where the daemon's stderr goes; see `stdout`. */
  stderr?: string | URL | number;
  /** `argv[0]` for the program; default `file`. */
  argv0?: string;
}

/** Options of `posix.waitpid`. */
export interface WaitpidOptions {
  /** Milliseconds to wait; resolves `null` if the child is still running then. `0` does not block. */
  timeout?: number;
  /** Aborting rejects with the signal's reason; the child keeps being watched. */
  signal?: AbortSignal;
  /** Same as `timeout: 0`: resolve `null` at once if the child has not exited (Python's `os.WNOHANG`). */
  noHang?: boolean;
}

/** Options of `posix.waitpidSync`. */
export interface WaitpidSyncOptions {
  /** Milliseconds to block; returns `null` if the child is still running then. `0` does not block. */
  timeout?: number;
  /** Same as `timeout: 0` (Python's `os.WNOHANG`). */
  noHang?: boolean;
}

interface ChildRecord {
  readonly pid: number;
  status: ExitStatus | undefined;
  /** Given by the spawner, it collects the status; without it, waitpid does. */
  readonly onExit: ((status: ExitStatus) => void) | undefined;
  /** Pending async waitpid calls. */
  readonly waiters: Set<(status: ExitStatus) => void>;
  /** Whether the owner wants the child to keep the loop alive. */
  ref: boolean;
  /** Whether the native watch currently does. */
  refed: boolean;
}

/** This thread's children that have not been collected yet (each worker_thread has its own). */
const children = new Map<number, ChildRecord>();

const ECHILD = -constants.errno.ECHILD;
const INT32_MAX = 0x7fffffff;
/** Far more descriptors than any program is handed; bounds the plan the child walks through. */
const MAX_FD_SLOTS = 65536;
const DEFAULT_PATH = '/bin:/usr/bin';
/** Entries of SpawnRequest.fds. */
const DEV_NULL = -1;
const CLOSED = -2;

function noNul(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.includes('\0')) throw invalidArgValue(name, value, 'must be a string without null bytes');
  return value;
}

/** `ECHILD`, built by hand: libuv (hence Node's system error map) has no name for it. */
function notOurChild(pid: number): Error & CodedError {
  const message = `ECHILD: no child processes, waitpid ${pid} (not spawned by this thread, or already collected)`;
  return Object.assign(new Error(message), { code: 'ECHILD', errno: ECHILD, syscall: 'waitpid' });
}

function parseEnv(value: unknown): { envp: string[]; path: string } {
  const env = value === undefined ? process.env : value;
  if (typeof env !== 'object' || env === null) throw invalidArgType('options.env', 'of type object', env);
  const envp: string[] = [];
  let path = DEFAULT_PATH;
  for (const [key, raw] of Object.entries(env as Record<string, unknown>)) {
    if (raw === undefined) continue;
    const v = String(raw);
    if (key === '' || key.includes('=') || key.includes('\0')) {
      throw invalidArgValue('options.env', key, "must have names that are non-empty and contain no '=' or null bytes");
    }
    if (v.includes('\0')) throw invalidArgValue(`options.env.${key}`, v, 'must be a string without null bytes');
    envp.push(`${key}=${v}`);
    if (key === 'PATH') path = v;
  }
  return { envp, path };
}

/** execvp's search: a name with a '/' is used as is; otherwise each PATH entry ('' = the cwd) in turn. */
function searchPath(file: string, path: string): string[] {
  if (file.includes('/')) return [file];
  return path.split(':').map((dir) => (dir === '' ? file : `${dir.replace(/\/+$/, '')}/${file}`));
}

function parseCwd(value: unknown, fallback: string | undefined): string | undefined {
  if (value === undefined) return fallback;
  const cwd = value instanceof URL ? fileURLToPath(value) : value;
  return noNul(cwd, 'options.cwd');
}

function fdEntry(value: unknown, childFd: number, name: string): number {
  if (value === null || value === undefined) return childFd <= 2 ? DEV_NULL : CLOSED;
  return validateInteger(value, name, 0, INT32_MAX);
}

function parseFds(value: unknown): number[] {
  if (value === undefined) return [0, 1, 2];
  let plan: number[];
  if (Array.isArray(value)) {
    validateInteger(value.length, 'options.fds.length', 0, MAX_FD_SLOTS);
    plan = [];
    for (let i = 0; i < Math.max(value.length, 3); i++) plan.push(fdEntry(value[i], i, `options.fds[${i}]`));
  } else if (typeof value === 'object' && value !== null) {
    plan = [0, 1, 2];
    for (const [key, entry] of Object.entries(value)) {
      if (!/^(0|[1-9]\d*)$/.test(key) || Number(key) >= MAX_FD_SLOTS) {
        const reason = `has a key that is not a descriptor number below ${MAX_FD_SLOTS}: '${key}'`;
        throw invalidArgValue('options.fds', value, reason);
      }
      const childFd = Number(key);
      while (plan.length <= childFd) plan.push(CLOSED);
      plan[childFd] = fdEntry(entry, childFd, `options.fds[${key}]`);
    }
  } else {
    throw invalidArgType('options.fds', 'an array or an object', value);
  }
  while (plan.length > 3 && plan[plan.length - 1] === CLOSED) plan.pop();
  return plan;
}

function parseArgs(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidArgType('args', 'an array of strings', value);
  return value.map((arg, i) => noNul(arg, `args[${i}]`));
}

/** The request parts spawn and daemonize share. */
function baseRequest(
  file: unknown,
  args: unknown,
  o: Partial<SpawnOptions & DaemonizeOptions>,
  cwd?: string,
): SpawnRequest {
  const name = noNul(file, 'file');
  if (name === '') throw invalidArgValue('file', name, 'must not be empty');
  const argv0 = o.argv0 === undefined ? name : noNul(o.argv0, 'options.argv0');
  const { envp, path } = parseEnv(o.env);
  return {
    file: name,
    paths: searchPath(name, path),
    argv: [argv0, ...parseArgs(args)],
    envp,
    cwd: parseCwd(o.cwd, cwd),
    fds: [0, 1, 2],
    setsid: false,
    pgid: -1,
    deathSignal: 0,
    umask: -1,
    ref: true,
  };
}

function exited(record: ChildRecord, code: number, signal: number, coreDumped: boolean): void {
  const status: ExitStatus = {
    pid: record.pid,
    exitCode: signal === 0 && code >= 0 ? code : null,
    signal: signal === 0 ? null : signalName(signal),
    coreDumped,
  };
  record.status = status;
  const waiters = [...record.waiters];
  // Collected by whoever is told now; otherwise kept for a later waitpid.
  if (record.onExit !== undefined || waiters.length > 0) children.delete(record.pid);
  for (const waiter of waiters) waiter(status);
  record.onExit?.(status);
}

function updateRef(record: ChildRecord): void {
  const wanted = record.ref || record.waiters.size > 0;
  if (record.status === undefined && wanted !== record.refed) {
    binding.childRef(record.pid, wanted);
    record.refed = wanted;
  }
}

/**
 * Starts `file` with `args` (argv[1..]) by fork+exec and watches it. `onExit`, if given, receives the exit
 * status once the child has exited and been reaped, and collects it (a later `waitpid` finds no such
 * child); without it the status waits for `waitpid`. Throws a SystemError (`code: 'ENOENT'`, `syscall:
 * 'execve'`, ...) if the program could not be started; no process is left behind then.
 */
export function spawnChild(
  file: unknown,
  args: unknown,
  options: unknown,
  onExit?: (status: ExitStatus) => void,
): number {
  const o = validateOptions<SpawnOptions>(options);
  const request = baseRequest(file, args, o);
  request.fds = parseFds(o.fds);
  request.setsid = validateBoolean(o.setsid, 'options.setsid', false);
  if (o.pgid !== undefined) {
    if (request.setsid) {
      throw invalidArgValue('options.pgid', o.pgid, 'cannot be combined with setsid (a new session is a new group)');
    }
    request.pgid = validateInteger(o.pgid, 'options.pgid', 0, INT32_MAX);
  }
  if (o.deathSignal !== undefined) request.deathSignal = signalNumber(o.deathSignal, 'options.deathSignal');
  request.ref = validateBoolean(o.ref, 'options.ref', true);

  let record: ChildRecord | undefined;
  const pid = binding.spawn(request, (code, signal, coreDumped) => exited(record!, code, signal, coreDumped));
  record = { pid, status: undefined, onExit, waiters: new Set(), ref: request.ref, refed: request.ref };
  children.set(pid, record);
  return pid;
}

/** Whether a child keeps the event loop alive (see {@link SpawnOptions.ref}). Ignored once it has exited. */
export function setChildRef(pid: number, ref: boolean): void {
  const record = children.get(pid);
  if (record === undefined) return;
  record.ref = ref;
  updateRef(record);
}

/**
 * Blocks until the child exits, up to `timeoutMs` (-1: forever), and collects its status; `null` if it is
 * still running. Throws `ECHILD` for a pid that is not an uncollected child of this thread.
 */
export function waitChildSync(pid: number, timeoutMs: number): ExitStatus | null {
  const record = children.get(pid);
  if (record === undefined) throw notOurChild(pid);
  if (record.status === undefined && !binding.childWait(pid, timeoutMs)) return null;
  children.delete(pid);
  return record.status!;
}

/** The promise form of {@link waitChildSync}; never blocks the event loop (the child's pidfd is polled on it). */
export function waitChild(pid: number, wait: ParsedAsyncWait): Promise<ExitStatus | null> {
  const record = children.get(pid);
  if (record === undefined) return Promise.reject(notOurChild(pid));
  const { signal, timeoutMs } = wait;
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (record.status !== undefined || timeoutMs === 0) {
    try {
      return Promise.resolve(waitChildSync(pid, 0));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      record.waiters.delete(onExit);
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      updateRef(record);
    };
    const onExit = (status: ExitStatus): void => {
      done();
      resolve(status);
    };
    const onAbort = (): void => {
      done();
      reject(signal!.reason);
    };
    record.waiters.add(onExit);
    updateRef(record);
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        done();
        resolve(null);
      }, timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The double-fork daemon: an intermediate child starts a new session, forks the program and exits at once,
 * so the program is adopted by init (or the nearest subreaper) and is never this process's child. Returns
 * the program's pid once it has exec'd; throws like {@link spawnChild} if it could not be started.
 */
export function daemonizeProgram(file: unknown, args: unknown, options: unknown): number {
  const o = validateOptions<DaemonizeOptions>(options);
  const request = baseRequest(file, args, o, '/');
  request.umask = o.umask === undefined ? 0 : validateInteger(o.umask, 'options.umask', 0, 0o777);
  const opened: number[] = [];
  try {
    const target = (value: unknown, name: string): number => {
      if (value === undefined) return DEV_NULL;
      if (typeof value === 'number') return validateInteger(value, name, 0, INT32_MAX);
      const fd = openSync(value instanceof URL ? value : noNul(value, name), 'a');
      opened.push(fd);
      return fd;
    };
    request.fds = [DEV_NULL, target(o.stdout, 'options.stdout'), target(o.stderr, 'options.stderr')];
    return binding.daemonize(request);
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}
