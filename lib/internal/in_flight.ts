/**
 * Counts the async operations of a handle that still use its memory after their promise's last await (a
 * Condition or Barrier wait leaves the sleeper count and re-acquires the lock after its native wait), so that
 * `close()` frees the memory only once they have finished with it.
 */
export class InFlight {
  #count = 0;
  #idle: (() => void)[] = [];

  /** Runs `op`, counted until its promise settles. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    this.#count++;
    try {
      return await op();
    } finally {
      if (--this.#count === 0) {
        const fns = this.#idle;
        this.#idle = [];
        for (const fn of fns) fn();
      }
    }
  }

  /** Runs `fn` once no operation is in flight (at once if none is). */
  whenIdle(fn: () => void): void {
    if (this.#count === 0) fn();
    else this.#idle.push(fn);
  }
}
