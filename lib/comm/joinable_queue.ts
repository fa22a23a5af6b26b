/**
 * JoinableQueue (Python's `multiprocessing.JoinableQueue`): a Queue that counts unfinished tasks. The count
 * is derived from shared counters — items ever put minus `taskDone()` calls — so no process killed between
 * two steps can leave it wrong.
 */
import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { mpError } from '../internal/errors.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import { registerHandle } from '../shared/handle.js';
import { openExisting } from '../shared/names.js';
import { Queue, type QueueOptions } from './queue.js';
import { WaitOn } from './queue_ring.js';
import { RECEIVED } from './reduction.js';

/**
 * A Queue whose consumers call `taskDone()` once per item they finished with; `join()` waits until every
 * item ever put has been marked done.
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** As `new Queue(maxsize, options)`. */
  constructor(maxsize = 0, options?: QueueOptions) {
    super(maxsize, options);
  }

  /** Opens an existing named queue as a JoinableQueue (`code: 'ENOENT'` if there is none). */
  static override open<T = unknown>(name: string): JoinableQueue<T> {
    return new JoinableQueue<T>(0, openExisting(name));
  }

  /** Items put and not yet marked done (a snapshot). */
  unfinishedTasks(): number {
    return this.ring.unfinished();
  }

  /**
   * Marks one task done. Throws `code: 'ERR_MP_TASK_DONE_TOO_MANY'` when called more times than items were
   * put (Python's ValueError).
   */
  taskDone(): void {
    if (!this.ring.taskDone()) {
      throw mpError('ERR_MP_TASK_DONE_TOO_MANY', 'taskDone() called more times than there were items put');
    }
  }

  /** Waits, without blocking the event loop, until every item put has been marked done; `false` on timeout. */
  async join(options?: AsyncWaitOptions): Promise<boolean> {
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const deadline = deadlineOf(wait.timeoutMs);
    for (;;) {
      const seen = this.ring.seen(WaitOn.TasksDone);
      if (this.ring.unfinished() === 0) return true;
      if (remainingMs(deadline) === 0) return false;
      await this.sleepAsync(WaitOn.TasksDone, seen, deadline, wait.signal);
    }
  }

  /** Blocks until every item put has been marked done; `false` on timeout. */
  joinSync(options?: SyncWaitOptions): boolean {
    const deadline = deadlineOf(parseSyncWait(options));
    for (;;) {
      const seen = this.ring.seen(WaitOn.TasksDone);
      if (this.ring.unfinished() === 0) return true;
      if (remainingMs(deadline) === 0) return false;
      this.sleepSync(WaitOn.TasksDone, seen, deadline);
    }
  }

  // Passing to child processes (reduction.ts): it arrives as a JoinableQueue on the same ring.
  static {
    registerHandle('JoinableQueue', JoinableQueue, (d) =>
      d.memory ? new JoinableQueue(0, { [RECEIVED]: d } as QueueOptions) : JoinableQueue.open(d.name),
    );
  }
}
