/**
 * What a Process runs, and where its child finds it. The child is a fresh Node, so, as with Python's
 * "spawn" start method, it imports what it runs:
 * - a target function is found where it is *defined*: the module that defines it must export it (under any
 *   name), wherever the caller imported it from (location.ts finds it, exactly: never another function of
 *   the same name);
 * - a Process subclass overriding `run()` likewise; its own enumerable fields travel to the child (shared
 *   objects among them arrive as working handles), its constructor is not run again there (as Python
 *   unpickles the object instead of calling `__init__`), so it must not have #private fields;
 * - `{ module, export }` names the module (a path, a file: URL, a specifier relative to the calling module,
 *   or a package) and the export (default: the default export / `module.exports`).
 * Whatever the child could not find is refused by `start()`, in the parent, saying what to export from
 * which file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { initSync, parse } from 'es-module-lexer';

import { invalidArgType, invalidArgValue, mpError } from '../internal/errors.js';
import { exportOf, isLocator, locate, privateFieldNames, type Locator } from '../comm/location.js';

/** What a Process runs: a function exported from its module, or an explicit export of a module. */
export type Target = ((...args: any[]) => unknown) | { module: string | URL; export?: string };

const require = createRequire(import.meta.url);

/** The directory of this package's built files: frames in it are not the user's. */
const OWN_DIR = path.dirname(fileURLToPath(import.meta.url)) + path.sep;

/** Checks the `target` option. */
export function validateTarget(target: unknown): Target | undefined {
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

function toUrl(file: string): string | undefined {
  if (file.startsWith('file:')) return file;
  if (path.isAbsolute(file)) return pathToFileURL(file).href;
  return undefined;
}

/**
 * The module that created a Process (the first stack frame outside this package): relative `{ module }`
 * specifiers are relative to it.
 */
export function callerModule(): string | undefined {
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
  for (const site of sites) {
    const file = site.getFileName();
    if (!file || file.startsWith('node:')) continue;
    if ((file.startsWith('file:') ? fileURLToPath(file) : file).startsWith(OWN_DIR)) continue;
    return toUrl(file) ?? file;
  }
  return undefined;
}

function displayPath(module: string): string {
  return module.startsWith('file:') ? fileURLToPath(module) : module;
}

/** The module a `{ module }` target names, as a URL; relative specifiers are relative to the caller. */
export function resolveModule(module: string | URL, origin: string | undefined): string {
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

let lexerReady = false;

/**
 * Whether a module file certainly lacks the export `name`: a CommonJS module that has loaded, or an ES
 * module whose source (read from disk) has no such export and re-exports nothing wholesale.
 */
function certainlyLacks(module: string, name: string): boolean {
  if (!module.startsWith('file:')) return false;
  const loaded = require.cache[fileURLToPath(module)];
  if (loaded) return loaded.loaded && typeof exportOf({ default: loaded.exports }, name) !== 'function' && name !== 'default';
  if (!/\.(?:mjs|js)$/.test(module)) return false;
  const names = esmExportNames(module);
  return names !== undefined && !names.has(name);
}

/** An ES module file's export names, by URL; undefined when they cannot be known from its source. */
const exportNames = new Map<string, Set<string> | undefined>();

function esmExportNames(module: string): Set<string> | undefined {
  if (exportNames.has(module)) return exportNames.get(module);
  if (!lexerReady) {
    initSync();
    lexerReady = true;
  }
  let names: Set<string> | undefined;
  try {
    const source = readFileSync(fileURLToPath(module), 'utf8');
    const exports = parse(source)[1];
    // `export * from` may supply any name; a CommonJS file has no ESM exports at all.
    names = /\bexport\s*\*/.test(source) || exports.length === 0 ? undefined : new Set(exports.map((e) => e.n));
  } catch {
    names = undefined;
  }
  exportNames.set(module, names);
  return names;
}

/** Where the child finds a target: refuses (ERR_MP_TARGET_NOT_FOUND) one it could not find. */
export function locateTarget(target: Target, origin: string | undefined): Locator {
  if (typeof target === 'function') return locateFunction(target, 'target function');
  const module = resolveModule(target.module, origin);
  const name = target.export ?? 'default';
  if (certainlyLacks(module, name)) {
    throw mpError('ERR_MP_TARGET_NOT_FOUND', `The target { module, export: '${name}' } names an export that ${displayPath(module)} does not have.`);
  }
  return { module, export: name };
}

/** Where the child finds a function or class (a target, a Process subclass), or ERR_MP_TARGET_NOT_FOUND. */
export function locateFunction(fn: Function, what: string): Locator {
  const answer = locate(fn);
  if (isLocator(answer)) return answer;
  let message = `The ${what} cannot be run by the child process, which must import it. ${answer.reason}`;
  // `{ target: () => ... }` names the arrow function 'target'.
  if (fn.name === 'target') message += ' (An inline function such as `target: () => ...` cannot be imported.)';
  throw mpError('ERR_MP_TARGET_NOT_FOUND', message);
}

/** The names of the #private fields of Process itself, which every subclass instance also has. */
let processPrivates: string[] | undefined;

/**
 * Refuses a Process subclass instance with #private fields of its own: the child does not run constructors
 * (as Python does not run `__init__` when unpickling), so they would not exist there and `run()` would throw.
 */
export function checkNoPrivateFields(instance: object, plain: () => object): void {
  processPrivates ??= privateFieldNames(plain());
  const own = privateFieldNames(instance);
  for (const name of processPrivates) {
    const index = own.indexOf(name);
    if (index >= 0) own.splice(index, 1);
  }
  if (own.length === 0) return;
  const cls = (instance as { constructor: Function }).constructor.name;
  throw mpError(
    'ERR_MP_PRIVATE_FIELDS',
    `${cls} has #private fields (${own.join(', ')}), which cannot reach the child process: the child does not run ` +
      `the constructor (as Python does not run __init__ when unpickling) and only it can create them. Use public ` +
      `properties for the state run() needs (they travel, shared objects as working handles).`,
  );
}

/** The error of `start()` while the child is still importing the module of its target. */
export function bootstrapping(): Error {
  return mpError(
    'ERR_MP_BOOTSTRAPPING',
    'An attempt has been made to start a new process before the current process has finished its ' +
      'bootstrapping phase: this child is still importing the module that defines its target, and that ' +
      'module starts processes when imported. Guard the code that starts processes with ' +
      '`if (isMainProcess()) { ... }` (Python: `if __name__ == "__main__":`).',
  );
}
