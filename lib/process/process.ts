/**
 * Process: Python's `multiprocessing.Process`, on fresh Node processes started by the addon's fork+exec.
 *
 * The child is a new Node (JS cannot continue after fork() in Node), so, as with Python's "spawn" start
 * method, it finds what to run by importing the module that defines it:
 * - a target function must be an export of its module. Nobody has to name that module: it is the module
 *   that called `new Process()` (found from the stack), or, for CommonJS, whichever loaded module exports
 *   the very function;
 * - a Process subclass overriding `run()` must be exported from its module; its own enumerable fields travel
 *   to the child (shared objects among them arrive as working handles), its constructor is not run again
 *   there (as Python unpickles the object instead of calling `__init__`), so #private fields do not travel;
 * - `{ module, export }` names the module (a path, a file: URL, a specifier relative to the calling module,
 *   or a package) and the export (default: the default export / `module.exports`).
 * The child imports that module, so the code that starts processes must be guarded by
 * `if (isMainProcess())`, exactly like Python's `if __name__ == '__main__'` (starting a process while the
 * child is importing throws instead of recursing).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { serialize } from 'node:v8';

import type { MemoryFile } from '../shared/arena.js';
import { closedError, invalidArgType, invalidArgValue, mpError } from '../internal/errors.js';
import { acquireInterpreter, Interpreter } from './prepared.js';
import { decode, Outgoing, reviveShared, type Job, type Locator } from '../comm/transfer.js';
import { validateBoolean, validateOptions, validateTimeout } from '../internal/validate.js';
import { validateStartMethod, type StartMethod } from './start_method.js';

/** What a Process runs: a function exported from its module, or an explicit export of a module. */
export type Target = ((...args: any[]) => unknown) | { module: string | URL; export?: string };

/** Options of {@link Process}. */
export interface ProcessOptions {
  /** What `run()` calls; see {@link Target}. */
  target?: Target;
  /** Arguments for the target: structured-cloned, shared objects passed as handles. */
  args?: readonly unknown[];
  /** Default `'<Class>-<n>'` (`'Process-1'`, ...; in a child `'Process-1:1'`, ...), as in Python. */
  name?: string;
  /** A daemon child dies with its parent. Default: the current process's own flag (false in the main one). */
  daemon?: boolean;
  /** How the child is started: `'forkserver'` or `'spawn'` (see `setStartMethod()`). Default: `getStartMethod()`. */
  startMethod?: StartMethod;
}

/** What a child knows about itself, set by the bootstrap (child.ts) before it imports the user's module. */
export interface ChildState {
  name: string;
  daemon: boolean;
  parentPid: number;
  identity: number[];
  /** True while the target's module is being imported: a `start()` then would start processes forever. */
  bootstrapping: boolean;
}

// Process-wide state lives on the global object under registered symbols, so that the ESM and CommonJS
// copies of this package (a CommonJS module requiring it in an ESM program) agree on it.
const CHILD = Symbol.for('posix-mp.child');
const REGISTRY = Symbol.for('posix-mp.processes');
const RUNTIMES = Symbol.for('posix-mp.runtimes');
/** Constructor option with which the bootstrap builds a child's own Process object. */
const SELF = Symbol.for('posix-mp.self');

type Global = typeof globalThis & {
  [CHILD]?: ChildState;
  [REGISTRY]?: { counter: number; children: Set<Process> };
  [RUNTIMES]?: Record<string, Runtime>;
};
const global = globalThis as Global;

/** This process's state as a child, or undefined in a main process. */
export function childState(): ChildState | undefined {
  return global[CHILD];
}

/** Marks this process as a Process child (called by the bootstrap). */
export function setChildState(state: ChildState): void {
  global[CHILD] = state;
}

function registry(): { counter: number; children: Set<Process> } {
  return (global[REGISTRY] ??= { counter: 0, children: new Set() });
}

/** What the bootstrap gives a child's own Process object. */
interface SelfInfo {
  name: string;
  daemon: boolean;
  target: ((...args: unknown[]) => unknown) | undefined;
  args: unknown[];
}

const SIGTERM = 15;
const SIGKILL = 9;

/** The directory of this package's built files: frames in it are not the user's. */
const OWN_DIR = path.dirname(fileURLToPath(import.meta.url)) + path.sep;
const require = createRequire(import.meta.url);

/** A child process running a target function or a subclass's `run()` (Python's `multiprocessing.Process`). */
export class Process {
  #target: Target | undefined;
  #args: unknown[];
  #name: string;
  #daemon: boolean;
  #startMethod: StartMethod | undefined;
  readonly #identity: number[];
  /** The file: URL of the module that created this object (or defined its class), from the stack. */
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
    this.#origin = callerModule(new.target);
  }

  /** The process's name: only a label (Python's semantics), settable at any time. */
  get name(): string {
    return this.#name;
  }

  set name(value: string) {
    this.#name = validateName(value, 'name');
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
    const { module, export: name } = target;
    return import(resolveModule(module, this.#origin)).then((ns: Record<string, unknown>) => {
      const fn = exportOf(ns, name ?? 'default');
      if (typeof fn !== 'function') throw targetNotFound(`export '${name ?? 'default'}'`, String(module), undefined);
      return (fn as (...a: unknown[]) => unknown)(...this.#args);
    });
  }

  /** Starts the child. Throws if called twice, and if the target cannot be sent (see the module comment). */
  start(): void {
    this.#assertOpen();
    if (this.#self) throw mpError('ERR_MP_NOT_OURS', 'can only start a process object created by the current process');
    if (this.#interpreter) throw mpError('ERR_MP_STARTED', 'cannot start a process twice');
    const state = childState();
    if (state?.bootstrapping) throw bootstrapping();
    if (state?.daemon) throw mpError('ERR_MP_DAEMON', 'daemonic processes are not allowed to have children');
    const { job, files } = this.#job();
    const body = encodeJob(job, this.#name);

    let interpreter = acquireInterpreter(this.#daemon, this.#startMethod);
    try {
      interpreter.send(body, files);
    } catch (error) {
      // A prepared interpreter that died a moment ago: start a fresh one instead (a cold one cannot be gone).
      interpreter.dismiss();
      if ((error as NodeJS.ErrnoException).code !== 'EPIPE' && (error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
      interpreter = new Interpreter(this.#daemon ? SIGKILL : 0, !this.#daemon);
      interpreter.send(body, files);
    }
    this.#interpreter = interpreter;
    interpreter.onExit = () => {
      for (const resolve of [...this.#joiners]) resolve();
    };
    this.#updateRef();
    Process.#forgetExited();
    registry().children.add(this);
  }

  /** Drops children known to have exited from the registry, as Python's start() does (`_cleanup`). */
  static #forgetExited(): void {
    const { children } = registry();
    for (const p of children) if (#interpreter in p && p.#interpreter?.exitCode !== null) children.delete(p);
  }

  /** A non-daemon child keeps the event loop alive; any child does while someone awaits its join(). */
  #updateRef(): void {
    this.#interpreter?.ref(!this.#daemon || this.#joiners.size > 0);
  }

  #job(): { job: Job; files: MemoryFile[] } {
    const out = new Outgoing();
    const target = this.#target === undefined ? undefined : locateTarget(this.#target, this.#origin);
    let processClass: Job['processClass'];
    if (this.#subclass) {
      const fields: Record<string, unknown> = {};
      for (const key of Object.keys(this)) fields[key] = (this as unknown as Record<string, unknown>)[key];
      processClass = { ...locateFunction(this.#subclass, this.#origin, 'Process subclass'), fields: out.encode(fields) };
    }
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    const job: Job = {
      target,
      processClass,
      args: out.encode(this.#args),
      shared: out.descriptions,
      fileIds: out.files.map((f) => f.id),
      name: this.#name,
      daemon: this.#daemon,
      identity: this.#identity,
      parentPid: process.pid,
      env,
      cwd: process.cwd(),
      argv: process.argv,
    };
    return { job, files: out.files };
  }

  /** Resolves when the child has exited, or after `timeout` ms (check `exitCode`/`isAlive()` then). */
  async join(timeout?: number): Promise<void> {
    const interpreter = this.#joinable();
    const ms = validateTimeout(timeout, 'timeout');
    interpreter.waitSync(0);
    if (interpreter.exitCode === null && ms !== 0) {
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const done = (): void => {
          this.#joiners.delete(done);
          if (timer !== undefined) clearTimeout(timer);
          this.#updateRef();
          resolve();
        };
        this.#joiners.add(done);
        this.#updateRef();
        if (ms > 0) timer = setTimeout(done, ms);
      });
    }
    if (interpreter.exitCode !== null) registry().children.delete(this);
  }

  /** Blocks until the child has exited, or for at most `timeout` ms. */
  joinSync(timeout?: number): void {
    const interpreter = this.#joinable();
    if (interpreter.waitSync(validateTimeout(timeout, 'timeout'))) registry().children.delete(this);
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

/** The current process: `{ name: 'MainProcess', ... }` in a main process, the Process's name in a child. */
export function currentProcess(): { name: string; pid: number; daemon: boolean } {
  const state = childState();
  return state
    ? { name: state.name, pid: process.pid, daemon: state.daemon }
    : { name: 'MainProcess', pid: process.pid, daemon: false };
}

/** The process that started this one, or `null` in a main process. */
export function parentProcess(): { pid: number } | null {
  const state = childState();
  return state ? { pid: state.parentPid } : null;
}

/** The children this process started that are still running (those that have exited are dropped). */
export function activeChildren(): Process[] {
  return [...registry().children].filter((p) => p.isAlive());
}

/** The number of CPUs this process may use (`os.availableParallelism()`). */
export function cpuCount(): number {
  return availableParallelism();
}

/** False in a child started by Process/Pool — also while that child imports the module of its target. */
export function isMainProcess(): boolean {
  return childState() === undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Finding targets

function validateTarget(target: unknown): Target | undefined {
  if (target === undefined || typeof target === 'function') return target as Target | undefined;
  if (typeof target === 'object' && target !== null) {
    const { module, export: name } = target as { module?: unknown; export?: unknown };
    if (typeof module !== 'string' && !(module instanceof URL)) {
      throw invalidArgType('options.target.module', 'of type string or an instance of URL', module);
    }
    if (module === '') throw invalidArgValue('options.target.module', module, 'must not be empty');
    if (name !== undefined && typeof name !== 'string') throw invalidArgType('options.target.export', 'of type string', name);
    return { module, export: name };
  }
  throw invalidArgType('options.target', 'a function or an object { module, export }', target);
}

function validateName(value: unknown, name = 'options.name'): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

function toUrl(file: string): string | undefined {
  if (file.startsWith('file:')) return file;
  if (path.isAbsolute(file)) return pathToFileURL(file).href;
  return undefined;
}

/**
 * The module that created a Process: the first stack frame outside this package — or, for a subclass, the
 * frame of its constructor, i.e. the module that defines it.
 */
function callerModule(cls: abstract new (...args: never[]) => Process): string | undefined {
  const savedPrepare = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  let sites: NodeJS.CallSite[];
  try {
    Error.stackTraceLimit = 50;
    Error.prepareStackTrace = (_error, callSites) => callSites;
    Error.captureStackTrace(holder, callerModule);
    // Read while prepareStackTrace is ours: the stack is formatted on first access.
    sites = Array.isArray(holder.stack) ? holder.stack : [];
  } finally {
    Error.prepareStackTrace = savedPrepare;
    Error.stackTraceLimit = savedLimit;
  }
  let first: string | undefined;
  for (const site of sites) {
    const file = site.getFileName();
    if (!file || file.startsWith('node:')) continue;
    if ((file.startsWith('file:') ? fileURLToPath(file) : file).startsWith(OWN_DIR)) continue;
    const url = toUrl(file) ?? file;
    if (cls !== Process && site.isConstructor() && site.getFunctionName() === cls.name) return url;
    first ??= url;
  }
  return first;
}

/** The exported value `name` of a module namespace (CommonJS: also a property of `module.exports`). */
function exportOf(ns: Record<string, unknown>, name: string): unknown {
  if (name in ns) return ns[name];
  const exports = ns.default;
  if ((typeof exports === 'object' || typeof exports === 'function') && exports !== null) {
    return (exports as Record<string, unknown>)[name];
  }
  return undefined;
}

function targetNotFound(what: string, module: string, name: string | undefined): Error {
  const file = module.startsWith('file:') ? fileURLToPath(module) : module;
  const hint = name
    ? ` Export it (\`export function ${name}\`, \`export class ${name}\`, or \`module.exports.${name} = ${name}\`) so that the child can import it, or pass { module, export } as the target.`
    : '';
  return mpError('ERR_MP_TARGET_NOT_FOUND', `${what} is not exported by ${file}.${hint}`);
}

function bootstrapping(): Error {
  return mpError(
    'ERR_MP_BOOTSTRAPPING',
    'An attempt has been made to start a new process before the current process has finished its ' +
      'bootstrapping phase: this child is still importing the module that defines its target, and that ' +
      'module starts processes when imported. Guard the code that starts processes with ' +
      '`if (isMainProcess()) { ... }` (Python: `if __name__ == "__main__":`).',
  );
}

/** The module a `{ module }` target names, as a URL; relative specifiers are relative to the caller. */
function resolveModule(module: string | URL, origin: string | undefined): string {
  let url: string;
  if (module instanceof URL) url = module.href;
  else if (module.startsWith('file:') || module.startsWith('node:')) url = module;
  else if (path.isAbsolute(module)) url = pathToFileURL(module).href;
  else {
    const base = origin?.startsWith('file:') ? origin : pathToFileURL(path.join(process.cwd(), 'index.js')).href;
    if (module.startsWith('./') || module.startsWith('../')) url = new URL(module, base).href;
    else {
      let resolved: string;
      try {
        resolved = createRequire(base).resolve(module);
      } catch (error) {
        throw mpError('ERR_MODULE_NOT_FOUND', `cannot find the target module '${module}': ${(error as Error).message.split('\n')[0]}`);
      }
      url = path.isAbsolute(resolved) ? pathToFileURL(resolved).href : resolved;
    }
  }
  if (url.startsWith('file:') && !existsSync(fileURLToPath(url))) {
    throw mpError('ERR_MODULE_NOT_FOUND', `cannot find the target module ${fileURLToPath(url)}`);
  }
  return url;
}

/** A CommonJS module's record, if the module was loaded by require (or import) as CommonJS. */
function commonJsModule(url: string): NodeJS.Module | undefined {
  return url.startsWith('file:') ? require.cache[fileURLToPath(url)] : undefined;
}

/** The name under which a CommonJS module exports `value` (data properties only: getters are not run). */
function commonJsExportName(module: NodeJS.Module, value: unknown): string | undefined {
  const exports: unknown = module.exports;
  if (exports === value) return 'default';
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null) return undefined;
  for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(exports))) {
    if ('value' in descriptor && descriptor.value === value && key !== 'default') return key;
  }
  return undefined;
}

function locateTarget(target: Target, origin: string | undefined): Locator {
  if (typeof target === 'function') return locateFunction(target, origin, 'target function');
  const module = resolveModule(target.module, origin);
  const name = target.export ?? 'default';
  const loaded = commonJsModule(module);
  if (loaded?.loaded && name !== 'default' && typeof exportOf({ default: loaded.exports }, name) !== 'function') {
    throw targetNotFound(`A function '${name}'`, module, undefined);
  }
  return { module, export: name };
}

/**
 * Where the child finds a function (a target, or a Process subclass): the exact export when a CommonJS
 * module exports it, else its name and source text in the calling module (checked by the child, since an
 * ES module's exports cannot be read synchronously while it is still being evaluated).
 */
function locateFunction(fn: Function, origin: string | undefined, what: string): Locator {
  // Started again and again, a target is found once (per calling module): start() stays cheap.
  const cached = located.get(fn);
  if (cached && cached.origin === origin) return cached.locator;
  const locator = findFunction(fn, origin, what);
  located.set(fn, { origin, locator });
  return locator;
}

/** Where functions were found, by function: see locateFunction. */
const located = new WeakMap<Function, { origin: string | undefined; locator: Locator }>();

function findFunction(fn: Function, origin: string | undefined, what: string): Locator {
  const name = fn.name;
  const source = Function.prototype.toString.call(fn);
  if (name === '' || name.startsWith('bound ') || source.endsWith('{ [native code] }')) {
    throw mpError(
      'ERR_MP_TARGET_NOT_FOUND',
      `The ${what} must be a named export of a module, so that the child can import it; ` +
        `${name === '' ? 'an anonymous function' : `'${name}'`} cannot be found there. ` +
        'Export a named function (or pass { module, export } as the target).',
    );
  }
  const own = origin === undefined ? undefined : commonJsModule(origin);
  if (own) {
    const key = commonJsExportName(own, fn);
    if (key) return { module: origin!, export: key };
  }
  for (const module of Object.values(require.cache)) {
    if (!module || module === own) continue;
    const key = commonJsExportName(module, fn);
    if (key) return { module: pathToFileURL(module.filename).href, export: key };
  }
  if (origin === undefined || !origin.startsWith('file:') || !existsSync(fileURLToPath(origin))) {
    throw mpError(
      'ERR_MP_TARGET_NOT_FOUND',
      `Cannot find the module that defines the ${what} '${name}': it was created by code that is not in a ` +
        `module file (${origin ?? 'unknown'}: -e, the REPL, eval). Put it in a module file and export it, or ` +
        'pass { module, export } as the target.',
    );
  }
  // A CommonJS module that has finished loading and does not export it never will.
  if (own?.loaded) throw targetNotFound(`The ${what} '${name}'`, origin, name);
  return { module: origin, name, source };
}

/** Serializes a job, naming what could not be cloned. */
function encodeJob(job: Job, name: string): Buffer {
  try {
    return serialize(job);
  } catch (error) {
    let part = 'data';
    try {
      serialize(job.args);
      part = 'fields';
    } catch {
      part = 'arguments';
    }
    throw mpError('ERR_MP_NOT_CLONEABLE', `The ${part} of ${name} cannot be sent to the child process: ${(error as Error).message}`);
  }
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
  return (global[RUNTIMES] ??= {});
}

/** Locates the export a Locator describes in an imported module namespace (used by the child). */
export function findExport(ns: Record<string, unknown>, locator: Locator, what: string): Function {
  let found: unknown;
  try {
    if (locator.export !== undefined) {
      found = exportOf(ns, locator.export);
    } else {
      const containers = [ns];
      const exports = ns.default;
      if ((typeof exports === 'object' || typeof exports === 'function') && exports !== null) {
        containers.push(exports as Record<string, unknown>);
      }
      // By name first, as Python finds a function by its qualified name; then by source text, for an
      // export under another name.
      for (const c of containers) if (typeof c[locator.name!] === 'function') found ??= c[locator.name!];
      for (const c of containers) {
        for (const value of Object.values(c)) {
          if (found === undefined && typeof value === 'function' && Function.prototype.toString.call(value) === locator.source) {
            found = value;
          }
        }
      }
    }
  } catch {
    found = undefined; // an export still in its temporal dead zone (circular import)
  }
  if (typeof found !== 'function') {
    const error = targetNotFound(
      locator.export !== undefined ? `The export '${locator.export}'` : `The ${what} '${locator.name}'`,
      locator.module,
      locator.name ?? (locator.export !== 'default' ? locator.export : undefined),
    );
    // `{ target: () => ... }` names the arrow function 'target'.
    if (locator.name === 'target') error.message += ' (An inline function such as `target: () => ...` cannot be imported.)';
    throw error;
  }
  return found;
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
