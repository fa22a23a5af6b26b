/**
 * Array (also exported as SharedArray) and RawArray: a fixed-length array of C numbers (or chars) in shared
 * memory — Python's `multiprocessing.Array` and `RawArray`. Element access is a load or store on a
 * TypedArray over the shared mapping, under the lock (taken in JavaScript when uncontended); `view` is that
 * TypedArray itself, for lock-free zero-copy use.
 */
import { invalidArgType, outOfRange } from '../internal/errors.js';
import { validateInteger } from '../internal/validate.js';
import { SharedHandle } from './handle.js';
import { addIndexing } from './indexing.js';
import { Kind } from './segment.js';
import { maxLength, openOptions, rawOptions, registerSharedData, SharedData, type OpenSharedDataOptions, type SharedDataOptions } from './typed_storage.js';
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
class SharedArrayClass<T extends Element = Element> extends SharedData<T> {
  /** Element `index`, as `get(index)` reads it; `arr[index] = v` writes as `set(index, v)` does. */
  [index: number]: T;
  /** The number of elements (fixed). */
  readonly length: number;

  static {
    // Named as exported (`Array` would shadow the global in this module).
    Object.defineProperty(this, 'name', { value: 'SharedArray' });
    addIndexing(SharedHandle, this);
  }

  /** See {@link SharedArrayConstructor}. */
  constructor(typecode: Typecode, sizeOrValues: unknown, options?: SharedDataOptions) {
    super(
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
    this.length = this.storage.length;
  }

  /** Opens an existing named Array (`code: 'ENOENT'` if there is none); typecode and length come from it. */
  static open<T extends Element = Element>(name: string, options?: OpenSharedDataOptions): SharedArrayClass<T> {
    return new SharedArrayClass<T>(undefined as never, undefined, openOptions(name, options));
  }

  /**
   * The elements as a zero-copy TypedArray over the shared memory (a Uint8Array of bytes for `c`). Access
   * through it takes no lock. After `close()` it is empty (length 0).
   */
  get view(): ViewFor<T> {
    this.assertOpen();
    // User code may keep the view after close(): never hand the memory to another object.
    this.storage.segment.retain();
    return this.elements as ViewFor<T>;
  }

  /** Element `index`, read holding the lock. */
  get(index: number): T {
    if (this.closed) throw this.closedError();
    if (!((index >>> 0) === index && index < this.length)) throw this.#indexError(index);
    const lock = this.guard;
    if (lock === undefined) return this.read(index);
    lock.acquireSync();
    try {
      return this.read(index);
    } finally {
      lock.release();
    }
  }

  /** Writes element `index` holding the lock; TypeError/RangeError for values the type cannot hold. */
  set(index: number, value: InputFor<T>): void {
    if (this.closed) throw this.closedError();
    if (!((index >>> 0) === index && index < this.length)) throw this.#indexError(index);
    const stored = this.encode(value, 'value');
    const lock = this.guard;
    if (lock === undefined) {
      this.elements[index] = stored;
      return;
    }
    lock.acquireSync();
    try {
      this.elements[index] = stored;
    } finally {
      lock.release();
    }
  }

  /** A copy of elements `start` to `end` (exclusive; `Array.prototype.slice` bounds), taken holding the lock. */
  slice(start?: number, end?: number): T[] {
    this.assertOpen();
    const from = validateBound(start, 'start');
    const to = validateBound(end, 'end');
    const copy = this.locked(() => this.elements.slice(from, to));
    return toElements<T>(copy, this.char);
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
    this.assertOpen();
    validateInteger(start, 'start', 0, this.length);
    const encoded = encodeAll(this.storage.info, values, 'values');
    if (encoded.length > this.length - start) {
      throw outOfRange('values.length', `<= ${this.length - start} (the room after start ${start})`, encoded.length);
    }
    this.locked(() => this.elements.set(encoded as never, start));
  }

  /** Iterates over the elements, each read holding the lock (as Python does); `toArray()` takes a snapshot. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /** @internal `SharedArray { name: 'x', closed: false, typecode: 'i', values: [ 1, 2 ] }` (read without the lock). */
  protected override inspectDetails(): Record<string, unknown> {
    return { typecode: this.typecode, values: toElements(this.elements, this.char) };
  }

  // Passing to child processes (reduction.ts): a named Array by name, an anonymous one with its memory.
  static {
    registerSharedData('Array', SharedArrayClass, (typecode, length, options) => new SharedArrayClass(typecode as Typecode, length, options));
  }

  #indexError(index: unknown): Error {
    if (typeof index !== 'number') return invalidArgType('index', 'of type number', index);
    return outOfRange('index', `an integer >= 0 and < ${this.length}`, index);
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
  return new SharedArray(typecode, sizeOrValues, rawOptions(options));
}
