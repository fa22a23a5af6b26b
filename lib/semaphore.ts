/**
 * Semaphore and BoundedSemaphore: POSIX semaphores. A named one is `sem_open(name)`, the very counter a C or
 * Python program opens by the same name; an anonymous one is a process-shared `sem_init` semaphore in memfd
 * memory (see arena.ts).
 */
import { allocateBlock, freeBlock, type Block } from './arena.js';
import { closedError, invalidArgType, mpError } from './errors.js';
import { anonymousName, openExisting, parseNameOptions, validateName, type NameOptions } from './names.js';
import { binding, WaitStatus, type NativeSemaphore } from './native.js';
import { validateInteger } from './validate.js';
import { parseAsyncWait, parseSyncWait, PendingWaits, type AsyncWaitOptions, type SyncWaitOptions } from './wait.js';

/** SEM_VALUE_MAX on Linux. */
export const SEM_VALUE_MAX = 2147483647;
/** glibc keeps a semaphore NAME as /dev/shm/sem.NAME. */
const SEM_PREFIX_BYTES = 4;
/** sizeof(sem_t) on Linux (32 bytes on 64-bit glibc). */
const SEM_T_SIZE = 32;

/** A counting semaphore shared between processes. */
export class Semaphore {
  /** The name other processes open; for C, `sem_open("/" + name, 0)`. Generated for anonymous semaphores. */
  readonly name: string;
  #sem: NativeSemaphore | undefined;
  readonly #block: Block | undefined;
  readonly #pending = new PendingWaits();

  /**
   * @param value initial value (default 1), 0..SEM_VALUE_MAX; ignored when opening an existing semaphore.
   * @param options `{ name }` opens or creates `/dev/shm/sem.<name>`; `exclusive` only creates.
   */
  constructor(value: number = 1, options?: NameOptions) {
    validateInteger(value, 'value', 0, SEM_VALUE_MAX);
    const naming = parseNameOptions(options, SEM_PREFIX_BYTES);
    if (naming.name === undefined) {
      this.#block = allocateBlock(SEM_T_SIZE);
      this.#sem = binding.Semaphore.inMemory(this.#block.file.buffer, this.#block.offset, value);
      this.name = anonymousName();
    } else {
      this.#sem = binding.Semaphore.open(`/${naming.name}`, naming.openMode, naming.mode, value).semaphore;
      this.name = naming.name;
    }
  }

  /** Opens an existing named semaphore (`code: 'ENOENT'` if there is none). */
  static open(name: string): Semaphore {
    return new Semaphore(0, openExisting(name));
  }

  /** Removes a named semaphore from the system by name. */
  static unlink(name: string): void {
    binding.Semaphore.unlink(`/${validateName(name, 'name', SEM_PREFIX_BYTES)}`);
  }

  #native(): NativeSemaphore {
    if (!this.#sem) throw closedError('Semaphore');
    return this.#sem;
  }

  /** Decrements the semaphore, waiting until it is positive. Resolves `false` on timeout. */
  async acquire(options?: AsyncWaitOptions): Promise<boolean> {
    const sem = this.#native();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    if (sem.tryWait()) return true;
    if (wait.timeoutMs === 0) return false;
    const status = await this.#pending.run((t, cb) => sem.waitAsync(t, cb), wait, 'sem_clockwait', () => sem.post(1));
    return status === WaitStatus.Ok;
  }

  /** Blocking form of {@link acquire}: returns `false` on timeout. */
  acquireSync(options?: SyncWaitOptions): boolean {
    const sem = this.#native();
    return sem.waitSync(parseSyncWait(options));
  }

  /** Increments the semaphore `n` times (default 1), waking waiters. */
  release(n: number = 1): void {
    const sem = this.#native();
    validateInteger(n, 'n', 1, SEM_VALUE_MAX);
    sem.post(n);
  }

  /** The current value (a snapshot: other processes may change it at any time). */
  getValue(): number {
    return this.#native().getValue();
  }

  /** Runs `fn` holding the semaphore (acquire, then release when `fn`'s promise settles). */
  async withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Runs `fn` holding the semaphore, blocking until it is available. */
  withLockSync<T>(fn: () => T): T {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
    this.acquireSync();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#sem === undefined;
  }

  /** Releases this process's handle. Pending waits reject with `ERR_MP_CLOSED`. */
  close(): void {
    if (!this.#sem) return;
    this.#pending.cancelAll('Semaphore');
    this.#sem.close();
    this.#sem = undefined;
    if (this.#block) freeBlock(this.#block);
  }

  /** Removes a named semaphore from the system; processes that have it open keep using it. */
  unlink(): void {
    if (!this.#block) Semaphore.unlink(this.name);
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A Semaphore that may not be released above its initial value (Python's BoundedSemaphore): such a release
 * throws `code: 'ERR_MP_RELEASE_TOO_MANY'`. POSIX semaphores do not record a bound, so it belongs to the
 * handle: the constructor's value, or the `bound` given to `BoundedSemaphore.open`.
 */
export class BoundedSemaphore extends Semaphore {
  /** The value above which `release` throws. */
  readonly bound: number;

  /** @see Semaphore */
  constructor(value: number = 1, options?: NameOptions) {
    super(value, options);
    this.bound = value;
  }

  /** Opens an existing named semaphore; `bound` is required (the semaphore itself does not store one). */
  static override open(name: string, bound?: number): BoundedSemaphore {
    if (bound === undefined) {
      throw invalidArgType('bound', 'of type number (POSIX semaphores do not record their bound)', bound);
    }
    validateInteger(bound, 'bound', 0, SEM_VALUE_MAX);
    return new BoundedSemaphore(bound, openExisting(name));
  }

  /** Increments the semaphore; throws if that would exceed the bound. */
  override release(n: number = 1): void {
    validateInteger(n, 'n', 1, SEM_VALUE_MAX);
    if (this.getValue() + n > this.bound) {
      throw mpError('ERR_MP_RELEASE_TOO_MANY', `BoundedSemaphore released too many times (bound ${this.bound})`);
    }
    super.release(n);
  }
}
