/**
 * Cross-process wait/notify on Int32Array elements of posix-mp shared memory. JavaScript's own
 * `Atomics.wait` only sees waiters of the same process; these use a shared futex, so a C program's
 * FUTEX_WAKE, or `notify` from another Node process, wakes them. The other `Atomics` operations already work
 * across processes on these views and need no counterpart here.
 */
import { invalidArgType, mpError, outOfRange } from '../internal/errors.js';
import { binding, WaitStatus } from '../internal/native.js';
import { validateInteger, validateTimeout } from '../internal/validate.js';
import { parseAsyncWait, PendingWaits, type AsyncWaitOptions } from '../internal/wait.js';

/** The outcome of a wait, as `Atomics.wait` reports it. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

const RESULTS: Record<number, WaitResult> = {
  [WaitStatus.Ok]: 'ok',
  [WaitStatus.TimedOut]: 'timed-out',
  [WaitStatus.NotEqual]: 'not-equal',
};

const pending = new PendingWaits();

function validateView(view: unknown, index: unknown): asserts view is Int32Array {
  if (!(view instanceof Int32Array)) throw invalidArgType('view', 'an instance of Int32Array', view);
  if (typeof index !== 'number') throw invalidArgType('index', 'of type number', index);
  // posix-mp never maps 0 bytes: an empty buffer is one that close() detached.
  if (view.buffer.byteLength === 0) {
    throw mpError(
      'ERR_MP_CLOSED',
      "the view's memory is closed: the SharedMemory or Array it views was closed, which empties every view over it",
    );
  }
  if (!Number.isInteger(index) || index < 0 || index >= view.length) {
    throw outOfRange('index', `an integer >= 0 and < ${view.length}`, index);
  }
}

function validateExpected(expected: unknown): number {
  if (typeof expected !== 'number') throw invalidArgType('expected', 'of type number', expected);
  return expected | 0;
}

/**
 * Sleeps while `view[index] === expected`, until another process (or thread) calls `notify` on the same
 * word, or `timeout` milliseconds pass. Blocks the calling thread.
 */
export function wait(view: Int32Array, index: number, expected: number, timeout?: number): WaitResult {
  validateView(view, index);
  const value = validateExpected(expected);
  return RESULTS[binding.futexWait(view, index, value, validateTimeout(timeout, 'timeout'))]!;
}

/** Async form of {@link wait}: the event loop stays free; `signal` aborts the wait. */
export async function waitAsync(
  view: Int32Array,
  index: number,
  expected: number,
  options?: AsyncWaitOptions,
): Promise<WaitResult> {
  validateView(view, index);
  const value = validateExpected(expected);
  const parsed = parseAsyncWait(options);
  if (parsed.signal?.aborted) throw parsed.signal.reason;
  // A non-blocking native check first: it settles 'not-equal' and timeout 0 without a waiter thread, and like
  // every other call it rejects memory that is not posix-mp shared memory (a plain Atomics.load would not).
  const now = binding.futexWait(view, index, value, 0);
  if (now !== WaitStatus.TimedOut || parsed.timeoutMs === 0) return RESULTS[now]!;
  const status = await pending.run((t, cb) => binding.futexWaitAsync(view, index, value, t, cb), parsed, 'futex');
  return RESULTS[status]!;
}

/** Wakes up to `count` (default: all) waiters on `view[index]`, in any process. Returns how many woke. */
export function notify(view: Int32Array, index: number, count: number = Infinity): number {
  validateView(view, index);
  if (count !== Infinity) validateInteger(count, 'count', 0, 0x7fffffff);
  return binding.futexWake(view, index, count === Infinity ? 0x7fffffff : count);
}
