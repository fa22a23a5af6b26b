/**
 * Deadlines of waits that sleep in several steps (spurious wake-ups, re-checks): each step waits for what is
 * left of the caller's timeout.
 */

/** The futex waits of the addon take -1 for "forever". */
const FOREVER = -1;

/** The absolute time (performance.now() clock) at which a wait of `timeoutMs` (-1 = forever) ends. */
export function deadlineOf(timeoutMs: number): number {
  return timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
}

/** Milliseconds left until `deadline`, in the addon's encoding: -1 for forever, else >= 0. */
export function remainingMs(deadline: number): number {
  return deadline === Infinity ? FOREVER : Math.max(0, deadline - performance.now());
}
