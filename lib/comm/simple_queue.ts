/**
 * SimpleQueue (Python's `multiprocessing.SimpleQueue`): an unbounded queue with only put, get, empty and
 * close — the same shared ring as Queue (queue_handle.ts).
 */
import { registerOpenable } from '../shared/handle.js';
import { openExisting } from '../shared/names.js';
import { QueueHandle, type QueueOptions } from './queue_handle.js';

/** Options of `new SimpleQueue(options)`: naming, and the ring's size. */
export type SimpleQueueOptions = QueueOptions;

/** An unbounded FIFO queue shared between processes (see {@link Queue} for items and lifetime). */
export class SimpleQueue<T = unknown> extends QueueHandle<T> {
  /** `{ name }` opens or creates a named queue; without a name it is anonymous. */
  constructor(options?: SimpleQueueOptions) {
    super('SimpleQueue', 0, options);
  }

  /** Opens an existing named queue (`code: 'ENOENT'` if there is none). */
  static open<T = unknown>(name: string): SimpleQueue<T> {
    return new SimpleQueue<T>(openExisting(name));
  }

  // Passing to child processes (reduction.ts): a named queue by name, an anonymous one with its memory.
  static {
    registerOpenable('SimpleQueue', SimpleQueue);
  }
}
