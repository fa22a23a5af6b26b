/**
 * What Value and Array share: their memory (header.param[0] = typecode, param[1] = length; payload = a
 * pmp_lock, then the elements at DATA_OFFSET), opening it by name with the object's own typecode and length,
 * Python's `lock` option, and the handle over it ({@link SharedData}).
 */
import { invalidArgType, mpError } from '../internal/errors.js';
import { LAYOUT } from '../internal/layout.js';
import { validateOptions } from '../internal/validate.js';
import { Lock, RLock } from '../sync/lock.js';
import { RECEIVED, receivedDescription, type SharedDescription } from '../comm/reduction.js';
import { registerHandle, SharedHandle } from './handle.js';
import { OPEN_EXISTING, openExisting, parseNameOptions, type InternalNameOptions, type NameOptions } from './names.js';
import { Kind, Segment } from './segment.js';
import { CHARS, typeInfo, typeInfoOfCharCode, type AnyView, type Element, type Typecode, type TypeInfo } from './typecodes.js';

/** PMP_DATA_OFFSET: the elements follow the object's own pmp_lock, 8-byte aligned. */
export const DATA_OFFSET = LAYOUT.constants.PMP_DATA_OFFSET;

/** The largest payload: the header stores sizes as 32-bit words, read back as signed. */
const MAX_PAYLOAD = 0x7fffffff;

/** The most elements of a type an Array can hold. */
export function maxLength(info: TypeInfo): number {
  return Math.floor((MAX_PAYLOAD - DATA_OFFSET) / info.bytes);
}

/** Options of Value, Array, RawValue and RawArray. */
export interface SharedDataOptions extends NameOptions {
  /**
   * Python's `lock` argument. `true` (the default): the object's own lock, a recursive lock (Python's RLock)
   * stored with the data, which other processes and C programs find there too. A {@link Lock} or
   * {@link RLock}: that lock guards the data instead (a non-recursive Lock cannot be taken again inside
   * `withLockSync` by `value` and `get`/`set`, exactly as in Python). `false`: no lock — the raw object.
   */
  lock?: boolean | Lock | RLock;
}

/** Options of `Value.open` and `Array.open`: only `lock`; the typecode and length come from the object. */
export interface OpenSharedDataOptions {
  /** As in {@link SharedDataOptions.lock}. */
  lock?: boolean | Lock | RLock;
}

/** What a Value or Array is made of in this process. @internal */
export interface TypedStorage {
  /** The object's memory (header + lock + data). */
  readonly segment: Segment;
  /** The element type: the caller's, or the opened object's own. */
  readonly info: TypeInfo;
  /** The number of elements (1 for a Value). */
  readonly length: number;
  /** The elements, zero-copy. */
  readonly view: AnyView;
  /** The lock `value`, `get` and `set` take; undefined for raw objects. */
  readonly lock: Lock | RLock | undefined;
  /** Whether `lock` is the object's own (closed with it) rather than the caller's. */
  readonly ownsLock: boolean;
}

/** What the constructor of a Value or Array asks for. @internal */
export interface StorageRequest {
  /** The header's kind. */
  kind: Kind.Value | Kind.Array;
  /** 'Value' or 'Array', for messages. */
  what: string;
  /** The typecode argument; undefined when `X.open(name)` takes it from the object. */
  typecode: unknown;
  /**
   * Checks the remaining arguments against the type (before any syscall) and returns the length, and what
   * writes the initial elements into a created object's view (nothing: all zero). Not called by `X.open`.
   */
  prepare(info: TypeInfo): { length: number; fill?: ((view: AnyView) => void) | undefined };
}

/** The options with which `X.open(name, options)` constructs: open `name`, with `options.lock`. @internal */
export function openOptions(name: string, options: unknown): SharedDataOptions {
  const { lock } = validateOptions<OpenSharedDataOptions>(options);
  return { ...openExisting(name), lock };
}

/** The options of RawValue and RawArray: `options` with `lock: false`. @internal */
export function rawOptions(options: unknown): SharedDataOptions {
  return { ...validateOptions<SharedDataOptions>(options), lock: false };
}

/** Validates the `lock` option. */
function parseLockOption(value: unknown): boolean | Lock | RLock {
  if (value === undefined) return true;
  if (typeof value === 'boolean' || value instanceof Lock || value instanceof RLock) return value;
  throw invalidArgType('options.lock', 'of type boolean or an instance of Lock or RLock', value);
}

/** Creates or opens the memory of a Value or Array, as `options` (SharedDataOptions) say. @internal */
export function openTypedStorage(request: StorageRequest, options: unknown): TypedStorage {
  const o = validateOptions<SharedDataOptions & InternalNameOptions>(options);
  const lockOption = parseLockOption(o.lock);
  const naming = parseNameOptions(o);
  const opening = request.typecode === undefined && o[OPEN_EXISTING] === true;
  const requested = opening ? undefined : typeInfo(request.typecode);
  const prepared = requested && request.prepare(requested);
  const length = prepared?.length ?? 0;
  let view: AnyView | undefined;
  // Passed by a parent process (reduction.ts): the object's memory came with the job, already initialised.
  const received = receivedDescription(options);
  const segment = received?.memory
    ? Segment.received(request.kind, received.name, received.memory)
    : Segment.open(
    {
      kind: request.kind,
      payloadSize: DATA_OFFSET + length * (requested?.bytes ?? 0),
      params: [requested?.charCode ?? 0, length],
      init(created) {
        view = new requested!.View(created.buffer, created.payloadOffset + DATA_OFFSET, length);
        prepared?.fill?.(view);
      },
    },
    naming,
  );
  try {
    const info = segment.created ? requested! : checkExisting(segment, request, requested, length);
    const actualLength = segment.params[1];
    view ??= new info.View(segment.buffer, segment.payloadOffset + DATA_OFFSET, actualLength);
    const lock = lockOption === true ? new RLock(RLock.embeddedOptions(segment, segment.payloadOffset)) : lockOption || undefined;
    return { segment, info, length: actualLength, view, lock, ownsLock: lockOption === true };
  } catch (error) {
    segment.close();
    throw error;
  }
}

/** An opened object's typecode and length, checked against what the caller asked for. */
function checkExisting(segment: Segment, request: StorageRequest, requested: TypeInfo | undefined, length: number): TypeInfo {
  const [charCode, actualLength] = segment.params;
  const info = typeInfoOfCharCode(charCode);
  const valid =
    info !== undefined &&
    actualLength >= 0 &&
    (request.kind === Kind.Array || actualLength === 1) &&
    segment.payloadSize >= DATA_OFFSET + actualLength * info.bytes;
  if (!valid) {
    throw mpError('ERR_MP_WRONG_KIND', `'${segment.name}' is not a valid ${request.what} (bad typecode or size in its header)`);
  }
  if (requested && requested !== info) {
    throw mpError(
      'ERR_MP_MISMATCH',
      `${request.what} '${segment.name}' exists with typecode '${info.typecode}', not '${requested.typecode}'`,
    );
  }
  if (requested && request.kind === Kind.Array && length !== actualLength) {
    throw mpError('ERR_MP_MISMATCH', `Array '${segment.name}' exists with length ${actualLength}, not ${length}`);
  }
  return info;
}

/**
 * The handle of a Value or Array: its elements, zero-copy, and the lock that guards them.
 */
export abstract class SharedData<T extends Element = Element> extends SharedHandle {
  /** The C type of the elements. */
  readonly typecode: Typecode;
  /** @internal */
  protected readonly storage: TypedStorage;
  /** @internal The elements, zero-copy. */
  protected readonly elements: AnyView;
  /** @internal The lock `value`, `get` and `set` take; undefined for raw objects. */
  protected readonly guard: Lock | RLock | undefined;
  /** @internal Checks and converts a value for storing. */
  protected readonly encode: (value: unknown, name: string) => number | bigint;
  /** @internal Whether the elements are `c` chars (read as one-character strings). */
  protected readonly char: boolean;
  /** 'Value' or 'Array', for messages. */
  readonly #what: string;

  /** @internal Creates or opens the memory as `request` and `options` (SharedDataOptions) say. */
  protected constructor(request: StorageRequest, options: unknown) {
    const storage = openTypedStorage(request, options);
    super(request.what, storage.segment.name, storage.segment);
    this.#what = request.what;
    this.storage = storage;
    this.typecode = storage.info.typecode;
    this.elements = storage.view;
    this.guard = storage.lock;
    this.encode = storage.info.encode;
    this.char = storage.info.char;
  }

  /**
   * The lock that guards the data: the object's own RLock, or the Lock/RLock given as `options.lock`. Throws
   * `code: 'ERR_MP_NO_LOCK'` for a raw object (`lock: false`, RawValue, RawArray), which has none — as in
   * Python.
   */
  getLock(): Lock | RLock {
    this.assertOpen();
    if (this.guard === undefined) {
      throw mpError('ERR_MP_NO_LOCK', `this ${this.#what} was created with lock: false and has no lock`);
    }
    return this.guard;
  }

  /** @internal Element `index` in its JavaScript form (a `c` char as a string), read without the lock. */
  protected read(index: number): T {
    const raw = this.elements[index]!;
    return (this.char ? CHARS[raw as number] : raw) as T;
  }

  /** @internal Runs `fn` holding the lock, if there is one. */
  protected locked<R>(fn: () => R): R {
    const lock = this.guard;
    if (lock === undefined) return fn();
    lock.acquireSync();
    try {
      return fn();
    } finally {
      lock.release();
    }
  }

  /**
   * @internal The memory goes once the own lock's native waits (async acquires that close just cancelled) have
   * reported back: until then a waiter thread may still write the word.
   */
  protected override free(): void {
    const { storage } = this;
    if (!storage.ownsLock) {
      super.free();
      return;
    }
    storage.lock!.close();
    storage.lock!.afterNativeWaits(() => super.free());
  }

  /**
   * @internal By name, or with its memory if anonymous; `params` carry what the child's constructor needs. A
   * Lock or RLock given as `options.lock` is a separate object that this description cannot carry: such an
   * object throws `ERR_MP_TRANSFER`.
   */
  protected override describe(): SharedDescription {
    const what = this.#what;
    const { info, length, lock, ownsLock } = this.storage;
    if (lock !== undefined && !ownsLock) {
      throw mpError(
        'ERR_MP_TRANSFER',
        `a ${what} created with its own Lock/RLock as options.lock cannot be passed to a child yet; ` +
          `pass the default (lock: true) ${what}, or pass the lock separately and create the ${what} with lock: false`,
      );
    }
    return { ...super.describe(), params: { typecode: info.typecode, length, lock: lock !== undefined } };
  }
}

/**
 * Registers a Value or Array class for passing to child processes (reduction.ts): an anonymous object is
 * rebuilt with the memory that came with it, a named one opened by name. `construct` calls the class's
 * constructor with the typecode, the length and the options (typecode and length undefined when opening: they
 * come from the object).
 * @internal
 */
export function registerSharedData<T extends SharedData>(
  kind: 'Value' | 'Array',
  type: abstract new (...args: never[]) => T,
  construct: (typecode: Typecode | undefined, length: number | undefined, options: SharedDataOptions) => T,
): void {
  registerHandle(kind, type, (d) => {
    const { typecode, lock, length } = d.params as { typecode: Typecode; lock: boolean; length: number };
    return d.memory
      ? construct(typecode, length, { [RECEIVED]: d, lock } as SharedDataOptions)
      : construct(undefined, undefined, openOptions(d.name, { lock }));
  });
}
