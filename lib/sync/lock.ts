/**
 * Lock and RLock on a futex word in shared memory (`pmp_lock` in native/include/posix_mp.h). The uncontended
 * acquire and release are one compare-and-swap each, with no N-API call: a WebAssembly atomic instruction on
 * a mirror of the word's page (wasm_lock.ts), or `Atomics` on the shared view where there is no mirror. Only
 * waiting goes native. The word names the owning *process* (pid plus start time, so a reused pid is not
 * mistaken for the owner), which is why an async acquire completed by a waiter thread can be released from
 * the JS thread, and why a holder's death — even by SIGKILL — hands the lock to the next acquirer, which
 * sees `ownerDied === true`.
 */
import { threadId } from 'node:worker_threads';

import { registerAfterFork } from '../internal/after_fork.js';
import { mpError } from '../internal/errors.js';
import { LAYOUT } from '../internal/layout.js';
import { binding, WaitStatus } from '../internal/native.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import type { SharedDescription } from '../comm/reduction.js';
import { openSegment, registerOpenable, SharedHandle } from '../shared/handle.js';
import { openExisting, type NameOptions } from '../shared/names.js';
import { Kind, kindName, type Segment } from '../shared/segment.js';
import { mirrorOf, NO_MIRROR, tryLock, unlock, unmirror } from './wasm_lock.js';
import { withLock, withLockSync } from './with_lock.js';

/** sizeof(pmp_lock). */
const LOCK_SIZE = LAYOUT.pmp_lock.sizeof;
const WAITERS = BigInt(LAYOUT.constants.PMP_LOCK_WAITERS);
/** This process's owner token, as native code computes it. */
let TOKEN: bigint = binding.selfToken();
let TOKEN_WITH_WAITERS = TOKEN | WAITERS;
// A child forked by the fork server is another owner than the zygote that loaded this module.
registerAfterFork(() => {
  TOKEN = binding.selfToken();
  TOKEN_WITH_WAITERS = TOKEN | WAITERS;
});
/** Where the lock word's low half (its futex) is in a view of the word as two 32-bit halves. */
const LOW_HALF = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
/** pmp_lock.owner_thread of this thread: 0 means "no owner". */
const THREAD = threadId + 1;
/** Where `meta` (pmp_lock.owner_thread and .count) starts in the pmp_lock. */
const META_OFFSET = LAYOUT.pmp_lock.owner_thread;
// pmp_lock.owner_thread and .count, as indexes of `meta`.
const OWNER_THREAD = 0;
const COUNT = (LAYOUT.pmp_lock.count - META_OFFSET) / 4;

/** `LockBase.#mirror` before the first acquire: the word is mirrored for WebAssembly then (wasm_lock.ts). */
const NOT_YET_MIRRORED = -2;

/** An option key, not exported from the package: a lock inside another object's memory. */
const EMBEDDED: unique symbol = Symbol('posix-mp.embeddedLock');

/** Where an embedded lock lives: a Value, Condition or Barrier embeds its own pmp_lock. */
interface Embedding {
  segment: Segment;
  byteOffset: number;
}

interface InternalLockOptions extends NameOptions {
  [EMBEDDED]?: Embedding;
}

/** What Lock and RLock share: the word, its waiting, and the handle's lifetime. */
abstract class LockBase extends SharedHandle {
  /** The object holding the lock: the lock's own, or the Value, Condition or Barrier that embeds it. */
  readonly #segment: Segment;
  /** Whether this handle owns the segment (false for a lock embedded in a Value, Condition, Barrier). */
  readonly #ownsSegment: boolean;
  readonly #buffer: ArrayBuffer;
  readonly #offset: number;
  /** The 64-bit lock word. */
  protected readonly word: BigUint64Array;
  /** For error messages: 'Lock' or 'RLock'. */
  readonly #what: string;
  /** owner_thread and count (RLock). */
  protected readonly meta: Uint32Array;
  /** The word's offset in the WebAssembly mirror window, NO_MIRROR, or NOT_YET_MIRRORED. */
  #mirror = NOT_YET_MIRRORED;
  #ownerDied = false;

  protected constructor(kind: Kind, options: unknown) {
    const what = kind === Kind.Lock ? 'Lock' : 'RLock';
    const embedding = (options as InternalLockOptions | undefined)?.[EMBEDDED];
    const segment = embedding?.segment ?? openSegment({ kind, payloadSize: LOCK_SIZE }, options);
    // An embedded lock is named after its holder; only a lock of its own closes and unlinks its segment.
    super(what, segment.name, embedding ? undefined : segment);
    this.#segment = segment;
    this.#offset = embedding?.byteOffset ?? segment.payloadOffset;
    this.#ownsSegment = !embedding;
    this.#buffer = segment.buffer;
    this.word = new BigUint64Array(this.#buffer, this.#offset + LAYOUT.pmp_lock.word, 1);
    this.#what = what;
    this.meta = new Uint32Array(this.#buffer, this.#offset + META_OFFSET, 2);
  }

  /**
   * @internal Where the pmp_lock lives: the object that holds it (the lock's own, or a Value, Condition...)
   * and its offset from that object's payload start. A Condition records it so that `Condition.open` finds
   * the same lock.
   */
  get location(): { segment: Segment; payloadOffset: number } {
    return { segment: this.#segment, payloadOffset: this.#offset - this.#segment.payloadOffset };
  }

  /** @internal A lock over the pmp_lock at `byteOffset` of another object's segment. */
  static embeddedOptions(segment: Segment, byteOffset: number): NameOptions {
    return { [EMBEDDED]: { segment, byteOffset } } as InternalLockOptions;
  }

  /**
   * True when the most recent successful acquire through this handle took the lock over from a process that
   * died holding it: the data the lock protects may be half-updated.
   */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /** Whether any process holds the lock now (a snapshot). */
  locked(): boolean {
    this.assertOpen();
    return Atomics.load(this.word, 0) !== 0n;
  }

  /** Acquires, waiting without blocking the event loop. Resolves `false` on timeout. */
  async acquire(options?: AsyncWaitOptions): Promise<boolean> {
    this.assertOpen();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    if (this.tryReenter()) return true;
    if (this.#tryTake()) return this.acquired(false);
    if (wait.timeoutMs === 0) return this.#settle(binding.lockTry(this.#buffer, this.#offset));
    // An abort or close that comes after the waiter thread took the lock gives it back natively (waiter.cc).
    const status = await this.pending.run((t, cb) => binding.lockAcquireAsync(this.#buffer, this.#offset, t, cb), wait, 'futex');
    return this.#settle(status);
  }

  /** Acquires, blocking the calling thread. Returns `false` on timeout. */
  acquireSync(options?: SyncWaitOptions): boolean {
    // The uncontended case first, with nothing else to check: a mirrored word implies an open handle, and
    // without options there is nothing to validate (this halves an RLock pair). An RLock this thread holds
    // fails the swap, as does a contended lock, which the general path below tries once more before waiting.
    const at = this.#mirror;
    if (at >= 0 && options === undefined && tryLock(at) === 1) return this.acquired(false);
    this.assertOpen();
    const timeout = parseSyncWait(options);
    if (this.tryReenter()) return true;
    if (this.#tryTake()) return this.acquired(false);
    if (timeout === 0) return this.#settle(binding.lockTry(this.#buffer, this.#offset));
    return this.#settle(binding.lockAcquireSync(this.#buffer, this.#offset, timeout));
  }

  /** The uncontended acquire: one compare-and-swap of 0 to this process's token. */
  #tryTake(): boolean {
    const at = this.#mirror;
    if (at >= 0) return tryLock(at) === 1;
    if (at === NOT_YET_MIRRORED) {
      this.#mirror = mirrorOf(this, this.#buffer, this.#offset);
      return this.#tryTake();
    }
    return Atomics.compareExchange(this.word, 0, 0n, TOKEN) === 0n;
  }

  #settle(status: WaitStatus): boolean {
    if (status === WaitStatus.Ok) return this.acquired(false);
    if (status === WaitStatus.OwnerDied) return this.acquired(true);
    return false;
  }

  /** Records a fresh acquisition by this thread. */
  protected acquired(ownerDied: boolean): true {
    this.#ownerDied = ownerDied;
    return true;
  }

  /** RLock: takes the lock again if this thread holds it. */
  protected abstract tryReenter(): boolean;

  /** Releases the lock. */
  abstract release(): void;

  /**
   * The uncontended release, with nothing else to check (a mirrored word implies an open handle): true if
   * this process held the word with nobody sleeping on it and now it is free.
   */
  protected tryFastRelease(): boolean {
    const at = this.#mirror;
    return at >= 0 && unlock(at) === 1;
  }

  /** Clears the word, whoever holds it, waking a sleeper if there is one. Returns false if it was unlocked. */
  protected releaseWord(): boolean {
    return this.tryFastRelease() || this.clearWord();
  }

  /** `releaseWord` without the mirror: through `Atomics` on the shared view, whatever the word holds. */
  protected clearWord(): boolean {
    // A plain read to start from (inlined, unlike Atomics): the compare-and-swap validates it.
    let word = this.word[0]!;
    for (;;) {
      if (word === 0n) return false;
      const seen = Atomics.compareExchange(this.word, 0, word, 0n);
      if (seen === word) break;
      word = seen;
    }
    if (word & WAITERS) binding.lockWake(this.#buffer, this.#offset);
    return true;
  }

  /**
   * @internal For a caller that waits until the lock is free without taking it (a container's async forms):
   * marks the word as having a waiter, so that its release wakes the futex, and returns what to sleep on — the
   * futex (the word's low half, as two 32-bit halves of the word) and the value it holds while held — or
   * undefined if the lock is free or the word changed meanwhile (try again at once).
   */
  sleepTarget(): { futex: Int32Array; index: number; expected: number } | undefined {
    const seen = Atomics.load(this.word, 0);
    if (seen === 0n) return undefined;
    if ((seen & WAITERS) === 0n && Atomics.compareExchange(this.word, 0, seen, seen | WAITERS) !== seen) return undefined;
    const futex = new Int32Array(this.#buffer, this.word.byteOffset, 2);
    return { futex, index: LOW_HALF, expected: Number(BigInt.asIntN(32, seen | WAITERS)) };
  }

  /** @internal Wakes one sleeper on the lock's futex: a woken waiter that did not take the lock passes the wake on. */
  wakeOne(): void {
    binding.lockWake(this.#buffer, this.#offset);
  }

  /** Whether this process holds the word. */
  protected heldByThisProcess(): boolean {
    // A plain read (inlined, unlike Atomics) is enough: only this process puts its token into the word or takes
    // it out (a takeover requires this process to be dead), so whatever value is read, it equals the token
    // exactly when this process holds the lock.
    const word = this.word[0];
    return word === TOKEN || word === TOKEN_WITH_WAITERS;
  }

  /** Runs `fn` holding the lock (acquire, then release when `fn`'s promise settles). */
  withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    return withLock(this, fn);
  }

  /** Runs `fn` holding the lock, blocking until it is available. */
  withLockSync<T>(fn: () => T): T {
    return withLockSync(this, fn);
  }


  /** @internal Whether the calling thread may wait on / notify a Condition over this lock. */
  abstract isMine(): boolean;
  /** @internal Releases completely (for Condition.wait); returns what `restore` needs. */
  abstract releaseSave(): number;
  /** @internal After re-acquiring in Condition.wait: puts back what `releaseSave` saved. */
  abstract restore(saved: number): void;

  /** @internal Throws ERR_MP_CLOSED once this handle (or, for an embedded lock, the object holding it) is closed. */
  protected override assertOpen(): void {
    // Tested here rather than by super.assertOpen(), which every class's objects reach: RLock's release
    // path keeps an inline cache of two classes.
    if (this.closed) throw this.closedError();
    // An embedded lock also dies with the object that holds it.
    this.#segment.assertOpen(this.#what);
  }

  /** @internal The WebAssembly mirror goes at once; the word stays mapped until native waits have returned. */
  protected override closing(): void {
    if (this.#mirror >= 0) unmirror(this, this.#buffer, this.#offset);
    this.#mirror = NO_MIRROR;
  }

  /** @internal A named lock by name, an anonymous one with its memory; an embedded one cannot travel alone. */
  protected override describe(): SharedDescription {
    if (!this.#ownsSegment) {
      const holder = kindName(this.#segment.kind);
      throw mpError(
        'ERR_MP_TRANSFER',
        `the lock from a ${holder}'s getLock() cannot be passed to a child process on its own: pass the ${holder} ` +
          `itself (its lock travels with it) and call getLock() on it in the child`,
      );
    }
    return super.describe();
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { locked: Atomics.load(this.word, 0) !== 0n };
  }
}

/**
 * A non-recursive lock shared between processes (Python's `multiprocessing.Lock`). Any thread of any process
 * may release it, as in Python; releasing it while unlocked throws `code: 'ERR_MP_RELEASE_UNLOCKED'`.
 */
export class Lock extends LockBase {
  /** `{ name }` opens or creates a named lock; without a name the lock is anonymous. */
  constructor(options?: NameOptions) {
    super(Kind.Lock, options);
  }

  /** Opens an existing named Lock (`code: 'ENOENT'` if there is none). */
  static open(name: string): Lock {
    return new Lock(openExisting(name));
  }

  static {
    registerOpenable('Lock', Lock);
  }

  protected tryReenter(): boolean {
    return false;
  }

  /** Releases the lock. */
  release(): void {
    if (this.tryFastRelease()) return;
    this.assertOpen();
    if (!this.clearWord()) throw mpError('ERR_MP_RELEASE_UNLOCKED', 'release of an unlocked Lock');
  }

  /** @internal */
  isMine(): boolean {
    this.assertOpen();
    return this.heldByThisProcess();
  }

  /** @internal */
  releaseSave(): number {
    this.release();
    return 1;
  }

  /** @internal */
  restore(): void {}
}

/**
 * A recursive lock (Python's `multiprocessing.RLock`): the owning thread of the owning process may acquire it
 * again; it is free once released as many times. Releasing it from any other thread or process throws
 * `code: 'ERR_MP_NOT_OWNER'`.
 */
export class RLock extends LockBase {
  /** `{ name }` opens or creates a named RLock; without a name the lock is anonymous. */
  constructor(options?: NameOptions) {
    super(Kind.RLock, options);
  }

  /** Opens an existing named RLock (`code: 'ENOENT'` if there is none). */
  static open(name: string): RLock {
    return new RLock(openExisting(name));
  }

  static {
    registerOpenable('RLock', RLock);
  }

  /** How many times the owning thread holds it (0 when this thread does not own it). */
  get count(): number {
    return this.isMine() ? this.meta[COUNT]! : 0;
  }

  protected tryReenter(): boolean {
    if (!this.isMine()) return false;
    this.meta[COUNT]!++;
    return true;
  }

  protected override acquired(ownerDied: boolean): true {
    this.meta[OWNER_THREAD] = THREAD;
    this.meta[COUNT] = 1;
    return super.acquired(ownerDied);
  }

  /** Releases one level; the last release frees the lock. */
  release(): void {
    if (!this.isMine()) throw mpError('ERR_MP_NOT_OWNER', 'cannot release an RLock this thread does not own');
    if (--this.meta[COUNT]! > 0) return;
    this.meta[OWNER_THREAD] = 0;
    this.releaseWord();
  }

  /** @internal */
  isMine(): boolean {
    this.assertOpen();
    return this.heldByThisProcess() && this.meta[OWNER_THREAD] === THREAD;
  }

  /** @internal */
  releaseSave(): number {
    if (!this.isMine()) throw mpError('ERR_MP_NOT_OWNER', 'cannot wait on a Condition whose RLock this thread does not own');
    const count = this.meta[COUNT]!;
    this.meta[COUNT] = 0;
    this.meta[OWNER_THREAD] = 0;
    this.releaseWord();
    return count;
  }

  /** @internal */
  restore(saved: number): void {
    this.meta[COUNT] = saved;
  }
}
