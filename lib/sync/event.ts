/**
 * Event (Python's `multiprocessing.Event`): a flag in shared memory (`pmp_event` in native/include/posix_mp.h)
 * that waiters in any process sleep on with a shared futex. `set()` is a store plus one wake; `isSet()` and
 * `clear()` are plain atomic loads and stores. Only waiting goes native.
 */
import { closedError } from '../internal/errors.js';
import { openExisting, parseNameOptions, type NameOptions } from '../shared/names.js';
import { binding, WaitStatus } from '../internal/native.js';
import { Kind, Segment } from '../shared/segment.js';
import { RECEIVED, receivedDescription, registerTransfer } from '../comm/reduction.js';
import { parseAsyncWait, parseSyncWait, PendingWaits, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';

/** sizeof(pmp_event). */
const EVENT_SIZE = 8;
/** The futex wait of the addon takes -1 for "forever". */
const FOREVER = -1;

/** @internal The absolute time (performance.now() clock) at which a wait of `timeoutMs` (-1 = forever) ends. */
export function deadlineOf(timeoutMs: number): number {
  return timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
}

/** @internal Milliseconds left until `deadline`, in the addon's encoding: -1 for forever, else >= 0. */
export function remainingMs(deadline: number): number {
  return deadline === Infinity ? FOREVER : Math.max(0, deadline - performance.now());
}

/**
 * A flag shared between processes. `wait` returns once the flag is set (`true`), or `false` on timeout.
 *
 * As in Python's `multiprocessing.Event`, a waiter reports the flag as it finds it when it wakes: a `set()`
 * immediately undone by `clear()` may go unnoticed by a waiter that had not woken in between.
 */
export class Event {
  /** The name other processes open (generated for an anonymous Event). */
  readonly name: string;
  readonly #segment: Segment;
  /** The flag: pmp_event.flag. */
  readonly #flag: Int32Array;
  readonly #pending = new PendingWaits();
  #closed = false;

  /** `{ name }` opens or creates a named Event (initially clear); without a name the Event is anonymous. */
  constructor(options?: NameOptions) {
    // Passed by a parent process (reduction.ts): the Event's memory came with the job.
    const received = receivedDescription(options);
    this.#segment = received?.memory
      ? Segment.received(Kind.Event, received.name, received.memory)
      : Segment.open({ kind: Kind.Event, payloadSize: EVENT_SIZE }, parseNameOptions(options));
    this.name = this.#segment.name;
    this.#flag = new Int32Array(this.#segment.buffer, this.#segment.payloadOffset, 1);
  }

  /** Opens an existing named Event (`code: 'ENOENT'` if there is none). */
  static open(name: string): Event {
    return new Event(openExisting(name));
  }

  /** Sets the flag and wakes every waiter, in every process. */
  set(): void {
    this.#assertOpen();
    // Waiters sleep only while the flag is 0: if it already was 1, there is nobody to wake.
    if (Atomics.exchange(this.#flag, 0, 1) === 0) binding.futexWake(this.#flag, 0, 0x7fffffff);
  }

  /** Clears the flag: later waits block until the next `set()`. */
  clear(): void {
    this.#assertOpen();
    Atomics.store(this.#flag, 0, 0);
  }

  /** Whether the flag is set (a snapshot). */
  isSet(): boolean {
    this.#assertOpen();
    return Atomics.load(this.#flag, 0) !== 0;
  }

  /** Waits until the flag is set, without blocking the event loop. Resolves `false` on timeout. */
  async wait(options?: AsyncWaitOptions): Promise<boolean> {
    this.#assertOpen();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const deadline = deadlineOf(wait.timeoutMs);
    for (;;) {
      if (Atomics.load(this.#flag, 0) !== 0) return true;
      const timeoutMs = remainingMs(deadline);
      if (timeoutMs === 0) return false;
      const status = await this.#pending.run(
        (t, cb) => binding.futexWaitAsync(this.#flag, 0, 0, t, cb),
        { timeoutMs, signal: wait.signal },
        'futex',
      );
      // close() may have run while the result travelled: the memory is no longer ours to read.
      this.#assertOpen();
      if (status === WaitStatus.TimedOut) return Atomics.load(this.#flag, 0) !== 0;
    }
  }

  /** Waits until the flag is set, blocking the calling thread. Returns `false` on timeout. */
  waitSync(options?: SyncWaitOptions): boolean {
    this.#assertOpen();
    const deadline = deadlineOf(parseSyncWait(options));
    for (;;) {
      if (Atomics.load(this.#flag, 0) !== 0) return true;
      const timeoutMs = remainingMs(deadline);
      if (timeoutMs === 0) return false;
      // Woken spuriously or by a set() already undone: sleep again for what is left of the timeout.
      if (binding.futexWait(this.#flag, 0, 0, timeoutMs) === WaitStatus.TimedOut) return Atomics.load(this.#flag, 0) !== 0;
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('Event');
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Releases this process's handle. Pending waits reject with `ERR_MP_CLOSED`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.cancelAll('Event');
    // Waiter threads hold the mapping themselves; the arena block is reused only once they have all returned.
    this.#pending.afterNativeWaits(() => this.#segment.close());
  }

  /** Removes a named Event from the system; processes that have it open keep using it. */
  unlink(): void {
    this.#segment.unlink();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // Passing to child processes (reduction.ts): a named Event by name, an anonymous one with its memory.
  static {
    registerTransfer<Event>({
      kind: 'Event',
      type: Event,
      describe: (e) => {
        e.#assertOpen();
        return { name: e.name, memory: e.#segment.block };
      },
      revive: (d) => (d.memory ? new Event({ [RECEIVED]: d } as NameOptions) : Event.open(d.name)),
    });
  }
}
