/**
 * Condition (Python's `multiprocessing.Condition`) on two words in shared memory (`pmp_condition` in
 * native/include/posix_mp.h): a 64-bit state — the sleepers, the notifications not yet taken, and a broadcast
 * generation — and a 32-bit epoch that every notify advances and sleepers futex-wait on.
 *
 * `notify(n)` moves min(n, sleepers) to notifications in one compare-and-swap, advances the epoch and wakes
 * that many, so exactly that many waits return `true`, whichever processes they are in. A sleeper may take
 * a notification only once the epoch has moved since it began waiting, so a wait that begins after a
 * notify() cannot take that notify's notification from a sleeper it was meant for (unless a second notify
 * comes first). `notifyAll` starts a new generation instead: every wait begun before it returns `true`
 * without taking anything, so nothing can hold it up. A sleeper that times out leaves in one
 * compare-and-swap too, taking a notification meant for it if there is one, so none is lost.
 */
import { closedError, invalidArgType, mpError } from '../internal/errors.js';
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { LAYOUT } from '../internal/layout.js';
import { binding, OpenMode } from '../internal/native.js';
import { validateInteger } from '../internal/validate.js';
import {
  parseAsyncWait,
  parseSyncWait,
  type AsyncWaitOptions,
  type ParsedAsyncWait,
  type PendingWaits,
  type SyncWaitOptions,
} from '../internal/wait.js';
import { RECEIVED, type SharedDescription } from '../comm/reduction.js';
import { openSegment, registerHandle, SharedHandle } from '../shared/handle.js';
import { openExisting, type NameOptions } from '../shared/names.js';
import { Kind, Segment } from '../shared/segment.js';
import { Lock, RLock } from './lock.js';

const CONDITION = LAYOUT.pmp_condition;
/** pmp_condition.lock_kind .. lock_name_length, as a Uint32Array. */
const REF_OFFSET = CONDITION.lock_kind;
const REF_WORDS = (CONDITION.lock_name - CONDITION.lock_kind) / 4;
const NAME_OFFSET = CONDITION.lock_name;
const NAME_BYTES = CONDITION.lock_name_bytes;

// The state word: notifications in bits 0-19, sleepers in bits 20-39, the broadcast generation in 40-63.
const COUNT_MASK = 0xfffffn;
const ONE_SLEEPER = 1n << 20n;
const GENERATION_SHIFT = 40n;
const GENERATION_MASK = 0xffffffn;
/** At most this many waits may be pending on one Condition at a time. */
const MAX_WAITS = 0xfffff;

function sleepersOf(state: bigint): number {
  return Number((state >> 20n) & COUNT_MASK);
}

function notificationsOf(state: bigint): number {
  return Number(state & COUNT_MASK);
}

/** What a wait remembers of the moment it began (holding the lock). */
interface Ticket {
  generation: bigint;
  epoch: number;
}

function notOwner(action: string): Error {
  return mpError('ERR_MP_NOT_OWNER', `cannot ${action} an un-acquired Condition (acquire its lock first)`);
}

/**
 * The wait/notify protocol over a state word and an epoch, with the lock given to each call: Condition uses
 * it over its payload, Barrier over its own. Every wait returns holding the lock again, also when it throws.
 * Its native waits are the handle's (`pending`): closing the handle cancels them.
 * @internal
 */
export class ConditionCore {
  readonly #state: BigUint64Array;
  /** The epoch: advanced by every notify; the futex word sleepers wait on. */
  readonly #epoch: Int32Array;
  readonly #pending: PendingWaits;
  readonly #what: string;

  /** `byteOffset`: the state word's; the epoch follows it (as in pmp_condition and pmp_barrier). */
  constructor(buffer: ArrayBuffer, byteOffset: number, what: string, pending: PendingWaits) {
    this.#state = new BigUint64Array(buffer, byteOffset, 1);
    this.#epoch = new Int32Array(buffer, byteOffset + (CONDITION.epoch - CONDITION.state), 1);
    this.#what = what;
    this.#pending = pending;
  }

  /** Wakes up to `n` sleepers. Returns how many were notified. The caller holds the lock. */
  notify(n: number): number {
    let state = Atomics.load(this.#state, 0);
    for (;;) {
      const k = Math.min(n, sleepersOf(state));
      // Nothing to notify: the epoch stays, so no later wait becomes able to take older notifications.
      if (k === 0) return 0;
      const seen = Atomics.compareExchange(this.#state, 0, state, state - BigInt(k) * ONE_SLEEPER + BigInt(k));
      if (seen === state) {
        Atomics.add(this.#epoch, 0, 1);
        binding.futexWake(this.#epoch, 0, k);
        return k;
      }
      state = seen;
    }
  }

  /** Wakes every wait begun before this call. The caller holds the lock. */
  notifyAll(): void {
    let state = Atomics.load(this.#state, 0);
    for (;;) {
      if ((state & ((COUNT_MASK << 20n) | COUNT_MASK)) === 0n) return;
      const generation = ((state >> GENERATION_SHIFT) + 1n) & GENERATION_MASK;
      const seen = Atomics.compareExchange(this.#state, 0, state, generation << GENERATION_SHIFT);
      if (seen === state) break;
      state = seen;
    }
    Atomics.add(this.#epoch, 0, 1);
    binding.futexWake(this.#epoch, 0, 0x7fffffff);
  }

  /** Python's `Condition.wait`, blocking the thread. */
  waitSync(lock: Lock | RLock, timeoutMs: number): boolean {
    if (!lock.isMine()) throw notOwner('wait on');
    const deadline = deadlineOf(timeoutMs);
    const ticket = this.#register();
    const saved = lock.releaseSave();
    let notified = false;
    for (;;) {
      // Read the epoch before checking: a notify after the check changes it, so the futex wait returns.
      const epoch = Atomics.load(this.#epoch, 0);
      if ((notified = this.#tryTake(ticket))) break;
      const left = remainingMs(deadline);
      if (left === 0) break;
      binding.futexWait(this.#epoch, 0, epoch, left);
    }
    if (!notified) notified = this.#leave(ticket);
    lock.acquireSync();
    lock.restore(saved);
    return notified;
  }

  /**
   * Python's `Condition.wait`, without blocking the event loop. On abort (or close) it still re-acquires the
   * lock before rejecting — unless the lock itself was closed with the object that holds it.
   */
  async wait(lock: Lock | RLock, wait: ParsedAsyncWait): Promise<boolean> {
    if (!lock.isMine()) throw notOwner('wait on');
    const deadline = deadlineOf(wait.timeoutMs);
    const ticket = this.#register();
    const saved = lock.releaseSave();
    let notified = false;
    let failed = false;
    let failure: unknown;
    try {
      notified = await this.#sleep(ticket, deadline, wait.signal);
    } catch (error) {
      failed = true;
      failure = error;
    }
    if (failed) this.#leaveQuietly(ticket);
    else if (!notified) notified = this.#leave(ticket);
    try {
      await lock.acquire();
    } catch (error) {
      throw failed ? failure : error;
    }
    lock.restore(saved);
    if (failed) throw failure;
    return notified;
  }

  /** Python's `Condition.wait_for`, blocking the thread. */
  waitForSync(lock: Lock | RLock, predicate: () => boolean, timeoutMs: number): boolean {
    const deadline = deadlineOf(timeoutMs);
    let result = predicate();
    for (let first = true; !result; first = false) {
      const left = remainingMs(deadline);
      if (!first && left === 0) break;
      this.waitSync(lock, left);
      result = predicate();
    }
    return Boolean(result);
  }

  /** Python's `Condition.wait_for`, without blocking the event loop. */
  async waitFor(lock: Lock | RLock, predicate: () => boolean, wait: ParsedAsyncWait): Promise<boolean> {
    const deadline = deadlineOf(wait.timeoutMs);
    let result = predicate();
    for (let first = true; !result; first = false) {
      const timeoutMs = remainingMs(deadline);
      if (!first && timeoutMs === 0) break;
      await this.wait(lock, { timeoutMs, signal: wait.signal });
      result = predicate();
    }
    return Boolean(result);
  }

  /** Counts a new sleeper (holding the lock) and returns its ticket. */
  #register(): Ticket {
    let state = Atomics.load(this.#state, 0);
    for (;;) {
      if (sleepersOf(state) + notificationsOf(state) >= MAX_WAITS) {
        throw mpError('ERR_MP_TOO_MANY_WAITERS', `a ${this.#what} allows at most ${MAX_WAITS} pending waits`);
      }
      const seen = Atomics.compareExchange(this.#state, 0, state, state + ONE_SLEEPER);
      if (seen === state) return { generation: state >> GENERATION_SHIFT, epoch: Atomics.load(this.#epoch, 0) };
      state = seen;
    }
  }

  /** Sleeps until notified (`true`) or the deadline passes (`false`). */
  async #sleep(ticket: Ticket, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    for (;;) {
      if (this.#pending.cancelled) throw closedError(this.#what);
      const epoch = Atomics.load(this.#epoch, 0);
      if (this.#tryTake(ticket)) return true;
      const timeoutMs = remainingMs(deadline);
      if (timeoutMs === 0) return false;
      await this.#pending.run(
        (t, cb) => binding.futexWaitAsync(this.#epoch, 0, epoch, t, cb),
        { timeoutMs, signal },
        'futex',
      );
    }
  }

  /**
   * Whether the sleeper is notified: a notifyAll began a new generation since its ticket, or a notify advanced
   * the epoch and it takes one of the notifications.
   */
  #tryTake(ticket: Ticket): boolean {
    let state = Atomics.load(this.#state, 0);
    for (;;) {
      if (state >> GENERATION_SHIFT !== ticket.generation) return true;
      if (Atomics.load(this.#epoch, 0) === ticket.epoch || (state & COUNT_MASK) === 0n) return false;
      const seen = Atomics.compareExchange(this.#state, 0, state, state - 1n);
      if (seen === state) return true;
      state = seen;
    }
  }

  /**
   * A timed-out sleeper leaves: notified after all if a notifyAll or a notification it may take is there
   * (whichever sleeper a taken one was meant for is then counted as sleeping in its place), else it stops
   * counting as a sleeper. Returns whether it was notified.
   */
  #leave(ticket: Ticket): boolean {
    let state = Atomics.load(this.#state, 0);
    for (;;) {
      if (state >> GENERATION_SHIFT !== ticket.generation) return true;
      const take = Atomics.load(this.#epoch, 0) !== ticket.epoch && (state & COUNT_MASK) > 0n;
      // Without a notify since it began, its slot is among the sleepers: 0 only if the state was damaged.
      if (!take && sleepersOf(state) === 0) return false;
      const seen = Atomics.compareExchange(this.#state, 0, state, take ? state - 1n : state - ONE_SLEEPER);
      if (seen === state) return take;
      state = seen;
    }
  }

  /**
   * An aborted (or closed) sleeper leaves without taking a notification meant for someone else: it stops
   * counting as a sleeper and, if notifications are waiting, wakes the sleepers so that the one it might have
   * been woken for takes it.
   */
  #leaveQuietly(ticket: Ticket): void {
    let state = Atomics.load(this.#state, 0);
    for (;;) {
      if (state >> GENERATION_SHIFT !== ticket.generation) return;
      let next: bigint;
      if (sleepersOf(state) > 0) next = state - ONE_SLEEPER;
      else if ((state & COUNT_MASK) > 0n) next = state - 1n;
      else return;
      const seen = Atomics.compareExchange(this.#state, 0, state, next);
      if (seen === state) {
        if (notificationsOf(next) > 0 && Atomics.load(this.#epoch, 0) !== ticket.epoch) {
          binding.futexWake(this.#epoch, 0, 0x7fffffff);
        }
        return;
      }
      state = seen;
    }
  }
}

/** What pmp_condition records about the lock its creator gave it. */
interface LockRef {
  /** 0: the Condition's own lock; Kind.Lock or Kind.RLock: the class of the given lock. */
  kind: number;
  /** The kind of the object holding the given lock (a Lock, RLock, Value, ...). */
  holder: number;
  /** The pmp_lock's offset in its holder's payload. */
  offset: number;
  anonymous: boolean;
  name: string;
}

const OWN_LOCK: LockRef = { kind: 0, holder: 0, offset: 0, anonymous: false, name: '' };

function refOf(lock: Lock | RLock): LockRef {
  const { segment, payloadOffset } = lock.location;
  return {
    kind: lock instanceof RLock ? Kind.RLock : Kind.Lock,
    holder: segment.kind,
    offset: payloadOffset,
    anonymous: segment.anonymous,
    name: segment.name,
  };
}

function writeRef(segment: Segment, ref: LockRef): void {
  const words = new Uint32Array(segment.buffer, segment.payloadOffset + REF_OFFSET, REF_WORDS);
  const name = Buffer.from(ref.name, 'utf8');
  words.set([ref.kind, ref.holder, ref.offset, ref.anonymous ? 1 : 0, name.length]);
  name.copy(new Uint8Array(segment.buffer, segment.payloadOffset + NAME_OFFSET, NAME_BYTES));
}

function readRef(segment: Segment): LockRef {
  const [kind, holder, offset, anonymous, length] = new Uint32Array(segment.buffer, segment.payloadOffset + REF_OFFSET, REF_WORDS);
  const bytes = new Uint8Array(segment.buffer, segment.payloadOffset + NAME_OFFSET, Math.min(length!, NAME_BYTES));
  return { kind: kind!, holder: holder!, offset: offset!, anonymous: anonymous === 1, name: Buffer.from(bytes).toString('utf8') };
}

function sameRef(a: LockRef, b: LockRef): boolean {
  return a.kind === b.kind && a.holder === b.holder && a.offset === b.offset && a.anonymous === b.anonymous && a.name === b.name;
}

function describeRef(ref: LockRef): string {
  return ref.kind === 0 ? 'its own lock' : `the ${ref.kind === Kind.RLock ? 'RLock' : 'Lock'} of '${ref.name}'`;
}

/**
 * A condition variable shared between processes (Python's `multiprocessing.Condition`). Without a lock it
 * uses its own, an {@link RLock} stored with it (as in Python); with one, it uses that Lock or RLock.
 *
 * A named Condition records which lock it uses, so `Condition.open(name)` (or `new Condition(undefined,
 * { name })`) in another process gets the same lock: its own, or the named Lock/RLock (or the lock of a named
 * Value/Array) its creator gave it. An anonymous lock has no name to open it by: then pass the lock itself,
 * `new Condition(lock, { name })`; opening without it throws `code: 'ERR_MP_ANONYMOUS_LOCK'`. Giving a
 * different lock than the creator's throws `code: 'ERR_MP_MISMATCH'`.
 *
 * Passed to a child process (as a Process argument), a Condition arrives with the same lock: its own, or the
 * Lock/RLock it was given, which travels along (as the same handle as that lock, if the lock is passed too).
 * The one lock that cannot go along is that of an anonymous Value or Array (it is part of that object):
 * passing such a Condition throws `code: 'ERR_MP_TRANSFER'`.
 *
 * `close()` also closes the lock handle the Condition opened itself (its own, or its creator's by name); a lock
 * you passed in stays open, and pending waits reject with `ERR_MP_CLOSED` after re-acquiring it. `unlink()`
 * removes the Condition's name, not its lock's.
 *
 * `wait`, `waitFor` and `notify` without holding the lock throw `code: 'ERR_MP_NOT_OWNER'`. Every wait,
 * also one that times out, is aborted or rejects, returns holding the lock again. Ownership is per process
 * (Lock) or per process and thread (RLock), not per async task: async tasks of one thread that share a
 * Condition should give it a {@link Lock}, which makes them take turns — with an RLock, a second task's
 * acquire would re-enter the first task's hold.
 *
 * Notifications are counted exactly: `notify(2)` makes exactly two waits return `true`, waits that were in
 * progress when it was called. They are not first-come first-served (Python's are): which sleepers get them
 * is up to the scheduler, and if a second notify follows before they have run, a wait begun in between may
 * take one in place of an older sleeper, which keeps sleeping. `notifyAll()` always wakes every wait begun
 * before it. A process that dies while waiting leaves a count that may absorb one `notify()` (never a
 * `notifyAll()`, which also clears it). At most 1,048,575 waits may be pending on one Condition.
 */
export class Condition extends SharedHandle {
  readonly #lock: Lock | RLock;
  /** Whether this handle opened the lock itself (its own, or the creator's by name) and closes it. */
  readonly #ownsLock: boolean;
  /** The object holding a lock opened by name, which this handle closes too. */
  readonly #lockHolder: Segment | undefined;
  readonly #core: ConditionCore;

  /**
   * @param lock the Lock or RLock to use; omitted: the Condition's own RLock (or, when opening a named
   *   Condition, the lock its creator chose).
   * @param options `{ name }` opens or creates a named Condition; without a name it is anonymous.
   */
  constructor(lock?: Lock | RLock, options?: NameOptions) {
    if (lock !== undefined && !(lock instanceof Lock || lock instanceof RLock)) {
      throw invalidArgType('lock', 'an instance of Lock or RLock', lock);
    }
    if (lock) {
      const what = lock instanceof RLock ? 'RLock' : 'Lock';
      if (lock.closed) throw closedError(what);
      // A lock embedded in another object (a Value's) dies with that object's handle.
      lock.location.segment.assertOpen(what);
    }
    const given = lock ? refOf(lock) : OWN_LOCK;
    // A Condition passed by a parent process (reduction.ts) comes with its record written.
    const segment = openSegment({ kind: Kind.Condition, payloadSize: CONDITION.sizeof, init: (s) => writeRef(s, given) }, options);
    let holder: Segment | undefined;
    try {
      const stored = segment.created ? given : readRef(segment);
      if (lock) {
        if (!sameRef(stored, given)) {
          throw mpError('ERR_MP_MISMATCH', `Condition '${segment.name}' uses ${describeRef(stored)}, not ${describeRef(given)}`);
        }
      } else if (stored.kind === 0) {
        lock = new RLock(RLock.embeddedOptions(segment, segment.payloadOffset));
      } else {
        holder = openLockHolder(segment.name, stored);
        try {
          const at = RLock.embeddedOptions(holder, holder.payloadOffset + stored.offset);
          lock = stored.kind === Kind.RLock ? new RLock(at) : new Lock(at);
        } catch (error) {
          holder.close();
          throw error;
        }
      }
    } catch (error) {
      segment.close();
      throw error;
    }
    super('Condition', segment.name, segment);
    this.#lock = lock;
    this.#ownsLock = given === OWN_LOCK;
    this.#lockHolder = holder;
    this.#core = new ConditionCore(segment.buffer, segment.payloadOffset + CONDITION.state, 'Condition', this.pending);
  }

  /** Opens an existing named Condition, with the lock its creator chose (`code: 'ENOENT'` if there is none). */
  static open(name: string): Condition {
    return new Condition(undefined, openExisting(name));
  }

  /** Acquires the underlying lock (see {@link Lock.acquire}). */
  async acquire(options?: AsyncWaitOptions): Promise<boolean> {
    this.assertOpen();
    return this.#lock.acquire(options);
  }

  /** Acquires the underlying lock, blocking the thread (see {@link Lock.acquireSync}). */
  acquireSync(options?: SyncWaitOptions): boolean {
    this.assertOpen();
    return this.#lock.acquireSync(options);
  }

  /** Releases the underlying lock. */
  release(): void {
    this.assertOpen();
    this.#lock.release();
  }

  /** Runs `fn` holding the underlying lock. */
  async withLock<T>(fn: () => T | Promise<T>): Promise<T> {
    this.assertOpen();
    return this.#lock.withLock(fn);
  }

  /** Runs `fn` holding the underlying lock, blocking until it is available. */
  withLockSync<T>(fn: () => T): T {
    this.assertOpen();
    return this.#lock.withLockSync(fn);
  }

  /**
   * Releases the lock, sleeps until notified or timed out, re-acquires the lock. Resolves `true` if notified,
   * `false` on timeout. Aborting rejects with the signal's reason once the lock is held again.
   */
  async wait(options?: AsyncWaitOptions): Promise<boolean> {
    this.assertOpen();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    return this.track(() => this.#core.wait(this.#lock, wait));
  }

  /** Blocking form of {@link wait}. */
  waitSync(options?: SyncWaitOptions): boolean {
    this.assertOpen();
    return this.#core.waitSync(this.#lock, parseSyncWait(options));
  }

  /**
   * Waits until `predicate()` is true (Python's `wait_for`): checks it, then waits and re-checks until it
   * holds or the timeout (for the whole call) passes. Returns the predicate's last result.
   */
  async waitFor(predicate: () => boolean, options?: AsyncWaitOptions): Promise<boolean> {
    this.assertOpen();
    if (typeof predicate !== 'function') throw invalidArgType('predicate', 'of type function', predicate);
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    if (!this.#lock.isMine()) throw notOwner('wait on');
    return this.track(() => this.#core.waitFor(this.#lock, predicate, wait));
  }

  /** Blocking form of {@link waitFor}. */
  waitForSync(predicate: () => boolean, options?: SyncWaitOptions): boolean {
    this.assertOpen();
    if (typeof predicate !== 'function') throw invalidArgType('predicate', 'of type function', predicate);
    const timeoutMs = parseSyncWait(options);
    if (!this.#lock.isMine()) throw notOwner('wait on');
    return this.#core.waitForSync(this.#lock, predicate, timeoutMs);
  }

  /** Wakes up to `n` (default 1) waiters, in any process. The caller must hold the lock. */
  notify(n: number = 1): void {
    this.assertOpen();
    validateInteger(n, 'n', 0, Number.MAX_SAFE_INTEGER);
    if (!this.#lock.isMine()) throw notOwner('notify on');
    this.#core.notify(n);
  }

  /** Wakes every waiter. The caller must hold the lock. */
  notifyAll(): void {
    this.assertOpen();
    if (!this.#lock.isMine()) throw notOwner('notify on');
    this.#core.notifyAll();
  }

  /** @internal Closes the lock handle this handle opened itself (a lock passed in stays open). */
  protected override closing(): void {
    if (this.#ownsLock) this.#lock.close();
  }

  /**
   * @internal The rejected waits have left the sleeper count (and re-acquired a given lock) in this memory;
   * cancelled acquires of the lock report back through it too.
   */
  protected override free(): void {
    this.#lock.afterNativeWaits(() => {
      this.#lockHolder?.close();
      super.free();
    });
  }

  /**
   * The lock a child must be given along with this Condition: one given to this handle, unless the child can
   * open it by the name the Condition records (that of a named Value or Array). A lock this handle opened
   * itself (its own, or the creator's by name) the child finds the same way.
   */
  #lockToPass(): Lock | RLock | undefined {
    if (this.#ownsLock) return undefined;
    const ref = refOf(this.#lock);
    if (ref.holder === Kind.Lock || ref.holder === Kind.RLock) return this.#lock;
    if (!ref.anonymous) return undefined;
    throw mpError(
      'ERR_MP_TRANSFER',
      `Condition '${this.name}' uses the lock of an anonymous Value or Array, which cannot be passed without that object; ` +
        `give the Condition a Lock or RLock, or use a named Value or Array`,
    );
  }

  // Passing to child processes (reduction.ts): a named Condition by name, an anonymous one with its memory;
  // a lock given to it goes along as a shared object of its own (see #lockToPass).
  /** @internal */
  protected override describe(): SharedDescription {
    return { ...super.describe(), params: { lock: this.#lockToPass() } };
  }

  static {
    registerHandle('Condition', Condition, (d) => {
      const { lock } = d.params as { lock: Lock | RLock | undefined };
      return new Condition(lock, d.memory ? ({ [RECEIVED]: d } as NameOptions) : openExisting(d.name));
    });
  }
}

/** Opens, by name, the object holding the lock a named Condition's creator gave it. */
function openLockHolder(conditionName: string, ref: LockRef): Segment {
  if (ref.anonymous) {
    throw mpError(
      'ERR_MP_ANONYMOUS_LOCK',
      `Condition '${conditionName}' uses an anonymous lock, which cannot be opened by name: pass the lock, new Condition(lock, { name })`,
    );
  }
  return Segment.open({ kind: ref.holder as Kind, payloadSize: 0 }, { name: ref.name, openMode: OpenMode.Open, mode: 0o600 });
}
