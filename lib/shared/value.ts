/**
 * Value and RawValue: one C number (or char) in shared memory — Python's `multiprocessing.Value` and
 * `RawValue`. Reads and writes are plain loads and stores on a TypedArray over the shared mapping; the lock
 * (by default the object's own recursive lock, as in Python) is taken in JavaScript with one compare-and-swap
 * when uncontended. No N-API call, no copy, no syscall on the uncontended path.
 */
import { Kind } from './segment.js';
import { openOptions, rawOptions, registerSharedData, SharedData, type OpenSharedDataOptions, type SharedDataOptions } from './typed_storage.js';
import type { Element, ElementOf, InputFor, InputOf, Typecode } from './typecodes.js';

/**
 * A shared number (Python's `multiprocessing.Value`; the instances of {@link Value}).
 *
 * `value` reads and writes the number holding the lock, like Python's synchronized wrapper; the default lock
 * is recursive, so `v.getLock().withLockSync(() => { v.value += 1; })` is the atomic increment (a bare
 * `v.value += 1` is a locked read followed by a locked write, not atomic — as in Python).
 */
class SharedValue<T extends Element = Element> extends SharedData<T> {
  static {
    // Named after the export, for stack traces and `v.constructor.name`.
    Object.defineProperty(this, 'name', { value: 'Value' });
  }

  /** See {@link ValueConstructor}. */
  constructor(typecode: Typecode, initial?: unknown, options?: SharedDataOptions) {
    super(
      {
        kind: Kind.Value,
        what: 'Value',
        typecode,
        prepare(info) {
          if (initial === undefined) return { length: 1 };
          const stored = info.encode(initial, 'initial');
          return { length: 1, fill: (view) => void (view[0] = stored) };
        },
      },
      options,
    );
  }

  /** Opens an existing named Value (`code: 'ENOENT'` if there is none); its typecode comes from the object. */
  static open<T extends Element = Element>(name: string, options?: OpenSharedDataOptions): SharedValue<T> {
    return new SharedValue<T>(undefined as never, undefined, openOptions(name, options));
  }

  /** The value, read holding the lock (if any). */
  get value(): T {
    if (this.closed) throw this.closedError();
    const lock = this.guard;
    if (lock === undefined) return this.read(0);
    lock.acquireSync();
    try {
      return this.read(0);
    } finally {
      lock.release();
    }
  }

  /** Writes the value holding the lock (if any). Throws TypeError/RangeError for values the type cannot hold. */
  set value(value: InputFor<T>) {
    if (this.closed) throw this.closedError();
    const stored = this.encode(value, 'value');
    const lock = this.guard;
    if (lock === undefined) {
      this.elements[0] = stored;
      return;
    }
    lock.acquireSync();
    try {
      this.elements[0] = stored;
    } finally {
      lock.release();
    }
  }

  /** @internal `Value { name: 'x', closed: false, typecode: 'i', value: 42 }` (read without the lock). */
  protected override inspectDetails(): Record<string, unknown> {
    return { typecode: this.typecode, value: this.read(0) };
  }

  // Passing to child processes (reduction.ts): a named Value by name, an anonymous one with its memory.
  static {
    registerSharedData('Value', SharedValue, (typecode, _length, options) => new SharedValue(typecode as Typecode, undefined, options));
  }
}

/**
 * The constructor of {@link Value}: `new Value(typecode, initial?, options?)` — the element type follows from
 * the typecode (`new Value('q')` is a `Value<bigint>`).
 */
export interface ValueConstructor {
  /**
   * A shared value of C type `typecode`, initially `initial` (default 0, `0n` or `'\0'`).
   *
   * With `options.name` it opens the named Value if it exists (keeping its current value — `initial` only
   * applies to a Value this call creates, so every process can run the same line), else creates it;
   * the typecode must match the existing object's (`code: 'ERR_MP_MISMATCH'` otherwise).
   * `exclusive: true` only creates (`code: 'EEXIST'`). Without a name the Value is anonymous.
   */
  new <C extends Typecode>(typecode: C, initial?: InputOf<C>, options?: SharedDataOptions): SharedValue<ElementOf<C>>;
  /** Opens an existing named Value (`code: 'ENOENT'` if there is none); its typecode comes from the object. */
  open<T extends Element = Element>(name: string, options?: OpenSharedDataOptions): SharedValue<T>;
  readonly prototype: SharedValue;
}

/** A shared value whose elements read as `T` (Python's `multiprocessing.Value`). */
export type Value<T extends Element = Element> = SharedValue<T>;

/** Python's `multiprocessing.Value`: see {@link ValueConstructor}. */
export const Value = SharedValue as unknown as ValueConstructor;

/**
 * Python's `RawValue`: a Value without a lock (`new Value(typecode, initial, { ...options, lock: false })`).
 * Its `value` is a plain load/store; `getLock()` throws `code: 'ERR_MP_NO_LOCK'`.
 */
export function RawValue<C extends Typecode>(
  typecode: C,
  initial?: InputOf<C>,
  options?: Omit<SharedDataOptions, 'lock'>,
): Value<ElementOf<C>> {
  return new Value(typecode, initial, rawOptions(options));
}
