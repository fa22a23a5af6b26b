/**
 * Turns native async waits into promises: timeouts, AbortSignal cancellation (which wakes and frees the
 * native waiter at once), and cancellation of every pending wait when a handle closes.
 * @internal
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

  /**
   * Runs a native wait. Resolves with its WaitStatus (Ok, TimedOut or NotEqual). `giveBack` is called if the
   * wait succeeds (status Ok) after the promise was already rejected by an abort or close, so that what the
   * native side acquired is returned rather than lost.
   */
  run(start: StartWait, wait: ParsedAsyncWait, syscall: string, giveBack?: () => void): Promise<WaitStatus> {
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
        if (settled) {
          if (status === WaitStatus.Ok) giveBack?.();
        } else if (status < 0) {
          settle(systemError(status, syscall));
        } else {
          settle(undefined, status);
        }
      });
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

  /** Rejects every pending wait with ERR_MP_CLOSED and wakes their native waiters. */
  cancelAll(what: string): void {
    for (const cancel of [...this.#cancels]) cancel(closedError(what));
  }
}
