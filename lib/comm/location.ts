/**
 * Where a function or class is defined, so that another process can import it: what pickle does with a
 * function's `__module__` and `__qualname__`. A JavaScript function does not know its module, so this asks
 * V8's inspector (an in-process `node:inspector` session, synchronous):
 *
 * 1. `[[FunctionLocation]]` gives the id of the script that defines the function, and the profiler's
 *    best-effort coverage (or, failing that, the debugger's `scriptParsed` events) that script's URL;
 * 2. a CommonJS module exports the very function as a property of `module.exports` (require.cache) — or,
 *    while it is still loading, may export it further down: then by name, and the receiver checks that the
 *    export has the function's source text;
 * 3. an ES module: the function's `[[Scopes]]` hold its module's scope, whose bindings show under which
 *    local names the module holds the very function; the module's export list (es-module-lexer on its
 *    source) says under which exported names those bindings are exported.
 *
 * The answer is exact — a function is found only under a name bound to that very function in the module
 * that defines it, or checked by the receiver against its source text — and cached per function: the first
 * look-up of a process costs ~5–10 ms, later ones well under one. A function that cannot be reached (not
 * exported, defined inside another function, by eval or the REPL, a bound or native function) is reported
 * with what to export from which file.
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { initSync, parse } from 'es-module-lexer';

import { mpError } from '../internal/errors.js';

/** Where a receiving process finds a function or class: an export of a module. */
export interface Locator {
  /** The module's URL (file: for files, node: for Node's own modules). */
  module: string;
  /** The export's name ('default' for the default export / CommonJS `module.exports`). */
  export: string;
  /** The function's source text, when the export could not be checked yet (a CommonJS module loading). */
  source?: string;
}

/** Why a function cannot be located: what it is, where it is defined, what to do. */
export interface Unlocatable {
  /** The defining module's URL, if it has one. */
  module: string | undefined;
  /** A sentence for error messages: why, and what to export from which file. */
  reason: string;
}

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------------------
// The inspector session

let session: Session | undefined;

interface RemoteObject {
  type: string;
  subtype?: string;
  description?: string;
  objectId?: string;
  value?: unknown;
}

interface PropertyDescriptor {
  name: string;
  value?: RemoteObject;
}

/** Sends a command on the in-process session; an in-process session answers synchronously. */
function post<T>(method: string, params: object = {}): T {
  if (session === undefined) {
    session = new Session();
    session.connect();
  }
  let result: T | undefined;
  let failure: Error | null = null;
  session.post(method, params, (error, answer) => {
    failure = error;
    result = answer as T;
  });
  if (failure) throw failure;
  return result!;
}

const OBJECT_GROUP = 'posix-mp.location';
/** Where the value being inspected is put for the session to see it (removed at once). */
const HANDOVER = '__posixMpInspected';

/** A remote handle on `value` in the session (valid until the object group is released). */
function remote(value: object): string {
  const g = globalThis as Record<string, unknown>;
  g[HANDOVER] = value;
  try {
    return post<{ result: RemoteObject }>('Runtime.evaluate', { expression: `globalThis.${HANDOVER}`, objectGroup: OBJECT_GROUP })
      .result.objectId!;
  } finally {
    delete g[HANDOVER];
  }
}

function properties(objectId: string): {
  result: PropertyDescriptor[];
  internalProperties?: PropertyDescriptor[];
  privateProperties?: PropertyDescriptor[];
} {
  return post('Runtime.getProperties', { objectId, ownProperties: true });
}

/** Script URLs by script id. */
const scriptUrls = new Map<string, string>();

/**
 * The URL of a script ('' for eval'd code). Asked of the profiler's best-effort coverage first, which lists
 * every script that has run code (~4 ms, no debugger); else of the debugger's `scriptParsed` events, enabled
 * for the look-up only (its first enabling costs ~30 ms). Cached.
 */
function scriptUrl(scriptId: string): string {
  if (!scriptUrls.has(scriptId)) {
    const coverage = post<{ result: { scriptId: string; url: string }[] }>('Profiler.getBestEffortCoverage').result;
    for (const entry of coverage) scriptUrls.set(entry.scriptId, entry.url);
  }
  if (!scriptUrls.has(scriptId)) withDebugger(() => undefined);
  return scriptUrls.get(scriptId) ?? '';
}

/**
 * A script's source: the file's (`fromDisk`, what ran unless a loader transformed it), else V8's own copy
 * from the debugger.
 */
function scriptSource(scriptId: string, url: string, fromDisk: boolean): string {
  if (fromDisk && url.startsWith('file:')) {
    try {
      return readFileSync(fileURLToPath(url), 'utf8');
    } catch {
      // Gone or unreadable: ask the debugger.
    }
  }
  return withDebugger(() => post<{ scriptSource: string }>('Debugger.getScriptSource', { scriptId }).scriptSource);
}

/** Runs `action` with the debugger enabled, recording the URLs of all scripts meanwhile. */
function withDebugger<T>(action: () => T): T {
  const onParsed = (message: { params: { scriptId: string; url: string } }): void => {
    scriptUrls.set(message.params.scriptId, message.params.url);
  };
  const s = session!;
  s.on('Debugger.scriptParsed', onParsed);
  try {
    post('Debugger.enable');
    return action();
  } finally {
    post('Debugger.disable');
    s.off('Debugger.scriptParsed', onParsed);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Locating

const located = new WeakMap<Function, Locator | Unlocatable>();

/** Where `fn` can be imported from, or why it cannot. Cached per function. */
export function locate(fn: Function): Locator | Unlocatable {
  let answer = located.get(fn);
  if (answer === undefined) {
    if (!process.features.inspector) {
      return { module: undefined, reason: 'This Node was built without the inspector, which finds where a function is defined: pass { module, export } instead.' };
    }
    try {
      answer = find(fn);
    } finally {
      post('Runtime.releaseObjectGroup', { objectGroup: OBJECT_GROUP });
    }
    located.set(fn, answer);
  }
  return answer;
}

/** Whether {@link locate} found the function. */
export function isLocator(answer: Locator | Unlocatable): answer is Locator {
  return 'export' in answer;
}

function describeFunction(fn: Function): string {
  const kind = /^class\b/.test(Function.prototype.toString.call(fn)) ? 'class' : 'function';
  return fn.name ? `${kind} '${fn.name}'` : `an anonymous ${kind}`;
}

function exportHint(fn: Function, file: string): string {
  const name = fn.name || 'it';
  const isClass = /^class\b/.test(Function.prototype.toString.call(fn));
  return `Export it from ${file} (\`export ${isClass ? 'class' : 'function'} ${name}\`, or \`module.exports.${name} = ${name}\` in CommonJS) so that the receiving process can import it`;
}

function find(fn: Function): Locator | Unlocatable {
  const what = describeFunction(fn);
  const source = Function.prototype.toString.call(fn);
  if (fn.name.startsWith('bound ') || source.endsWith('{ [native code] }')) {
    return { module: undefined, reason: `The ${what} is a bound or built-in function: only a function defined in a module file can be imported by another process.` };
  }
  const fnId = remote(fn);
  const props = properties(fnId);
  const location = props.internalProperties?.find((p) => p.name === '[[FunctionLocation]]')?.value?.value as
    | { scriptId: string }
    | undefined;
  if (!location) return { module: undefined, reason: `The ${what} has no source location.` };
  const url = scriptUrl(location.scriptId);
  if (url.startsWith('node:')) {
    return { module: url, reason: `'${fn.name}' is defined by Node.js itself (${url}): it and its objects cannot be sent to another process.` };
  }
  if (!url.startsWith('file:') && !url.startsWith('/')) {
    return {
      module: undefined,
      reason: `The ${what} is defined by code that is not in a module file (-e, the REPL, eval, a test runner's transform): put it in a module file and export it.`,
    };
  }
  const file = url.startsWith('file:') ? fileURLToPath(url) : url;
  const moduleUrl = url.startsWith('file:') ? url : new URL(`file://${url}`).href;
  const cjs = require.cache[file];
  if (cjs) {
    const name = commonJsExportName(cjs, fn);
    if (name !== undefined) return { module: moduleUrl, export: name };
    // A module still loading may export it further down (`module.exports = { work }` after the guarded
    // code): by its name, and the receiver checks, once it has loaded the module, that the export is it.
    if (!cjs.loaded && fn.name !== '') return { module: moduleUrl, export: fn.name, source };
    return { module: moduleUrl, reason: `The ${what} is not exported by ${file}. ${exportHint(fn, file)}.` };
  }
  const locals = moduleBindingsOf(fnId, props.internalProperties);
  if (locals.length > 0) {
    // The file on disk is what ran, unless a loader transformed it (TypeScript, say): then V8's copy.
    let exportNames = exportedNames(scriptSource(location.scriptId, url, true), locals);
    if (exportNames.length === 0) exportNames = exportedNames(scriptSource(location.scriptId, url, false), locals);
    // The name the function has first: it reads best in messages and in the receiver's stack traces.
    const name = exportNames.find((n) => n === fn.name) ?? exportNames[0];
    if (name !== undefined) return { module: moduleUrl, export: name };
  }
  // `export default function () {}` (named 'default' by the language) has no binding the scope shows: the
  // receiver checks the default export's source text instead.
  if (locals.length === 0 && fn.name === 'default' && exportedNames(scriptSource(location.scriptId, url, true), [undefined]).includes('default')) {
    return { module: moduleUrl, export: 'default', source };
  }
  return {
    module: moduleUrl,
    reason:
      `The ${what} is not exported by ${file}` +
      (locals.length === 0 ? ' (it is not defined at the top level of that module, where an export must be)' : '') +
      `. ${exportHint(fn, file)}.`,
  };
}

/** The CommonJS export name of `value` (data properties only: getters are not run). */
export function commonJsExportName(module: NodeJS.Module, value: unknown): string | undefined {
  const exports: unknown = module.exports;
  if (exports === value) return 'default';
  if ((typeof exports !== 'object' && typeof exports !== 'function') || exports === null) return undefined;
  for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(exports))) {
    if ('value' in descriptor && descriptor.value === value && key !== 'default') return key;
  }
  return undefined;
}

/** The names of the bindings of `fn`'s module scope that hold `fn` itself (an ES module's top level). */
function moduleBindingsOf(fnId: string, internal: PropertyDescriptor[] | undefined): string[] {
  const scopesId = internal?.find((p) => p.name === '[[Scopes]]')?.value?.objectId;
  if (scopesId === undefined) return [];
  // The module's top level: the outermost scope but the global ones — V8's Module scope, or, for a module a
  // loader wrapped in a function (a test runner's transform), that function's scope.
  const scopes = properties(scopesId).result.filter((p) => p.value?.description !== 'Global' && p.value?.description !== 'Script');
  const moduleScope = scopes[scopes.length - 1]?.value?.objectId;
  if (moduleScope === undefined) return [];
  const candidates = properties(moduleScope).result.filter((p) => p.value?.type === 'function' && p.value.objectId);
  if (candidates.length === 0) return [];
  // One round trip compares every function binding with the function itself.
  const same = post<{ result: { value: boolean[] } }>('Runtime.callFunctionOn', {
    objectId: fnId,
    functionDeclaration: 'function (...values) { return values.map((v) => v === this); }',
    arguments: candidates.map((p) => ({ objectId: p.value!.objectId })),
    returnByValue: true,
  }).result.value;
  return candidates.filter((_, i) => same[i]).map((p) => p.name);
}

let lexerReady = false;

/** The names under which an ES module's source exports any of the local bindings `locals` (undefined: an expression). */
function exportedNames(source: string, locals: readonly (string | undefined)[]): string[] {
  if (!lexerReady) {
    initSync();
    lexerReady = true;
  }
  let exports: readonly { n: string; ln?: string | undefined }[];
  try {
    exports = parse(source)[1];
  } catch {
    return [];
  }
  return exports.filter((e) => locals.includes(e.ln)).map((e) => e.n);
}

// ---------------------------------------------------------------------------------------------------------
// Loading, in the receiving process

/** Modules loaded as CommonJS (their code uses the CommonJS copy of this package). */
const commonJs = new Set<string>();

/**
 * Every module loaded here, by URL: loading one again returns it at once. Node's own caches would too, but
 * only after resolving the path again (stat and realpath calls, ~0.7 ms in a child just forked by the fork
 * server, whose preloaded modules are found here).
 */
const loaded = new Map<string, Record<string, unknown>>();

/** Whether {@link loadModule} loaded this module as CommonJS. */
export function isCommonJs(url: string): boolean {
  return commonJs.has(url);
}

/** Options that can register module-loader hooks, which require() would partly bypass. */
const HOOKS = /(?:^|\s)--(?:(?:experimental-)?loader|import)(?:[=\s]|$)/;

/**
 * Whether modules may be loaded with require(): this Node loads ES modules with it (Node ≥ 20.19 and
 * ≥ 22.12), and no module-loader hooks are registered from the command line.
 */
function canRequire(): boolean {
  return (
    (process.features as { require_module?: boolean }).require_module === true &&
    !HOOKS.test(process.execArgv.join(' ')) &&
    !HOOKS.test(process.env.NODE_OPTIONS ?? '')
  );
}

/** Failures of require() that mean "use import()": top-level await, or an ES module it cannot load. */
const NEEDS_IMPORT = new Set(['ERR_REQUIRE_ASYNC_MODULE', 'ERR_REQUIRE_ESM']);

/** A module namespace from require(): CommonJS exports become `{ default: module.exports }`. */
function required(url: string): Record<string, unknown> {
  const exports: unknown = require(fileURLToPath(url));
  let ns: Record<string, unknown>;
  if (Object.prototype.toString.call(exports) === '[object Module]') {
    ns = exports as Record<string, unknown>;
  } else {
    commonJs.add(url);
    ns = { default: exports };
  }
  loaded.set(url, ns);
  return ns;
}

/**
 * Loads a module, as a module namespace (CommonJS: `{ default: module.exports }`). With require() where
 * possible: it reads, links and runs the module synchronously, ~2 ms sooner than import(), whose loader takes
 * several trips through the event loop and the thread pool — most of a prepared start.
 */
export async function loadModule(url: string): Promise<Record<string, unknown>> {
  const known = loaded.get(url);
  if (known) return known;
  if (url.startsWith('file:') && /\.[cm]?js$/.test(url) && canRequire()) {
    try {
      return required(url);
    } catch (error) {
      if (!NEEDS_IMPORT.has((error as { code?: string }).code ?? '')) throw error;
    }
  }
  const ns = (await import(url)) as Record<string, unknown>;
  if (url.startsWith('file:') && require.cache[fileURLToPath(url)] !== undefined) commonJs.add(url);
  loaded.set(url, ns);
  return ns;
}

/**
 * Loads a module synchronously (for receivers that cannot wait): require(), which loads ES modules too on
 * Node ≥ 20.19 / 22.12 unless they use top-level await.
 */
export function loadModuleSync(url: string): Record<string, unknown> {
  if (url.startsWith('node:')) return require(url) as Record<string, unknown>;
  return loaded.get(url) ?? required(url);
}

/** The exported value `name` of a module namespace (CommonJS: also a property of `module.exports`). */
export function exportOf(ns: Record<string, unknown>, name: string): unknown {
  if (name in ns) return ns[name];
  const exports = ns.default;
  if ((typeof exports === 'object' || typeof exports === 'function') && exports !== null) {
    return (exports as Record<string, unknown>)[name];
  }
  return undefined;
}

/** The function a locator names in a loaded module; throws ERR_MP_TARGET_NOT_FOUND if it is not there. */
export function locatedIn(ns: Record<string, unknown>, locator: Locator): Function {
  let found: unknown;
  try {
    found = exportOf(ns, locator.export);
  } catch {
    found = undefined; // an export still in its temporal dead zone (circular import)
  }
  // Only for the messages: parsing the URL costs ~50 µs in a child just forked.
  const file = (): string => (locator.module.startsWith('file:') ? fileURLToPath(locator.module) : locator.module);
  if (typeof found !== 'function') {
    throw mpError('ERR_MP_TARGET_NOT_FOUND', `The export '${locator.export}' of ${file()} is not a function in this process. Export it (\`module.exports.${locator.export} = ${locator.export}\` in CommonJS).`);
  }
  if (locator.source !== undefined && Function.prototype.toString.call(found) !== locator.source) {
    throw mpError('ERR_MP_TARGET_NOT_FOUND', `The export '${locator.export}' of ${file()} is another function than the one given.`);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// Private state

const privateNames = new WeakMap<Function, string[]>();

/**
 * The names of an object's #private fields: state another process cannot rebuild, since only the class's own
 * constructor can create it (and the receiver does not run constructors, as pickle does not run __init__).
 * Cached per class: every instance of a class has the same private fields.
 */
export function privateFieldNames(object: object): string[] {
  const cls = (object as { constructor?: unknown }).constructor;
  const known = typeof cls === 'function' ? privateNames.get(cls) : undefined;
  if (known) return [...known];
  let names: string[];
  try {
    names = process.features.inspector ? (properties(remote(object)).privateProperties ?? []).map((p) => p.name) : [];
  } finally {
    if (session) post('Runtime.releaseObjectGroup', { objectGroup: OBJECT_GROUP });
  }
  if (typeof cls === 'function') privateNames.set(cls, names);
  return [...names];
}
