/**
 * Array (also exported as SharedArray) and RawArray: a fixed-length array of C numbers (or chars) in shared
 * memory — Python's `multiprocessing.Array` and `RawArray`. Element access is a load or store on a
 * TypedArray over the shared mapping, under the lock (taken in JavaScript when uncontended); `view` is that
 * TypedArray itself, for lock-free zero-copy use.
 */
import { inspect } from 'node:util';

import { closedError, invalidArgType, outOfRange } from '../internal/errors.js';
import type { Lock, RLock } from '../sync/lock.js';
import { openExisting } from './names.js';
import { Kind } from './segment.js';
import { RECEIVED, registerTransfer } from '../comm/reduction.js';
import {
  closeTypedStorage,
  describeTypedStorage,
  maxLength,
  noLockError,
  openTypedStorage,
  type OpenSharedDataOptions,
  type SharedDataOptions,
  type TypedStorage,
} from './typed_storage.js';
import {
  CHARS,
  type AnyView,
  type Element,
  type ElementOf,
  type InputFor,
  type InputOf,
  type Typecode,
  type TypeInfo,
  type ViewFor,
} from './typecodes.js';
import { validateInteger, validateOptions } from '../internal/validate.js';

/** Checks an array-like of values for `info` and returns them as a view of that type stores them. */
function encodeAll(info: TypeInfo, values: unknown, name: string): AnyView {
  // A TypedArray of the very type holds nothing the type cannot hold.
  if (values instanceof info.View) return values;
  const isArrayLike =
    (typeof values === 'object' && values !== null) || (typeof values === 'string' && info.char);
  const length = isArrayLike ? (values as ArrayLike<unknown>).length : undefined;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
    throw invalidArgType(name, info.char ? 'an array-like object or a string' : 'an array-like object', values);
  }
  if (length > maxLength(info)) throw outOfRange(`${name}.length`, `<= ${maxLength(info)}`, length);
  const encoded = new info.View(new ArrayBuffer(length * info.bytes), 0, length);
  const list = values as ArrayLike<unknown>;
  for (let i = 0; i < length; i++) encoded[i] = info.encode(list[i], `${name}[${i}]`) as never;
  return encoded;
}

/** Converts a copy of elements to the JS form. */
function toElements<T>(copy: AnyView, char: boolean): T[] {
  if (!char) return Array.from(copy as ArrayLike<number | bigint>) as T[];
  const result = new Array<string>(copy.length);
  for (let i = 0; i < copy.length; i++) result[i] = CHARS[copy[i] as number]!;
  return result as T[];
}

/** Checks an optional slice bound: a number (negative counts from the end, as in `Array.prototype.slice`). */
function validateBound(value: unknown, name: string): number | undefined {
  if (value !== undefined && typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  return value;
}

/**
 * A shared fixed-length array (Python's `multiprocessing.Array`; the instances of {@link SharedArray}).
 *
 * `get`/`set`, `slice`/`toArray` and `setRange` take the lock (each call once), like Python's synchronized
 * wrapper; the default lock is recursive, so several of them can be grouped under
 * `a.getLock().withLockSync(...)`. Indexes are integers `0 <= i < length` (no negative indexes: use
 * `length - 1`); `slice` takes `Array.prototype.slice`'s bounds.
 */
class SharedArrayClass<T extends Element = Element> {
  /** The name other processes open: with `Array.open(name)`, or in C with `shm_open("/" name)`. */
  readonly name: string;
  /** The C type of the elements. */
  readonly typecode: Typecode;
  /** The number of elements (fixed). */
  readonly length: number;
  readonly #storage: TypedStorage;
  readonly #view: AnyView;
  readonly #lock: Lock | RLock | undefined;
  readonly #encode: (value: unknown, name: string) => number | bigint;
  readonly #char: boolean;
  #closed = false;

  static {
    // Named as exported (`Array` would shadow the global in this module).
    Object.defineProperty(this, 'name', { value: 'SharedArray' });
  }

  /** See {@link SharedArrayConstructor}. */
  constructor(typecode: Typecode, sizeOrValues: unknown, options?: SharedDataOptions) {
    const storage = openTypedStorage(
      {
        kind: Kind.Array,
        what: 'Array',
        typecode,
        prepare(info) {
          if (typeof sizeOrValues === 'number') return { length: validateInteger(sizeOrValues, 'size', 0, maxLength(info)) };
          const initial = encodeAll(info, sizeOrValues, 'sizeOrValues');
          return { length: initial.length, fill: (view) => view.set(initial as never) };
        },
      },
      options,
    );
    this.#storage = storage;
    this.name = storage.segment.name;
    this.typecode = storage.info.typecode;
    this.length = storage.length;
    this.#view = storage.view;
    this.#lock = storage.lock;
    this.#encode = storage.info.encode;
    this.#char = storage.info.char;
  }

  /** Opens an existing named Array (`code: 'ENOENT'` if there is none); typecode and length come from it. */
  static open<T extends Element = Element>(name: string, options?: OpenSharedDataOptions): SharedArrayClass<T> {
    const { lock } = validateOptions<OpenSharedDataOptions>(options);
    return new SharedArrayClass<T>(undefined as never, undefined, { ...openExisting(name), lock });
  }

  /**
   * The elements as a zero-copy TypedArray over the shared memory (a Uint8Array of bytes for `c`). Access
   * through it takes no lock. After `close()` it must not be used.
   */
  get view(): ViewFor<T> {
    this.#assertOpen();
    // User code may keep the view after close(): never hand the memory to another object.
    this.#storage.segment.retain();
    return this.#view as ViewFor<T>;
  }

  /** Element `index`, read holding the lock. */
  get(index: number): T {
    this.#assertOpen();
    if (!((index >>> 0) === index && index < this.length)) throw this.#indexError(index);
    const lock = this.#lock;
    if (lock === undefined) return this.#read(index);
    lock.acquireSync();
    try {
      return this.#read(index);
    } finally {
      lock.release();
    }
  }

  /** Writes element `index` holding the lock; TypeError/RangeError for values the type cannot hold. */
  set(index: number, value: InputFor<T>): void {
    this.#assertOpen();
    if (!((index >>> 0) === index && index < this.length)) throw this.#indexError(index);
    const stored = this.#encode(value, 'value');
    const lock = this.#lock;
    if (lock === undefined) {
      this.#view[index] = stored;
      return;
    }
    lock.acquireSync();
    try {
      this.#view[index] = stored;
    } finally {
      lock.release();
    }
  }

  /** A copy of elements `start` to `end` (exclusive; `Array.prototype.slice` bounds), taken holding the lock. */
  slice(start?: number, end?: number): T[] {
    this.#assertOpen();
    const from = validateBound(start, 'start');
    const to = validateBound(end, 'end');
    const copy = this.#locked(() => this.#view.slice(from, to));
    return toElements<T>(copy, this.#char);
  }

  /** A copy of all elements, taken holding the lock. */
  toArray(): T[] {
    return this.slice();
  }

  /**
   * Writes `values` from index `start` on, holding the lock. Every value is checked before anything is
   * written: a bad value leaves the array unchanged. A `c` array also takes a string.
   */
  setRange(start: number, values: ArrayLike<InputFor<T>> | (T extends string ? string : never)): void {
    this.#assertOpen();
    validateInteger(start, 'start', 0, this.length);
    const encoded = encodeAll(this.#storage.info, values, 'values');
    if (encoded.length > this.length - start) {
      throw outOfRange('values.length', `<= ${this.length - start} (the room after start ${start})`, encoded.length);
    }
    this.#locked(() => this.#view.set(encoded as never, start));
  }

  /** Iterates over the elements, each read holding the lock (as Python does); `toArray()` takes a snapshot. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /**
   * The lock that guards the elements: the Array's own RLock, or the Lock/RLock given as `options.lock`.
   * Throws `code: 'ERR_MP_NO_LOCK'` for a raw Array (`lock: false`, RawArray).
   */
  getLock(): Lock | RLock {
    this.#assertOpen();
    if (this.#lock === undefined) throw noLockError('Array');
    return this.#lock;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Releases this process's handle (and the Array's own lock handle); the data stays. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeTypedStorage(this.#storage);
  }

  /** Removes a named Array from the system; processes that have it open keep using it. No-op when anonymous. */
  unlink(): void {
    this.#storage.segment.unlink();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `SharedArray('i', [1, 2, 3])` in console.log (read without the lock). */
  [inspect.custom](): string {
    if (this.#closed) return `SharedArray('${this.typecode}') <closed>`;
    return `SharedArray('${this.typecode}', ${inspect(toElements(this.#view, this.#char))})`;
  }

  // Passing to child processes (reduction.ts): a named Array by name, an anonymous one with its memory.
  static {
    registerTransfer<SharedArrayClass>({
      kind: 'Array',
      type: SharedArrayClass,
      describe: (a) => {
        a.#assertOpen();
        return describeTypedStorage(a.#storage, 'Array');
      },
      revive: (d) => {
        const { typecode, lock } = d.params as { typecode: Typecode; lock: boolean };
        return d.memory
          ? new SharedArrayClass(typecode, (d.params as { length: number }).length, { [RECEIVED]: d, lock } as SharedDataOptions)
          : SharedArrayClass.open(d.name, { lock });
      },
    });
  }

  #read(index: number): T {
    const raw = this.#view[index]!;
    return (this.#char ? CHARS[raw as number] : raw) as T;
  }

  #locked<R>(fn: () => R): R {
    const lock = this.#lock;
    if (lock === undefined) return fn();
    lock.acquireSync();
    try {
      return fn();
    } finally {
      lock.release();
    }
  }

  #indexError(index: unknown): Error {
    if (typeof index !== 'number') return invalidArgType('index', 'of type number', index);
    return outOfRange('index', `an integer >= 0 and < ${this.length}`, index);
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('Array');
  }
}

/**
 * The constructor of {@link SharedArray} (exported as both `Array` and `SharedArray`):
 * `new Array(typecode, sizeOrValues, options?)` — the element type follows from the typecode.
 */
export interface SharedArrayConstructor {
  /**
   * A shared array of C type `typecode`: `size` zeroed elements, or a copy of `values` (checked element by
   * element; a `c` array also takes a string or a Buffer).
   *
   * With `options.name` it opens the named Array if it exists (keeping its contents — `values` only fill an
   * Array this call creates), else creates it; typecode and length must match the existing object's
   * (`code: 'ERR_MP_MISMATCH'` otherwise). `exclusive: true` only creates (`code: 'EEXIST'`). Without a
   * name the Array is anonymous.
   */
  new <C extends Typecode>(
    typecode: C,
    sizeOrValues: number | ArrayLike<InputOf<C>>,
    options?: SharedDataOptions,
  ): SharedArrayClass<ElementOf<C>>;
  /** Opens an existing named Array (`code: 'ENOENT'` if there is none); typecode and length come from it. */
  open<T extends Element = Element>(name: string, options?: OpenSharedDataOptions): SharedArrayClass<T>;
  readonly prototype: SharedArrayClass;
}

/** A shared fixed-length array whose elements read as `T` (Python's `multiprocessing.Array`). */
export type SharedArray<T extends Element = Element> = SharedArrayClass<T>;

/** Python's `multiprocessing.Array`, exported as both `Array` and `SharedArray`: see {@link SharedArrayConstructor}. */
export const SharedArray = SharedArrayClass as unknown as SharedArrayConstructor;

/**
 * Python's `RawArray`: an Array without a lock (`new Array(typecode, sizeOrValues, { ...options, lock: false })`).
 * `get`/`set` are plain loads/stores; `getLock()` throws `code: 'ERR_MP_NO_LOCK'`.
 */
export function RawArray<C extends Typecode>(
  typecode: C,
  sizeOrValues: number | ArrayLike<InputOf<C>>,
  options?: Omit<SharedDataOptions, 'lock'>,
): SharedArray<ElementOf<C>> {
  return new SharedArray(typecode, sizeOrValues, { ...validateOptions<SharedDataOptions>(options), lock: false });
}
