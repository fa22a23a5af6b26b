/**
 * Queue (Python's `multiprocessing.Queue`): a QueueHandle (queue_handle.ts) with Python's full interface —
 * the "do not wait" forms, qsize/full, the bound and the ring's size.
 */
import { openExisting } from '../shared/names.js';
import { registerHandle } from '../shared/handle.js';
import { RECEIVED } from './reduction.js';
import { QueueHandle, type QueueOptions } from './queue_handle.js';

export type { QueueOptions } from './queue_handle.js';

/**
 * A FIFO queue shared between processes. Items are any value a Process's arguments can be: Buffers travel
 * as raw bytes; shared objects inside an item arrive as working handles (anonymous ones and Connections only
 * through an anonymous queue); instances of exported classes keep their class.
 *
 * `put`/`putSync` wait while the queue holds `maxsize` items (or its ring has no room) and throw
 * {@link Full} on timeout; `get`/`getSync` wait while it is empty and throw {@link Empty} on timeout.
 */
export class Queue<T = unknown> extends QueueHandle<T> {
  /**
   * `maxsize` bounds the number of items (0 or negative: unbounded, as in Python). `{ name }` opens or
   * creates a named queue (an existing queue keeps its own maxsize and capacity); without a name the queue
   * is anonymous.
   */
  constructor(maxsize = 0, options?: QueueOptions) {
    super('Queue', maxsize, options);
  }

  /** Opens an existing named queue (`code: 'ENOENT'` if there is none). */
  static open<T = unknown>(name: string): Queue<T> {
    return new Queue<T>(0, openExisting(name));
  }

  /** The maximum number of items (0: unbounded). */
  get maxsize(): number {
    return this.ring.maxsize;
  }

  /** The ring's size in bytes. */
  get capacityBytes(): number {
    return this.ring.capacity;
  }

  /** Puts an item if there is room at once; else throws {@link Full}. */
  putNowait(item: T): void {
    this.putSync(item, { timeout: 0 });
  }

  /** Takes the next item if there is one; else throws {@link Empty}. */
  getNowait(): T {
    return this.getSync({ timeout: 0 });
  }

  /** The number of items in the queue (a snapshot). */
  qsize(): number {
    return this.ring.size();
  }

  /** Whether the queue holds `maxsize` items (a snapshot; always false when unbounded). */
  full(): boolean {
    const ring = this.ring;
    return ring.maxsize > 0 && ring.size() >= ring.maxsize;
  }

  // Passing to child processes (reduction.ts): a named queue by name, an anonymous one with its memory.
  static {
    registerHandle('Queue', Queue, (d) => (d.memory ? new Queue(0, { [RECEIVED]: d } as QueueOptions) : Queue.open(d.name)));
  }
}
