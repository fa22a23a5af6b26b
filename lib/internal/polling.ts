/**
 * Adaptive polling before a wait sleeps, as glibc's adaptive mutexes do, but measured in time and adapted to
 * what the handle has seen.
 *
 * A token another process posts within microseconds is cheaper to catch by polling shared memory than by a
 * futex sleep: waking a sleeper costs tens of µs on a virtual machine, and an async wait adds a second
 * hand-off (waiter thread, then the event loop). The budget must exceed the partner's wake-up latency, or two
 * processes that answer each other fall into a regime where each gives up polling just before the other's
 * answer, so that both sleep on every exchange. But a long budget wastes CPU where tokens come rarely.
 * Hence: a handle polls briefly until one of its waits ends soon after polling gave up (a near miss); then it
 * polls long enough to cover a wake-up, until a wait shows that tokens come much later than that.
 *
 * An async wait never holds the event loop longer than one short slice: between slices it yields (through
 * setImmediate), so other callbacks run — among them, perhaps, the code of this process that will post.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

/** The long budget: more than a futex wake-up plus a waiter-thread hand-off takes here (20–40 µs). */
const LONG_MS = 0.05;
/** The short budget, and an async wait's slice (the longest it holds the event loop): tokens nearly there. */
const SHORT_MS = 0.01;
/** A wait that ended within this long of the polling's start would have been caught by the long budget. */
const NEAR_MISS_MS = 0.2;
/** Polls between two clock reads (each poll is one Atomics.load, ~5–40 ns). */
const POLLS_PER_CLOCK_READ = 16;
/** With a single CPU, the token cannot be posted while this thread polls: never poll. */
const CAN_POLL = availableParallelism() > 1;

/** Resolves after one turn of the event loop (through setImmediate), so that timers and I/O callbacks run. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The polling state of one handle. */
export class AdaptivePolling {
  #budgetMs = SHORT_MS;
  /** When the current polling started (performance.now()). */
  #startedAt = 0;

  /**
   * Calls `tryTake` until it returns true or the budget runs out; returns whether it did. A false return
   * must be followed, once the wait that comes next has ended, by {@link waited}.
   */
  poll(tryTake: () => boolean): boolean {
    if (!CAN_POLL) return false;
    this.#startedAt = performance.now();
    return this.#pollUntil(tryTake, this.#startedAt + this.#budgetMs);
  }

  /**
   * The async form of {@link poll}: the first slice synchronously (so a token that is there or nearly there
   * costs no promise), the rest of the budget in slices between turns of the event loop.
   */
  pollYielding(tryTake: () => boolean): boolean | Promise<boolean> {
    if (!CAN_POLL) return false;
    const start = (this.#startedAt = performance.now());
    const end = start + this.#budgetMs;
    if (this.#pollUntil(tryTake, Math.min(end, start + SHORT_MS))) return true;
    return performance.now() < end ? this.#pollSlices(tryTake, end) : false;
  }

  async #pollSlices(tryTake: () => boolean, end: number): Promise<boolean> {
    for (;;) {
      await nextTurn();
      const now = performance.now();
      if (this.#pollUntil(tryTake, Math.min(end, now + SHORT_MS))) return true;
      if (performance.now() >= end) return false;
    }
  }

  #pollUntil(tryTake: () => boolean, end: number): boolean {
    do {
      for (let i = 0; i < POLLS_PER_CLOCK_READ; i++) if (tryTake()) return true;
    } while (performance.now() < end);
    return false;
  }

  /** Adapts the budget to the wait that followed a failed poll, which has just ended. */
  waited(): void {
    if (!CAN_POLL) return;
    this.#budgetMs = performance.now() - this.#startedAt <= NEAR_MISS_MS ? LONG_MS : SHORT_MS;
  }
}
