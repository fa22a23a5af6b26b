/**
 * Reduction: what makes a value travel to another process (CPython's reduction.py and pickle's rules), as
 * opposed to framing (framing.ts), which delimits the bytes. Used for a Process's arguments and fields, and
 * by every channel that carries values. A value travels by structured clone (`v8.serialize`), except, at any
 * depth of plain objects, arrays, Maps, Sets and class instances:
 *
 * - functions and classes travel by reference, as pickle sends them: the module that defines them and the
 *   name it exports them under (location.ts); the receiver imports them. One that is not exported cannot
 *   travel (an error names it, where it is in the value, and what to export from which file);
 * - a class instance arrives as an instance of its class when the class is exported by the module that
 *   defines it (its own enumerable properties are set on an object made from the class's prototype; the
 *   constructor does not run, as pickle does not run `__init__`). An instance of a class that cannot be
 *   imported, or that has #private fields (which only its constructor can create), arrives as a plain object
 *   with its own enumerable properties, and a warning says why. Objects of Node.js's own classes (a socket,
 *   a stream) cannot travel;
 * - shared objects arrive as working handles to the same object: a named object travels by name and the
 *   receiver opens it; an anonymous one lives in memfd memory (arena.ts) that has no name anywhere, so the
 *   file's descriptor travels with the message (SCM_RIGHTS, framing.ts) and the receiver maps it. A block
 *   passed this way is never reused by either side's arena (`markPassed`): the other process may use it as
 *   long as it lives. An object whose class describes a `descriptor` (a Connection's socket) has that
 *   descriptor passed as it is: the receiver's copy belongs to the revived object.
 *
 * Sending: `const out = new Outgoing(); const data = out.encode(value, 'item')`, then serialize `data` with
 * {@link serializeEncoded} and send it with `out.reduced()` and the descriptors of `out.files`. Receiving:
 * `const decode = await receive(reduced, fds)` (or {@link receiveSync}), then `decode(v8.deserialize(bytes))`.
 *
 * A class of shared objects takes part by registering itself once, in a `static {}` block (which may read its #private
 * fields):
 *
 * ```ts
 * static {
 *   registerTransfer<Lock>({
 *     kind: 'Lock',
 *     type: Lock,
 *     describe: (lock) => ({ name: lock.name, memory: lock.#segment.block }),   // memory only if anonymous
 *     revive: (d) => (d.memory ? new Lock({ [RECEIVED]: d }) : Lock.open(d.name)),
 *   });
 * }
 * ```
 * `describe` throws if the handle is closed; `revive` runs in the child with `memory` mapped there.
 */
import { serialize } from 'node:v8';

import { markPassed, type Block, type MemoryFile } from '../shared/arena.js';
import { mpError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { isLocator, loadModule, loadModuleSync, locate, locatedIn, privateFieldNames, type Locator } from './location.js';

/** What a shared object's class says about one instance so that another process can open it. */
export interface SharedDescription {
  /** The object's name (the generated one for anonymous objects). */
  name: string;
  /** Anonymous objects: where they live. The file's descriptor is passed; the block is never reused. */
  memory?: Block | undefined;
  /**
   * A descriptor that travels as it is (a Connection's socket): the receiver gets its own copy, owned by the
   * revived object.
   */
  descriptor?: number | undefined;
  /**
   * Anything else the class needs to rebuild the handle (structured-cloneable), e.g. a bound. Shared objects
   * in it (a Condition's lock) travel too, and are revived before this object.
   */
  params?: unknown;
}

/** How one class of shared objects crosses into a child. */
export interface TransferType<T extends object> {
  /** Unique among classes: identifies the class in the child. */
  kind: string;
  /** The class; subclasses that register nothing themselves travel as it. */
  type: abstract new (...args: never[]) => T;
  /** Called in the sending process. Throws (ERR_MP_CLOSED) for a closed handle. */
  describe(object: T): SharedDescription;
  /** Called in the receiving process, with `memory` mapped in it. */
  revive(description: SharedDescription): T;
}

/**
 * Option key with which `revive` asks a class's constructor to adopt a received object instead of creating
 * one: `new X(..., { [RECEIVED]: description })`. Not exported from the package.
 */
export const RECEIVED: unique symbol = Symbol('posix-mp.received');

/** The options a constructor that supports {@link RECEIVED} accepts. */
export interface ReceivedOptions {
  [RECEIVED]?: SharedDescription;
}

/** The description received by a constructor, if it was called by `revive`. */
export function receivedDescription(options: unknown): SharedDescription | undefined {
  return typeof options === 'object' && options !== null ? (options as ReceivedOptions)[RECEIVED] : undefined;
}

const byPrototype = new Map<object, TransferType<object>>();
const byKind = new Map<string, TransferType<object>>();

/** Registers a class of shared objects (see the module comment). */
export function registerTransfer<T extends object>(type: TransferType<T>): void {
  const entry = type as unknown as TransferType<object>;
  byPrototype.set(type.type.prototype as object, entry);
  byKind.set(type.kind, entry);
}

function transferTypeOf(value: object): TransferType<object> | undefined {
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const entry = byPrototype.get(proto);
    if (entry) return entry;
  }
  return undefined;
}

/**
 * The keys of the placeholders that stand for what structured clone cannot carry: `{ [SHARED]: index }` for
 * a shared object, `{ [REFERENCE]: index }` for a function or class, `{ [REFERENCE]: index, [FIELDS]: {...} }`
 * for a class instance. A NUL in a property name keeps them apart from any key real data uses.
 */
const SHARED = '\u0000posix-mp.shared';
const REFERENCE = '\u0000posix-mp.reference';
const FIELDS = '\u0000posix-mp.fields';

/**
 * A description as it travels: its memory file, and its descriptor passed as it is, replaced by indexes into
 * the message's descriptor list.
 */
export interface WireDescription {
  kind: string;
  name: string;
  memory?: { file: number; offset: number; size: number };
  /** Index of a descriptor passed as it is. */
  descriptor?: number;
  params?: unknown;
}

/** A descriptor that goes with a message: a memory file's, or one passed as it is (a Connection's socket). */
export interface PassedFile {
  /** Unique across processes (a memory file that arrives twice is mapped once). */
  readonly id: string;
  readonly fd: number;
}

/** Numbers the descriptors this process passes as they are, for their ids. */
let passedDescriptors = 0;

/** What a receiver needs, besides the encoded values and the descriptors, to decode them. Cloneable. */
export interface Reduced {
  /** The shared objects, in the order they are revived. */
  shared: WireDescription[];
  /** Ids of the descriptors that travel with the message (memory files' and passed ones), in order. */
  fileIds: string[];
  /** The functions and classes the values refer to, to import before decoding. */
  references: Locator[];
}

/** A value that cannot travel: `reason` completes "<path> cannot be sent to another process: ". */
class CannotTravel extends Error {
  constructor(
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Classes whose instances were sent as plain objects and said so (one warning per class). */
const warned = new WeakSet<Function>();

/**
 * The values of one outgoing message. `encode` returns a structured-cloneable copy of a value with every
 * shared object, function and class instance replaced by a placeholder; `reduced()` and `files` (whose
 * descriptors go with the message) are what the receiver needs to decode it.
 */
export class Outgoing {
  readonly descriptions: WireDescription[] = [];
  readonly files: PassedFile[] = [];
  readonly references: Locator[] = [];
  readonly #indexes = new Map<object, number>();
  readonly #fileIndexes = new Map<string, number>();
  readonly #referenceIndexes = new Map<Function, number>();
  readonly #copies = new Map<object, unknown>();

  /**
   * Copies `value` for `v8.serialize` (identity is kept: one object, one copy). `path` names the value in
   * errors (`args`): a part that cannot travel is named by its path, as `args[1].sock`.
   */
  encode(value: unknown, path: string): unknown {
    try {
      return this.#encode(value);
    } catch (error) {
      if (!(error instanceof CannotTravel)) throw error;
      throw mpError('ERR_MP_NOT_CLONEABLE', `${pathTo(value, error.value, path)} cannot be sent to another process: ${error.reason}`);
    }
  }

  /** What the receiver needs besides the encoded values (see {@link Reduced}). */
  reduced(): Reduced {
    return { shared: this.descriptions, fileIds: this.files.map((f) => f.id), references: this.references };
  }

  #encode(value: unknown): unknown {
    if (typeof value === 'function') return { [REFERENCE]: this.#reference(value, value) };
    if (typeof value === 'symbol') throw new CannotTravel(value, 'a symbol cannot be sent.');
    if (typeof value !== 'object' || value === null) return value;
    const done = this.#copies.get(value);
    if (done !== undefined) return done;
    const type = transferTypeOf(value);
    if (type) {
      const placeholder = { [SHARED]: this.#add(value, type) };
      this.#copies.set(value, placeholder);
      return placeholder;
    }
    if (Array.isArray(value)) {
      const n = value.length;
      const copy: unknown[] = new Array(n);
      this.#copies.set(value, copy);
      // Elements by index (skipping holes keeps them holes), then the other own keys, which Object.keys lists
      // after the elements' (walking all its keys would cost a string per element).
      const keys = Object.keys(value);
      let elements = 0;
      for (let i = 0; i < n; i++) {
        if (!(i in value)) continue;
        copy[i] = this.#encode(value[i]);
        elements++;
      }
      for (let k = elements; k < keys.length; k++) {
        (copy as unknown as Record<string, unknown>)[keys[k]!] = this.#encode((value as unknown as Record<string, unknown>)[keys[k]!]);
      }
      return copy;
    }
    if (value instanceof Map) {
      const copy = new Map();
      this.#copies.set(value, copy);
      for (const [k, v] of value) copy.set(this.#encode(k), this.#encode(v));
      return copy;
    }
    if (value instanceof Set) {
      const copy = new Set();
      this.#copies.set(value, copy);
      for (const v of value) copy.add(this.#encode(v));
      return copy;
    }
    // Dates, typed arrays, errors and the like go as they are: structured clone knows them.
    if (Object.prototype.toString.call(value) !== '[object Object]') return value;
    const proto: unknown = Object.getPrototypeOf(value);
    const reference = proto === Object.prototype || proto === null ? undefined : this.#instanceOf(value, proto as object);
    const fields: Record<string, unknown> = {};
    const copy = reference === undefined ? fields : { [REFERENCE]: reference, [FIELDS]: fields };
    this.#copies.set(value, copy);
    for (const key of Object.keys(value)) fields[key] = this.#encode((value as Record<string, unknown>)[key]);
    return copy;
  }

  /** The reference index of an instance's class, or undefined to send the instance as a plain object. */
  #instanceOf(instance: object, proto: object): number | undefined {
    const cls = (proto as { constructor?: unknown }).constructor;
    if (typeof cls !== 'function' || cls.prototype !== proto) return undefined;
    const answer = locate(cls);
    if (isLocator(answer)) {
      const privates = privateFieldNames(instance);
      if (privates.length === 0) return this.#reference(cls, instance);
      warnPlain(cls, `its class has #private fields (${privates.join(', ')}), which only its constructor can create, and the receiver does not run constructors (as pickle does not run __init__). Use public properties for state that must travel.`);
      return undefined;
    }
    if (answer.module?.startsWith('node:')) {
      throw new CannotTravel(instance, `${answer.reason} Send the data it holds instead (a descriptor's number, a path, a Buffer).`);
    }
    warnPlain(cls, answer.reason);
    return undefined;
  }

  #reference(fn: Function, value: unknown): number {
    const known = this.#referenceIndexes.get(fn);
    if (known !== undefined) return known;
    const answer = locate(fn);
    if (!isLocator(answer)) throw new CannotTravel(value, `${answer.reason}`);
    const index = this.references.push(answer) - 1;
    this.#referenceIndexes.set(fn, index);
    return index;
  }

  #add(object: object, type: TransferType<object>): number {
    const known = this.#indexes.get(object);
    if (known !== undefined) return known;
    const { name, memory, descriptor, params } = type.describe(object);
    // Encoding the params adds the shared objects among them first: the child revives them before this one.
    let encodedParams: unknown;
    try {
      encodedParams = this.#encode(params);
    } catch (error) {
      if (!(error instanceof CannotTravel)) throw error;
      throw new CannotTravel(object, `its ${pathTo(params, error.value, type.kind)} cannot travel: ${error.reason}`);
    }
    const wire: WireDescription = { kind: type.kind, name, params: encodedParams };
    if (memory) {
      markPassed(memory);
      let file = this.#fileIndexes.get(memory.file.id);
      if (file === undefined) {
        file = this.files.push(memory.file) - 1;
        this.#fileIndexes.set(memory.file.id, file);
      }
      wire.memory = { file, offset: memory.offset, size: memory.size };
    }
    if (descriptor !== undefined) {
      wire.descriptor = this.files.push({ id: `fd.${process.pid}.${passedDescriptors++}`, fd: descriptor }) - 1;
    }
    const index = this.descriptions.push(wire) - 1;
    this.#indexes.set(object, index);
    return index;
  }
}

function warnPlain(cls: Function, reason: string): void {
  if (warned.has(cls)) return;
  warned.add(cls);
  process.emitWarning(
    `An instance of ${cls.name || 'an anonymous class'} is sent to another process as a plain object (its own properties, without its class): ${reason}`,
    { code: 'MP_SENT_AS_PLAIN_OBJECT' },
  );
}

/** Where `target` is inside `root`, as a path from `rootPath` (`args[1].sock`); found only for errors. */
function pathTo(root: unknown, target: unknown, rootPath: string): string {
  const seen = new Set<object>();
  const search = (value: unknown, path: string): string | undefined => {
    if (value === target) return path;
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) return undefined;
    seen.add(value);
    if (typeof value === 'function') return undefined;
    if (value instanceof Map) {
      for (const [k, v] of value) {
        const found = search(v, `${path}.get(${typeof k === 'string' ? JSON.stringify(k) : String(k)})`);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (value instanceof Set) {
      for (const v of value) {
        const found = search(v, `${path} (an element)`);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    for (const key of Object.keys(value)) {
      const step = Array.isArray(value) ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
      const found = search((value as Record<string, unknown>)[key], path + step);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return search(root, rootPath) ?? rootPath;
}

/**
 * Serializes an encoded value; if structured clone refuses a part (a WeakMap, a Proxy, a platform object),
 * the error names that part by its path in the original value and says what can travel.
 */
export function serializeEncoded(encoded: unknown, original: unknown, path: string): Buffer {
  try {
    return serialize(encoded);
  } catch (error) {
    const part = uncloneable(original);
    const what =
      part === undefined ? path : pathTo(original, part, path) + ` (${Object.prototype.toString.call(part).slice(8, -1)})`;
    throw mpError(
      'ERR_MP_NOT_CLONEABLE',
      `${what} cannot be sent to another process: ${(error as Error).message.split('\n')[0]!.slice(0, 200)}. ` +
        'What can travel: structured-cloneable data, shared objects, exported functions and instances of exported classes.',
    );
  }
}

/** The innermost part of `value` that structured clone refuses (looking through plain containers). */
function uncloneable(value: unknown): unknown {
  const seen = new Set<object>();
  const visit = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || seen.has(v) || transferTypeOf(v)) return undefined;
    seen.add(v);
    try {
      serialize(v);
      return undefined;
    } catch {
      const children = v instanceof Map ? [...v.values()] : v instanceof Set ? [...v] : Object.values(v);
      for (const child of children) {
        if (typeof child === 'function') continue;
        const found = visit(child);
        if (found !== undefined) return found;
      }
      return v;
    }
  };
  return visit(value);
}

/** A memory file another process passed to this one, mapped here. */
class ReceivedFile implements MemoryFile {
  readonly size: number;
  readonly buffer: ArrayBuffer;

  constructor(
    readonly id: string,
    readonly fd: number,
  ) {
    this.size = binding.fdSize(fd);
    this.buffer = binding.map(fd, this.size);
  }

  close(): void {
    receivedFiles.delete(this.id);
    binding.unmap(this.buffer);
    binding.closeFd(this.fd);
  }
}

/** Received files by id: a file that arrives twice is mapped once. */
const receivedFiles = new Map<string, ReceivedFile>();

/**
 * Revives the shared objects a sender described (`functions`: its references, loaded). `fileIds[i]` is the
 * id of the descriptor `fds[i]`: a memory file's, mapped here, or one passed as it is, handed to `revive`.
 * This takes ownership of the descriptors.
 */
export function reviveShared(
  descriptions: readonly WireDescription[],
  fileIds: readonly string[],
  fds: readonly number[],
  functions: readonly Function[] = [],
): object[] {
  const passedAsIs = new Set(descriptions.map((wire) => wire.descriptor));
  const files = fileIds.map((id, i) => {
    if (passedAsIs.has(i)) return undefined;
    const known = receivedFiles.get(id);
    if (known) {
      binding.closeFd(fds[i]!);
      return known;
    }
    const file = new ReceivedFile(id, fds[i]!);
    receivedFiles.set(id, file);
    return file;
  });
  const objects: object[] = [];
  for (const wire of descriptions) {
    const type = byKind.get(wire.kind);
    if (!type) throw mpError('ERR_MP_TRANSFER', `a ${wire.kind} was passed, but this process's posix-mp cannot open one`);
    let memory: Block | undefined;
    if (wire.memory) {
      memory = { file: files[wire.memory.file]!, offset: wire.memory.offset, size: wire.memory.size };
      markPassed(memory);
    }
    // Shared objects in the params precede this one in the list (Outgoing.#add), so they exist already.
    const descriptor = wire.descriptor === undefined ? undefined : fds[wire.descriptor];
    objects.push(type.revive({ name: wire.name, memory, descriptor, params: decode(wire.params, objects, functions) }));
  }
  return objects;
}

/** Imports the functions and classes a message refers to (see {@link Reduced}), in order. */
export async function loadReferences(references: readonly Locator[]): Promise<Function[]> {
  const functions: Function[] = [];
  for (const locator of references) functions.push(locatedIn(await loadModule(locator.module), locator));
  return functions;
}

/** {@link loadReferences} for receivers that cannot wait: ES modules are loaded with require(). */
export function loadReferencesSync(references: readonly Locator[]): Function[] {
  return references.map((locator) => locatedIn(loadModuleSync(locator.module), locator));
}

/**
 * Replaces the placeholders in deserialized data with the revived shared objects, the imported functions and
 * classes, and instances of those classes — in place (the data is fresh from `v8.deserialize`) — and returns
 * the result.
 */
export function decode(value: unknown, objects: readonly object[], functions: readonly Function[] = []): unknown {
  if (objects.length === 0 && functions.length === 0) return value;
  const replaced = new Map<object, unknown>();
  const visit = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const known = replaced.get(v);
    if (known !== undefined) return known;
    const record = v as Record<string, unknown>;
    if (isPlaceholder(v, SHARED)) return objects[record[SHARED] as number];
    if (isPlaceholder(v, REFERENCE)) return functions[record[REFERENCE] as number];
    if (isPlaceholder(v, REFERENCE, FIELDS)) {
      const cls = functions[record[REFERENCE] as number] as { prototype: object };
      const instance = Object.create(cls.prototype) as Record<string, unknown>;
      replaced.set(v, instance);
      const fields = record[FIELDS] as Record<string, unknown>;
      for (const key of Object.keys(fields)) instance[key] = visit(fields[key]);
      return instance;
    }
    replaced.set(v, v);
    if (v instanceof Map) {
      const entries = [...v].map(([k, x]) => [visit(k), visit(x)] as const);
      v.clear();
      for (const [k, x] of entries) v.set(k, x);
    } else if (v instanceof Set) {
      const items = [...v].map(visit);
      v.clear();
      for (const x of items) v.add(x);
    } else if (Array.isArray(v) || Object.prototype.toString.call(v) === '[object Object]') {
      for (const key of Object.keys(record)) record[key] = visit(record[key]);
    }
    return v;
  };
  return visit(value);
}

function isPlaceholder(value: object, ...keys: string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => Object.prototype.hasOwnProperty.call(value, key));
}

/**
 * Receives a message's values: imports the functions and classes it refers to, revives its shared objects
 * (taking ownership of `fds`, the message's descriptors), and returns the decoder of its encoded values.
 */
export async function receive(reduced: Reduced, fds: readonly number[]): Promise<(value: unknown) => unknown> {
  let functions: Function[];
  try {
    functions = await loadReferences(reduced.references);
  } catch (error) {
    for (const fd of fds) binding.closeFd(fd);
    throw error;
  }
  const objects = reviveShared(reduced.shared, reduced.fileIds, fds, functions);
  return (value) => decode(value, objects, functions);
}

/** {@link receive} for receivers that cannot wait (ES modules are loaded with require()). */
export function receiveSync(reduced: Reduced, fds: readonly number[]): (value: unknown) => unknown {
  let functions: Function[];
  try {
    functions = loadReferencesSync(reduced.references);
  } catch (error) {
    for (const fd of fds) binding.closeFd(fd);
    throw error;
  }
  const objects = reviveShared(reduced.shared, reduced.fileIds, fds, functions);
  return (value) => decode(value, objects, functions);
}
