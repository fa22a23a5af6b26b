/**
 * Semaphore and BoundedSemaphore: POSIX semaphores. A named one is `sem_open(name)`, the very counter a C or
 * Python program opens by the same name; an anonymous one is a process-shared `sem_init` semaphore in memfd
 * memory (see arena.ts).
 */
import { constants } from 'node:os';

import { allocateBlock, freeBlock, type Block } from '../shared/arena.js';

import { invalidArgType, mpError, systemError } from '../internal/errors.js';
import { binding, WaitStatus, type NativeSemaphore } from '../internal/native.js';
import { AdaptivePolling } from '../internal/polling.js';
import { validateInteger } from '../internal/validate.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import { RECEIVED, receivedDescription, type SharedDescription } from '../comm/reduction.js';
import { registerHandle, SharedHandle } from '../shared/handle.js';
import { anonymousName, openExisting, parseNameOptions, validateName, type NameOptions } from '../shared/names.js';
import { withLock, withLockSync } from './with_lock.js';

/** SEM_VALUE_MAX on Linux. */
export const SEM_VALUE_MAX = 2147483647;
/** glibc keeps a semaphore NAME as /dev/shm/sem.NAME. */
const SEM_PREFIX_BYTES = 4;
/** sizeof(sem_t) on Linux (32 bytes on 64-bit glibc). */
const SEM_T_SIZE = 32;

const EOVERFLOW = -constants.errno.EOVERFLOW;
// glibc's sem_t, seen as two int32 words (little-endian): the value, and the number of sleepers.
const VALUE = 0;
const SLEEPERS = 1;

/** Takes one token with a compare-and-swap on the value word, as glibc's sem_trywait does. */
function tryTake(counter: Int32Array): boolean {
  // The first read is plain (inlined; Atomics calls are not): the compare-and-swap validates it anyway.
  for (let value = counter[VALUE]!; value > 0; ) {
    const seen = Atomics.compareExchange(counter, VALUE, value, value - 1);
    if (seen === value) return true;
    value = seen;
  }
  return false;
}

/**
 * A counting semaphore shared between processes. Where the C library is glibc (whose sem_t layout is fixed
 * ABI: programs built against any glibc share named semaphores), posting and taking an available token are
 * compare-and-swaps on the sem_t in JavaScript, following glibc's own protocol; native code runs only to wake
 * or wait for sleepers.
 */
export class Semaphore extends SharedHandle {
  readonly #sem: NativeSemaphore;
  /** The sem_t's [value, sleepers] words, when the layout is glibc's (undefined once closed). */
  #counter: Int32Array | undefined;
  readonly #block: Block | undefined;
  readonly #polling = new AdaptivePolling();
  /** One poll: takes a token if the value (read first, cheaply) says there is one. */
  readonly #takePosted = (): boolean => {
    const counter = this.#counter;
    return counter !== undefined && Atomics.load(counter, VALUE) > 0 && tryTake(counter);
  };

  /**
   * @param value initial value (default 1), 0..SEM_VALUE_MAX; ignored when opening an existing semaphore.
   * @param options `{ name }` opens or creates `/dev/shm/sem.<name>`; `exclusive` only creates.
   */
  constructor(value: number = 1, options?: NameOptions) {
    validateInteger(value, 'value', 0, SEM_VALUE_MAX);
    const naming = parseNameOptions(options, SEM_PREFIX_BYTES);
    let name = naming.name;
    let counter: ArrayBuffer | undefined;
    let block: Block | undefined;
    let sem: NativeSemaphore;
    if (name === undefined) {
      // Passed by a parent process (reduction.ts): the sem_t already lives in the memory it passed.
      const received = receivedDescription(options);
      block = received?.memory ?? allocateBlock(SEM_T_SIZE);
      sem = binding.Semaphore.inMemory(block.file.buffer, block.offset, received ? -1 : value);
      if (binding.semLayoutIsGlibc) counter = block.file.buffer;
      name = received?.name ?? anonymousName();
    } else {
      sem = binding.Semaphore.open(`/${name}`, naming.openMode, naming.mode, value).semaphore;
      counter = sem.counter();
    }
    super('Semaphore', name);
    this.#sem = sem;
    this.#block = block;
    if (counter) this.#counter = new Int32Array(counter, block?.offset ?? 0, 2);
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
    if (this.closed) throw this.closedError();
    return this.#sem;
  }

  /** Decrements the semaphore, waiting until it is positive. Resolves `false` on timeout. */
  async acquire(options?: AsyncWaitOptions): Promise<boolean> {
    const sem = this.#native();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const counter = this.#counter;
    if (counter ? tryTake(counter) : sem.tryWait()) return true;
    if (wait.timeoutMs === 0) return false;
    // Polling first (see polling.ts), in slices of a few µs between turns of the event loop — unless waits of
    // this handle already sleep: they are ahead, and this one would only spin behind them.
    if (counter && !this.pending.waiting) {
      const polled = this.#polling.pollYielding(this.#takePosted);
      if (polled === true || (polled !== false && (await polled))) return true;
      // The loop turned meanwhile: the handle may have been closed, or the wait aborted.
      this.#native();
      if (wait.signal?.aborted) throw wait.signal.reason;
    }
    const status = await this.pending.run((t, cb) => sem.waitAsync(t, cb), wait, 'sem_clockwait');
    if (counter) this.#polling.waited();
    return status === WaitStatus.Ok;
  }

  /** Blocking form of {@link acquire}: returns `false` on timeout. */
  acquireSync(options?: SyncWaitOptions): boolean {
    const sem = this.#native();
    const timeout = parseSyncWait(options);
    const counter = this.#counter;
    if (!counter) return sem.waitSync(timeout);
    if (tryTake(counter)) return true;
    if (timeout === 0) return false;
    // Polling first (see polling.ts): a token posted by a process running on another CPU within microseconds
    // is then taken without a futex sleep and the wake-up after it.
    if (this.#polling.poll(this.#takePosted)) return true;
    const taken = sem.waitSync(timeout);
    this.#polling.waited();
    return taken;
  }

  /** Increments the semaphore `n` times (default 1), waking waiters. */
  release(n: number = 1): void {
    const sem = this.#native();
    validateInteger(n, 'n', 1, SEM_VALUE_MAX);
    const counter = this.#counter;
    if (!counter) {
      sem.post(n);
      return;
    }
    for (let value = counter[VALUE]!; ; ) {
      if (value > SEM_VALUE_MAX - n) throw systemError(EOVERFLOW, 'sem_post');
      const seen = Atomics.compareExchange(counter, VALUE, value, value + n);
      if (seen === value) break;
      value = seen;
    }
    // Like sem_post: only a semaphore with sleepers needs the (native) futex wake.
    if (Atomics.load(counter, SLEEPERS) !== 0) sem.wake(n);
  }

  /** The current value (a snapshot: other processes may change it at any time). */
  getValue(): number {
    const sem = this.#native();
    return this.#counter ? Atomics.load(this.#counter, VALUE) : sem.getValue();
  }

  /** Runs `fn` holding the semaphore (acquire, then release when `fn`'s promise settles). */
  withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    return withLock(this, fn);
  }

  /** Runs `fn` holding the semaphore, blocking until it is available. */
  withLockSync<T>(fn: () => T): T {
    return withLockSync(this, fn);
  }


  /** @internal Polls stop at once; the sem_t stays until native waits have returned. */
  protected override closing(): void {
    this.#counter = undefined;
  }

  /**
   * @internal Cancelled waits may still be returning on waiter threads, and one that took a token just before
   * the cancel gives it back through the native handle: it and an anonymous semaphore's memory go only once
   * they have all reported back (reusing the block earlier would let a waiter thread write into it).
   */
  protected override free(): void {
    this.#sem.close();
    if (this.#block) freeBlock(this.#block);
  }

  /** Removes a named semaphore from the system; processes that have it open keep using it. */
  override unlink(): void {
    if (!this.#block) Semaphore.unlink(this.name);
  }

  /** @internal A named semaphore by name, an anonymous one with its memory. */
  protected override describe(): SharedDescription {
    return { name: this.name, memory: this.#block };
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { value: this.getValue() };
  }

  // Passing to child processes (reduction.ts).
  static {
    registerHandle('Semaphore', Semaphore, (d) =>
      d.memory ? new Semaphore(0, { [RECEIVED]: d } as NameOptions) : Semaphore.open(d.name),
    );
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

  /** @internal The bound travels with the semaphore. */
  protected override describe(): SharedDescription {
    return { ...super.describe(), params: this.bound };
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { ...super.inspectDetails(), bound: this.bound };
  }

  static {
    registerHandle('BoundedSemaphore', BoundedSemaphore, (d) =>
      d.memory
        ? new BoundedSemaphore(d.params as number, { [RECEIVED]: d } as NameOptions)
        : BoundedSemaphore.open(d.name, d.params as number),
    );
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
