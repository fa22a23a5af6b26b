/**
 * Event (Python's `multiprocessing.Event`): a flag in shared memory (`pmp_event` in native/include/posix_mp.h)
 * that waiters in any process sleep on with a shared futex. `set()` is a store plus one wake; `isSet()` and
 * `clear()` are plain atomic loads and stores. Only waiting goes native.
 */
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { LAYOUT } from '../internal/layout.js';
import { binding, WaitStatus } from '../internal/native.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import { openSegment, registerOpenable, SharedHandle } from '../shared/handle.js';
import { openExisting, type NameOptions } from '../shared/names.js';
import { Kind } from '../shared/segment.js';

const EVENT = LAYOUT.pmp_event;

/**
 * A flag shared between processes. `wait` returns once the flag is set (`true`), or `false` on timeout.
 *
 * As in Python's `multiprocessing.Event`, a waiter reports the flag as it finds it when it wakes: a `set()`
 * immediately undone by `clear()` may go unnoticed by a waiter that had not woken in between.
 */
export class Event extends SharedHandle {
  /** The flag: pmp_event.flag. */
  readonly #flag: Int32Array;

  /** `{ name }` opens or creates a named Event (initially clear); without a name the Event is anonymous. */
  constructor(options?: NameOptions) {
    const segment = openSegment({ kind: Kind.Event, payloadSize: EVENT.sizeof }, options);
    super('Event', segment.name, segment);
    this.#flag = new Int32Array(segment.buffer, segment.payloadOffset + EVENT.flag, 1);
  }

  /** Opens an existing named Event (`code: 'ENOENT'` if there is none). */
  static open(name: string): Event {
    return new Event(openExisting(name));
  }

  /** Sets the flag and wakes every waiter, in every process. */
  set(): void {
    if (this.closed) throw this.closedError();
    // Waiters sleep only while the flag is 0: if it already was 1, there is nobody to wake.
    if (Atomics.exchange(this.#flag, 0, 1) === 0) binding.futexWake(this.#flag, 0, 0x7fffffff);
  }

  /** Clears the flag: later waits block until the next `set()`. */
  clear(): void {
    if (this.closed) throw this.closedError();
    Atomics.store(this.#flag, 0, 0);
  }

  /** Whether the flag is set (a snapshot). */
  isSet(): boolean {
    if (this.closed) throw this.closedError();
    return Atomics.load(this.#flag, 0) !== 0;
  }

  /** Waits until the flag is set, without blocking the event loop. Resolves `false` on timeout. */
  async wait(options?: AsyncWaitOptions): Promise<boolean> {
    this.assertOpen();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const deadline = deadlineOf(wait.timeoutMs);
    for (;;) {
      if (Atomics.load(this.#flag, 0) !== 0) return true;
      const timeoutMs = remainingMs(deadline);
      if (timeoutMs === 0) return false;
      const status = await this.pending.run(
        (t, cb) => binding.futexWaitAsync(this.#flag, 0, 0, t, cb),
        { timeoutMs, signal: wait.signal },
        'futex',
      );
      // close() may have run while the result travelled: the memory is no longer ours to read.
      this.assertOpen();
      if (status === WaitStatus.TimedOut) return Atomics.load(this.#flag, 0) !== 0;
    }
  }

  /** Waits until the flag is set, blocking the calling thread. Returns `false` on timeout. */
  waitSync(options?: SyncWaitOptions): boolean {
    this.assertOpen();
    const deadline = deadlineOf(parseSyncWait(options));
    for (;;) {
      if (Atomics.load(this.#flag, 0) !== 0) return true;
      const timeoutMs = remainingMs(deadline);
      if (timeoutMs === 0) return false;
      // Woken spuriously or by a set() already undone: sleep again for what is left of the timeout.
      if (binding.futexWait(this.#flag, 0, 0, timeoutMs) === WaitStatus.TimedOut) return Atomics.load(this.#flag, 0) !== 0;
    }
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { isSet: Atomics.load(this.#flag, 0) !== 0 };
  }

  // Passing to child processes (reduction.ts): a named Event by name, an anonymous one with its memory.
  static {
    registerOpenable('Event', Event);
  }
}
