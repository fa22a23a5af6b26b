/**
 * Turns native async waits into promises: timeouts, AbortSignal cancellation (which wakes and frees the
 * native waiter at once), and cancellation of every pending wait when a handle closes.
 */
import { closedError, invalidArgType, systemError } from './errors.js';
import { binding, WaitStatus } from './native.js';
import { validateOptions, validateTimeout } from './validate.js';

/** Options of every async blocking operation. */
export interface AsyncWaitOptions {
  /** Milliseconds to wait; `0` does not block; omitted waits forever. */
  timeout?: number;
  /** Aborting rejects the promise with the signal's reason and leaves no waiter behind. */
  signal?: AbortSignal;
}

/** Options of every synchronous blocking operation. */
export interface SyncWaitOptions {
  /** Milliseconds to wait; `0` does not block; omitted waits forever. */
  timeout?: number;
}

/** Validated async wait options. */
export interface ParsedAsyncWait {
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

/** Validates {@link AsyncWaitOptions}. */
export function parseAsyncWait(options: unknown): ParsedAsyncWait {
  const o = validateOptions<AsyncWaitOptions>(options);
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  return { timeoutMs: validateTimeout(o.timeout), signal };
}

/** Validates {@link SyncWaitOptions} and returns the timeout in the addon's encoding (-1 = forever). */
export function parseSyncWait(options: unknown): number {
  return validateTimeout(validateOptions<SyncWaitOptions>(options).timeout);
}

/** Starts one native wait: `(timeoutMs, callback) => waitId`. */
export type StartWait = (timeoutMs: number, callback: (status: number) => void) => number;

/** The waits pending on one handle, so that `close()` can cancel them. */
export class PendingWaits {
  readonly #cancels = new Set<(error: Error) => void>();
  /** Native waits whose callback has not come back yet (settled promises included: see afterNativeWaits). */
  #outstanding = 0;
  #whenDrained: (() => void)[] = [];
  #cancelled = false;

  /**
   * Runs a native wait. Resolves with its WaitStatus (Ok, OwnerDied, TimedOut or NotEqual). An abort or
   * `cancelAll` rejects at once and cancels the native wait; if the waiter thread had already taken a token
   * or lock, the cancel gives it back natively (waiter.cc), so nothing is lost or held.
   */
  run(start: StartWait, wait: ParsedAsyncWait, syscall: string): Promise<WaitStatus> {
    const { signal } = wait;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<WaitStatus>((resolve, reject) => {
      let settled = false;
      const settle = (error: Error | undefined, status?: WaitStatus): void => {
        settled = true;
        this.#cancels.delete(cancel);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(status as WaitStatus);
      };
      const id = start(wait.timeoutMs, (status) => {
        try {
          if (settled) return;
          if (status < 0) settle(systemError(status, syscall));
          else settle(undefined, status);
        } finally {
          if (--this.#outstanding === 0) this.#drain();
        }
      });
      // The callback always comes later (from the waiter's threadsafe function), never during start().
      this.#outstanding++;
      const cancel = (error: Error): void => {
        if (settled) return;
        settle(error);
        binding.cancelWait(id);
      };
      const onAbort = (): void => cancel(signal!.reason);
      this.#cancels.add(cancel);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Whether a native wait started here has not reported back yet. */
  get waiting(): boolean {
    return this.#outstanding > 0;
  }

  /**
   * Runs `fn` once every native wait started here has reported back — at once if none is out. A waiter thread
   * keeps using the native handle (and the memory of an anonymous object) until its callback has run, and a
   * cancelled wait that acquired anyway needs the handle to give its token back; so `close()` frees those
   * through this, after `cancelAll`.
   */
  afterNativeWaits(fn: () => void): void {
    if (this.#outstanding === 0) fn();
    else this.#whenDrained.push(fn);
  }

  #drain(): void {
    const fns = this.#whenDrained;
    this.#whenDrained = [];
    for (const fn of fns) fn();
  }

  /** Rejects every pending wait with ERR_MP_CLOSED and wakes their native waiters. */
  cancelAll(what: string): void {
    this.#cancelled = true;
    for (const cancel of [...this.#cancels]) cancel(closedError(what));
  }

  /** Whether `cancelAll` has run: the handle is closed, and a multi-step wait must not sleep again. */
  get cancelled(): boolean {
    return this.#cancelled;
  }
}
