/**
 * SimpleQueue (Python's `multiprocessing.SimpleQueue`): an unbounded queue with only put, get, empty and
 * close — the same shared ring as Queue.
 */
import type { AsyncWaitOptions, SyncWaitOptions } from '../internal/wait.js';
import { openExisting } from '../shared/names.js';
import { Queue, type QueueOptions } from './queue.js';
import { RECEIVED, registerTransfer } from './transfer.js';

/** Options of `new SimpleQueue(options)`: naming, and the ring's size. */
export type SimpleQueueOptions = QueueOptions;

/** An unbounded FIFO queue shared between processes (see {@link Queue} for items and lifetime). */
export class SimpleQueue<T = unknown> {
  readonly #queue: Queue<T>;

  /** `{ name }` opens or creates a named queue; without a name it is anonymous. */
  constructor(options?: SimpleQueueOptions) {
    this.#queue = new Queue<T>(0, options);
  }

  /** Opens an existing named queue (`code: 'ENOENT'` if there is none). */
  static open<T = unknown>(name: string): SimpleQueue<T> {
    return new SimpleQueue<T>(openExisting(name));
  }

  /** The name other processes open. */
  get name(): string {
    return this.#queue.name;
  }

  /** Puts an item (waits only while the ring has no room). */
  put(item: T, options?: AsyncWaitOptions): Promise<void> {
    return this.#queue.put(item, options);
  }

  /** Puts an item, blocking the calling thread while the ring has no room. */
  putSync(item: T, options?: SyncWaitOptions): void {
    this.#queue.putSync(item, options);
  }

  /** Takes the next item, waiting without blocking the event loop. */
  get(options?: AsyncWaitOptions): Promise<T> {
    return this.#queue.get(options);
  }

  /** Takes the next item, blocking the calling thread. */
  getSync(options?: SyncWaitOptions): T {
    return this.#queue.getSync(options);
  }

  /** Whether the queue holds no item (a snapshot). */
  empty(): boolean {
    return this.#queue.empty();
  }

  /** Releases this handle (pending and later gets reject/throw `ERR_MP_EOF`). */
  close(): void {
    this.#queue.close();
  }

  /** Removes a named queue from the system. */
  unlink(): void {
    this.#queue.unlink();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields items until this handle is closed. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#queue[Symbol.asyncIterator]();
  }

  static {
    registerTransfer<SimpleQueue>({
      kind: 'SimpleQueue',
      type: SimpleQueue,
      describe: (q) => q.#queue.describeShared(),
      revive: (d) => (d.memory ? new SimpleQueue({ [RECEIVED]: d } as QueueOptions) : SimpleQueue.open(d.name)),
    });
  }
}
