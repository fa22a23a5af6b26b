/**
 * Value and RawValue: one C number (or char) in shared memory — Python's `multiprocessing.Value` and
 * `RawValue`. Reads and writes are plain loads and stores on a TypedArray over the shared mapping; the lock
 * (by default the object's own recursive lock, as in Python) is taken in JavaScript with one compare-and-swap
 * when uncontended. No N-API call, no copy, no syscall on the uncontended path.
 */
import { inspect } from 'node:util';

import { closedError } from '../internal/errors.js';
import type { Lock, RLock } from '../sync/lock.js';
import { openExisting } from './names.js';
import { Kind } from './segment.js';
import { RECEIVED, registerTransfer } from '../comm/reduction.js';
import {
  closeTypedStorage,
  describeTypedStorage,
  noLockError,
  openTypedStorage,
  type OpenSharedDataOptions,
  type SharedDataOptions,
  type TypedStorage,
} from './typed_storage.js';
import { CHARS, decode, type AnyView, type Element, type ElementOf, type InputFor, type InputOf, type Typecode } from './typecodes.js';
import { validateOptions } from '../internal/validate.js';

/**
 * A shared number (Python's `multiprocessing.Value`; the instances of {@link Value}).
 *
 * `value` reads and writes the number holding the lock, like Python's synchronized wrapper; the default lock
 * is recursive, so `v.getLock().withLockSync(() => { v.value += 1; })` is the atomic increment (a bare
 * `v.value += 1` is a locked read followed by a locked write, not atomic — as in Python).
 */
class SharedValue<T extends Element = Element> {
  /** The name other processes open: with `Value.open(name)`, or in C with `shm_open("/" name)`. */
  readonly name: string;
  /** The C type of the value. */
  readonly typecode: Typecode;
  readonly #storage: TypedStorage;
  readonly #view: AnyView;
  readonly #lock: Lock | RLock | undefined;
  readonly #encode: (value: unknown, name: string) => number | bigint;
  /** Whether the value is a `c` char (read as a one-character string). */
  readonly #char: boolean;
  #closed = false;

  static {
    // Named after the export, for stack traces and `v.constructor.name`.
    Object.defineProperty(this, 'name', { value: 'Value' });
  }

  /** See {@link ValueConstructor}. */
  constructor(typecode: Typecode, initial?: unknown, options?: SharedDataOptions) {
    const storage = openTypedStorage(
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
    this.#storage = storage;
    this.name = storage.segment.name;
    this.typecode = storage.info.typecode;
    this.#view = storage.view;
    this.#lock = storage.lock;
    this.#encode = storage.info.encode;
    this.#char = storage.info.char;
  }

  /** Opens an existing named Value (`code: 'ENOENT'` if there is none); its typecode comes from the object. */
  static open<T extends Element = Element>(name: string, options?: OpenSharedDataOptions): SharedValue<T> {
    const { lock } = validateOptions<OpenSharedDataOptions>(options);
    return new SharedValue<T>(undefined as never, undefined, { ...openExisting(name), lock });
  }

  /** The value, read holding the lock (if any). */
  get value(): T {
    if (this.#closed) throw closedError('Value');
    const lock = this.#lock;
    if (lock === undefined) return this.#read();
    lock.acquireSync();
    try {
      return this.#read();
    } finally {
      lock.release();
    }
  }

  /** Writes the value holding the lock (if any). Throws TypeError/RangeError for values the type cannot hold. */
  set value(value: InputFor<T>) {
    if (this.#closed) throw closedError('Value');
    const stored = this.#encode(value, 'value');
    const lock = this.#lock;
    if (lock === undefined) {
      this.#view[0] = stored;
      return;
    }
    lock.acquireSync();
    try {
      this.#view[0] = stored;
    } finally {
      lock.release();
    }
  }

  #read(): T {
    const raw = this.#view[0]!;
    return (this.#char ? CHARS[raw as number] : raw) as T;
  }

  /**
   * The lock that guards the value: its own RLock, or the Lock/RLock given as `options.lock`. Throws
   * `code: 'ERR_MP_NO_LOCK'` for a raw Value (`lock: false`, RawValue), which has none — as in Python.
   */
  getLock(): Lock | RLock {
    if (this.#closed) throw closedError('Value');
    if (this.#lock === undefined) throw noLockError('Value');
    return this.#lock;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Releases this process's handle (and the Value's own lock handle); the value itself stays. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeTypedStorage(this.#storage);
  }

  /** Removes a named Value from the system; processes that have it open keep using it. No-op when anonymous. */
  unlink(): void {
    this.#storage.segment.unlink();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** `Value('i', 42)` in console.log (read without the lock). */
  [inspect.custom](): string {
    if (this.#closed) return `Value('${this.typecode}') <closed>`;
    return `Value('${this.typecode}', ${inspect(decode(this.#storage.info, this.#view[0]!))})`;
  }

  // Passing to child processes (reduction.ts): a named Value by name, an anonymous one with its memory.
  static {
    registerTransfer<SharedValue>({
      kind: 'Value',
      type: SharedValue,
      describe: (v) => {
        if (v.#closed) throw closedError('Value');
        return describeTypedStorage(v.#storage, 'Value');
      },
      revive: (d) => {
        const { typecode, lock } = d.params as { typecode: Typecode; lock: boolean };
        return d.memory ? new SharedValue(typecode, undefined, { [RECEIVED]: d, lock } as SharedDataOptions) : SharedValue.open(d.name, { lock });
      },
    });
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
  return new Value(typecode, initial, { ...validateOptions<SharedDataOptions>(options), lock: false });
}
