/**
 * Process: Python's `multiprocessing.Process`, on fresh Node processes started by the addon's fork+exec.
 *
 * The child is a new Node (JS cannot continue after fork() in Node), so, as with Python's "spawn" start
 * method, it imports what it runs from the module that defines it (target.ts). The child imports that
 * module, so the code that starts processes must be guarded by
 * `if (isMainProcess())`, exactly like Python's `if __name__ == '__main__'` (starting a process while the
 * child is importing throws instead of recursing).
 */
import { inspect } from 'node:util';

import { closedError, invalidArgType, invalidArgValue, mpError } from '../internal/errors.js';
import { startInterpreter, type Interpreter } from './prepared.js';
import { decode, reviveShared } from '../comm/reduction.js';
import { loadModule, locatedIn } from '../comm/location.js';
import { validateBoolean, validateOptions, validateTimeout } from '../internal/validate.js';
import { childState, registry } from './current.js';
import { encodeJob, type JobSource } from './job.js';
import { getStartMethod, validateStartMethod, type StartMethod } from './start_method.js';
import { bootstrapping, callerModule, checkNoPrivateFields, locateFunction, locateTarget, resolveModule, validateTarget, type Target } from './target.js';

export type { Target } from './target.js';

/** Options of {@link Process}. */
export interface ProcessOptions {
  /** What `run()` calls; see {@link Target}. */
  target?: Target;
  /**
   * Arguments for the target: structured-cloned; shared objects arrive as handles, exported functions by
   * reference, instances of exported classes as instances (see docs/api.md, Process).
   */
  args?: readonly unknown[];
  /** Default `'<Class>-<n>'` (`'Process-1'`, ...; in a child `'Process-1:1'`, ...), as in Python. */
  name?: string;
  /**
   * A daemon child is terminated when the main program ends, and dies with its parent. Default: the current
   * process's own flag (false in the main one).
   */
  daemon?: boolean;
  /** How the child is started: `'forkserver'` or `'spawn'` (see `setStartMethod()`). Default: `getStartMethod()`. */
  startMethod?: StartMethod;
}

const RUNTIMES = Symbol.for('posix-mp.runtimes');
/** Constructor option with which the bootstrap builds a child's own Process object. */
const SELF = Symbol.for('posix-mp.self');

/** What the bootstrap gives a child's own Process object. */
interface SelfInfo {
  name: string;
  daemon: boolean;
  target: ((...args: unknown[]) => unknown) | undefined;
  args: unknown[];
}

const SIGTERM = 15;
const SIGKILL = 9;

/** The options `new Process()` knows (Python's keyword arguments). */
const OPTIONS = new Set(['target', 'args', 'name', 'daemon', 'startMethod']);

/** Daemons are terminated when the main program ends (installed with the first start()). */
let exitHandlersInstalled = false;
/** Set when the event loop first drained: non-daemon children then keep it alive until they exit. */
let mainProgramEnded = false;

/** A child process running a target function or a subclass's `run()` (Python's `multiprocessing.Process`). */
export class Process {
  #target: Target | undefined;
  #args: unknown[];
  #name: string;
  #daemon: boolean;
  #startMethod: StartMethod | undefined;
  readonly #identity: number[];
  /** The file: URL of the module that created this object, from the stack: `{ module }` is relative to it. */
  readonly #origin: string | undefined;
  /** The class to instantiate in the child (a subclass), or undefined for Process itself. */
  readonly #subclass: (abstract new (...args: never[]) => Process) | undefined;
  /** True for a child's own Process object (built by the bootstrap). */
  readonly #self: boolean;
  #interpreter: Interpreter | undefined;
  #closed = false;
  /** Pending joins, resolved when the child exits. */
  readonly #joiners = new Set<() => void>();

  constructor(options?: ProcessOptions) {
    const self = typeof options === 'object' && options !== null ? (options as { [SELF]?: SelfInfo })[SELF] : undefined;
    if (self) {
      this.#self = true;
      this.#name = self.name;
      this.#daemon = self.daemon;
      this.#target = self.target;
      this.#args = self.args;
      this.#identity = childState()?.identity ?? [];
      this.#origin = undefined;
      this.#subclass = undefined;
      return;
    }
    const o = validateOptions<ProcessOptions>(options);
    for (const key of Object.keys(o)) {
      if (!OPTIONS.has(key)) {
        throw invalidArgValue('options', o, `has an unknown option '${key}' (the options are ${[...OPTIONS].join(', ')})`);
      }
    }
    this.#self = false;
    this.#target = validateTarget(o.target);
    if (o.args !== undefined && !Array.isArray(o.args)) throw invalidArgType('options.args', 'an array', o.args);
    this.#args = o.args === undefined ? [] : [...o.args];
    const state = childState();
    this.#identity = [...(state?.identity ?? []), ++registry().counter];
    const className = new.target === Process ? 'Process' : new.target.name || 'Process';
    this.#name = o.name === undefined ? `${className}-${this.#identity.join(':')}` : validateName(o.name);
    this.#daemon = validateBoolean(o.daemon, 'options.daemon', state?.daemon ?? false);
    if (o.startMethod !== undefined) this.#startMethod = validateStartMethod(o.startMethod, 'options.startMethod');
    this.#subclass = new.target === Process ? undefined : new.target;
    this.#origin = o.target !== undefined && typeof o.target !== 'function' ? callerModule() : undefined;
  }

  /** The process's name: only a label (Python's semantics), settable at any time. */
  get name(): string {
    // A child's own Process object and currentProcess() are the same process: one name.
    return this.#self ? (childState()?.name ?? this.#name) : this.#name;
  }

  set name(value: string) {
    this.#name = validateName(value, 'name');
    const state = childState();
    if (this.#self && state) state.name = this.#name;
  }

  /** Whether the child is a daemon: it dies with its parent, even if the parent is SIGKILLed. */
  get daemon(): boolean {
    return this.#daemon;
  }

  /** Settable only before `start()`. */
  set daemon(value: boolean) {
    if (this.#interpreter || this.#self) throw mpError('ERR_MP_STARTED', 'process has already started');
    this.#daemon = validateBoolean(value, 'daemon', false);
  }

  /** The child's pid; undefined before `start()`. */
  get pid(): number | undefined {
    this.#assertOpen();
    return this.#self ? process.pid : this.#interpreter?.pid;
  }

  /**
   * `null` while the child runs (and before start); then 0 after a normal end, n after `process.exit(n)`,
   * 1 after an uncaught error or a rejected async target (its stack is printed on the child's stderr), -N
   * if signal N killed it. Reading it checks the child without blocking, as Python's `exitcode` does.
   */
  get exitCode(): number | null {
    this.#assertOpen();
    const interpreter = this.#interpreter;
    if (!interpreter) return null;
    interpreter.waitSync(0);
    return interpreter.exitCode;
  }

  /** Calls the target with the arguments. Runs in the child; subclasses override it. */
  run(): unknown {
    const target = this.#target;
    if (target === undefined) return undefined;
    if (typeof target === 'function') return target(...this.#args);
    const locator = { module: resolveModule(target.module, this.#origin), export: target.export ?? 'default' };
    return loadModule(locator.module).then((ns) => (locatedIn(ns, locator) as (...a: unknown[]) => unknown)(...this.#args));
  }

  /** Starts the child. Throws if called twice, and if the target cannot be sent (see the module comment). */
  start(): void {
    this.#assertOpen();
    if (this.#self) throw mpError('ERR_MP_NOT_OURS', 'can only start a process object created by the current process');
    if (this.#interpreter) throw mpError('ERR_MP_STARTED', 'cannot start a process twice');
    const state = childState();
    if (state?.bootstrapping) throw bootstrapping();
    if (state?.daemon) throw mpError('ERR_MP_DAEMON', 'daemonic processes are not allowed to have children');
    const { body, files } = encodeJob(this.#jobSource());
    const interpreter = startInterpreter(this.#daemon, this.#startMethod ?? getStartMethod(), body, files);
    this.#interpreter = interpreter;
    interpreter.onExit = () => {
      for (const resolve of [...this.#joiners]) resolve();
    };
    this.#updateRef();
    Process.#forgetExited();
    registry().children.add(this);
    Process.#installExitHandlers();
  }

  /**
   * Python ends a program by terminating its daemonic children, then joining the others. Here: when the
   * event loop first drains ('beforeExit': the main program has nothing left to do but its children), the
   * daemons get SIGTERM and the non-daemon children start keeping the loop alive until they exit; at
   * 'exit' (also process.exit()), daemons still running get SIGTERM.
   */
  static #installExitHandlers(): void {
    if (exitHandlersInstalled) return;
    exitHandlersInstalled = true;
    const terminateDaemons = (): void => {
      for (const p of registry().children) if (#interpreter in p && p.#daemon) p.#interpreter?.signal(SIGTERM);
    };
    process.on('beforeExit', () => {
      terminateDaemons();
      if (mainProgramEnded) return;
      mainProgramEnded = true;
      for (const p of registry().children) if (#interpreter in p) p.#updateRef();
    });
    process.on('exit', terminateDaemons);
  }

  /** Drops children known to have exited from the registry, as Python's start() does (`_cleanup`). */
  static #forgetExited(): void {
    const { children } = registry();
    for (const p of children) if (#interpreter in p && p.#interpreter?.exitCode !== null) children.delete(p);
  }

  /**
   * A child keeps the event loop alive while someone awaits its join(), and a non-daemon one once the main
   * program has ended (see #installExitHandlers): until then, the loop draining is how the program ends.
   */
  #updateRef(): void {
    this.#interpreter?.ref(this.#joiners.size > 0 || (!this.#daemon && mainProgramEnded));
  }

  /** What the child needs: refuses (ERR_MP_TARGET_NOT_FOUND) what it could not find or rebuild. */
  #jobSource(): JobSource {
    let processClass: JobSource['processClass'];
    if (this.#subclass) {
      const locator = locateFunction(this.#subclass, `Process subclass ${this.#subclass.name}`);
      checkNoPrivateFields(this, () => Reflect.construct(Process, [{ [SELF]: { name: '', daemon: false, target: undefined, args: [] } }]));
      const fields: Record<string, unknown> = {};
      for (const key of Object.keys(this)) fields[key] = (this as unknown as Record<string, unknown>)[key];
      processClass = { locator, fields };
    }
    return {
      target: this.#target === undefined ? undefined : locateTarget(this.#target, this.#origin),
      processClass,
      args: this.#args,
      name: this.#name,
      daemon: this.#daemon,
      identity: this.#identity,
    };
  }

  /**
   * Resolves with the exit code when the child has exited, or with null after `timeout` ms (a number, or
   * `{ timeout, signal }`; milliseconds, not Python's seconds) or when `signal` aborts.
   */
  async join(options?: number | JoinOptions): Promise<number | null> {
    const interpreter = this.#joinable();
    const { timeout, signal } = joinOptions(options);
    interpreter.waitSync(0);
    if (interpreter.exitCode === null && timeout !== 0 && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const done = (): void => {
          this.#joiners.delete(done);
          if (timer !== undefined) clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.#updateRef();
          resolve();
        };
        this.#joiners.add(done);
        this.#updateRef();
        if (timeout > 0) timer = setTimeout(done, timeout);
        signal?.addEventListener('abort', done);
      });
    }
    if (interpreter.exitCode !== null) registry().children.delete(this);
    return interpreter.exitCode;
  }

  /** Blocks until the child has exited (its exit code), or for at most `timeout` ms (then null). */
  joinSync(options?: number | { timeout?: number }): number | null {
    const interpreter = this.#joinable();
    if (!interpreter.waitSync(joinOptions(options).timeout)) return null;
    registry().children.delete(this);
    return interpreter.exitCode;
  }

  #joinable(): Interpreter {
    this.#assertOpen();
    if (this.#self) throw mpError('ERR_MP_NOT_OURS', 'cannot join current process');
    if (!this.#interpreter) throw mpError('ERR_MP_NOT_STARTED', 'can only join a started process');
    return this.#interpreter;
  }

  /** Whether the child has been started and has not exited yet (checked now, without blocking). */
  isAlive(): boolean {
    this.#assertOpen();
    if (this.#self) return true;
    const interpreter = this.#interpreter;
    if (!interpreter) return false;
    interpreter.waitSync(0);
    if (interpreter.exitCode === null) return true;
    registry().children.delete(this);
    return false;
  }

  /** Sends SIGTERM (nothing if the child has already exited). */
  terminate(): void {
    this.#started('terminate').signal(SIGTERM);
  }

  /** Sends SIGKILL (nothing if the child has already exited). */
  kill(): void {
    this.#started('kill').signal(SIGKILL);
  }

  #started(what: string): Interpreter {
    this.#assertOpen();
    if (!this.#interpreter) throw mpError('ERR_MP_NOT_STARTED', `cannot ${what} a process that has not been started`);
    return this.#interpreter;
  }

  /**
   * Releases the Process object. Throws while the child runs (`join()` or `terminate()` it first);
   * afterwards every method and `pid`/`exitCode` throw `ERR_MP_CLOSED`. A second call does nothing.
   */
  close(): void {
    if (this.#closed) return;
    const interpreter = this.#interpreter;
    if (interpreter && !interpreter.waitSync(0)) {
      throw mpError(
        'ERR_MP_RUNNING',
        'Cannot close a process while it is still running. You should first call join() or terminate().',
      );
    }
    this.#closed = true;
    registry().children.delete(this);
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('Process');
  }

  /** Like Python's repr: `<Process name='Process-1' pid=123 parent=122 started daemon>`. */
  toString(): string {
    let status: string;
    if (this.#closed) status = 'closed';
    else if (this.#self) status = 'started';
    else if (!this.#interpreter) status = 'initial';
    else {
      const code = this.exitCode;
      status = code === null ? 'started' : `stopped exitcode=${code}`;
    }
    const pid = this.#closed ? undefined : this.#self ? process.pid : this.#interpreter?.pid;
    const parent = this.#self ? (childState()?.parentPid ?? process.ppid) : process.pid;
    return (
      `<${this.constructor === Process ? 'Process' : this.constructor.name} name='${this.#name}'` +
      (pid === undefined ? '' : ` pid=${pid} parent=${parent}`) +
      ` ${status}${this.#daemon ? ' daemon' : ''}>`
    );
  }

  /** `console.log(p)` shows {@link toString}. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** The children this process started that are still running (those that have exited are dropped). */
export function activeChildren(): Process[] {
  return [...registry().children].filter((p) => p.isAlive());
}

/** Options of {@link Process.join}. */
export interface JoinOptions {
  /** Milliseconds (not seconds, as in Python); default: no limit. */
  timeout?: number;
  /** Stops waiting (join resolves with null) when aborted. */
  signal?: AbortSignal;
}

function joinOptions(options: unknown): { timeout: number; signal: AbortSignal | undefined } {
  if (typeof options === 'number' || options === undefined) return { timeout: validateTimeout(options, 'timeout'), signal: undefined };
  const o = validateOptions<JoinOptions>(options);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal);
  return { timeout: validateTimeout(o.timeout), signal: o.signal };
}

function validateName(value: unknown, name = 'options.name'): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// What the child bootstrap needs from the copy of this package that the user's code uses

/** The child-side operations of one copy (ESM or CommonJS) of this package. */
export interface Runtime {
  Process: typeof Process;
  reviveShared: typeof reviveShared;
  decode: typeof decode;
  /** Builds a child's own instance of a Process subclass without running its constructor. */
  makeSelf(cls: Function, info: SelfInfo, fields: Record<string, unknown>): Process;
}

/** Every loaded copy of this package, by format ('esm', 'cjs'). */
export function runtimes(): Record<string, Runtime> {
  const g = globalThis as { [RUNTIMES]?: Record<string, Runtime> };
  return (g[RUNTIMES] ??= {});
}

runtimes()[import.meta.url.endsWith('.cjs') ? 'cjs' : 'esm'] ??= {
  Process,
  reviveShared,
  decode,
  makeSelf(cls, info, fields) {
    const instance = Reflect.construct(Process, [{ [SELF]: info }], cls) as Process;
    Object.assign(instance, fields);
    return instance;
  },
};
