/**
 * Queue (Python's `multiprocessing.Queue`) on a ring of framed messages in shared memory (queue_ring.ts).
 * There is no feeder thread: `put` returns once the item is in shared memory, so a process may exit right
 * after it; a process killed mid-operation leaves the queue consistent (one atomic store commits each step).
 */
import { availableParallelism } from 'node:os';

import { closedError, mpError, type CodedError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { validateInteger, validateOptions } from '../internal/validate.js';
import { parseAsyncWait, parseSyncWait, PendingWaits, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import { openExisting, parseNameOptions, type NameOptions } from '../shared/names.js';
import { Kind, Segment } from '../shared/segment.js';
import { deadlineOf, remainingMs } from '../sync/event.js';
import type { Lock } from '../sync/lock.js';
import { encodeItem, reviveItem, reviveItemAsync, takeItem, type TakenItem } from './queue_items.js';
import { Empty, eofError, Full } from './queue_errors.js';
import {
  CONTROL_SIZE,
  DEFAULT_CAPACITY,
  MAX_CAPACITY,
  MIN_CAPACITY,
  Ring,
  WAIT_SLICE_MS,
  WaitOn,
  type RawMessage,
} from './queue_ring.js';
import { RECEIVED, receivedDescription, registerTransfer, type SharedDescription } from './transfer.js';

/** Options of `new Queue(maxsize, options)`. */
export interface QueueOptions extends NameOptions {
  /**
   * Size of the ring in bytes (default 1 MiB; rounded up to a multiple of 8). Larger messages still go
   * through, streamed in parts. An opened queue keeps its own.
   */
  capacityBytes?: number;
}

/**
 * How long a "do not block" operation waits for another process's short critical section (a few µs,
 * unless that process is descheduled) before it reports Full/Empty.
 */
const NOWAIT_LOCK_MS = 100;

/** How long a blocking call polls a futex word before it sleeps (ms); pointless with one CPU. */
const SPIN_MS = availableParallelism() > 1 ? 0.02 : 0;

/** Which side of the queue an operation works on. */
type Side = 'put' | 'get';

/**
 * A FIFO queue shared between processes. Items are any structured-cloneable value; Buffers travel as raw
 * bytes; named shared objects inside an item arrive as working handles.
 *
 * `put`/`putSync` wait while the queue holds `maxsize` items (or its ring has no room) and throw
 * {@link Full} on timeout; `get`/`getSync` wait while it is empty and throw {@link Empty} on timeout.
 */
export class Queue<T = unknown> {
  /** The name other processes open with `Queue.open(name)` (generated for an anonymous queue). */
  readonly name: string;
  readonly #segment: Segment;
  readonly #ring: Ring;
  readonly #pending = new PendingWaits();
  /** Aborted by close(): cancels this handle's pending lock acquisitions. */
  readonly #closing = new AbortController();
  /** Async operations in progress: the memory stays mapped until they are over. */
  #active = 0;
  #closed = false;
  #released = false;

  /**
   * `maxsize` bounds the number of items (0 or negative: unbounded, as in Python). `{ name }` opens or
   * creates a named queue (an existing queue keeps its own maxsize and capacity); without a name the queue
   * is anonymous.
   */
  constructor(maxsize = 0, options?: QueueOptions) {
    const received = receivedDescription(options);
    if (received?.memory) {
      this.#segment = Segment.received(Kind.Queue, received.name, received.memory);
    } else {
      const bound = Math.max(0, validateInteger(maxsize, 'maxsize', -0x80000000, 0x7fffffff));
      const o = validateOptions<QueueOptions>(options);
      const capacity =
        o.capacityBytes === undefined
          ? DEFAULT_CAPACITY
          : (validateInteger(o.capacityBytes, 'options.capacityBytes', MIN_CAPACITY, MAX_CAPACITY) + 7) & ~7;
      this.#segment = Segment.open(
        { kind: Kind.Queue, payloadSize: CONTROL_SIZE + capacity, params: [capacity, bound] },
        parseNameOptions(options),
      );
    }
    const [capacity, bound] = this.#segment.params;
    if (capacity % 8 !== 0 || capacity < MIN_CAPACITY || bound < 0 || this.#segment.payloadSize < CONTROL_SIZE + capacity) {
      this.#segment.close();
      throw mpError('ERR_MP_WRONG_KIND', `'${this.#segment.name}' is not a valid Queue (bad capacity in its header)`);
    }
    this.name = this.#segment.name;
    this.#ring = new Ring(this.#segment);
  }

  /** Opens an existing named queue (`code: 'ENOENT'` if there is none). */
  static open<T = unknown>(name: string): Queue<T> {
    return new Queue<T>(0, openExisting(name));
  }

  /** The maximum number of items (0: unbounded). */
  get maxsize(): number {
    return this.#ring.maxsize;
  }

  /** The ring's size in bytes. */
  get capacityBytes(): number {
    return this.#ring.capacity;
  }

  /** Puts an item, waiting without blocking the event loop while the queue is full; rejects {@link Full} on timeout. */
  async put(item: T, options?: AsyncWaitOptions): Promise<void> {
    this.#assertOpen();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const message = encodeItem(item);
    this.#active++;
    try {
      await this.#putAsync(message, deadlineOf(wait.timeoutMs), wait.signal);
    } finally {
      this.#active--;
      this.#release();
    }
  }

  /** Puts an item, blocking the calling thread while the queue is full; throws {@link Full} on timeout. */
  putSync(item: T, options?: SyncWaitOptions): void {
    this.#assertOpen();
    const deadline = deadlineOf(parseSyncWait(options));
    const { tag, bytes } = encodeItem(item);
    const ring = this.#ring;
    let sent = -1;
    for (;;) {
      if (!this.#lockSync(ring.putLock, 'put', deadline)) throw new Full();
      let seen: number;
      try {
        ring.repairWriter();
        for (;;) {
          seen = ring.seen(WaitOn.Space);
          sent = ring.writeParts(tag, bytes, sent);
          if (sent === bytes.length) return;
          if (sent < 0) break;
          // Part of a large message is in: the rest follows, holding put_lock so that its parts stay
          // consecutive, whatever the timeout says.
          this.#sleepSync(WaitOn.Space, seen, Infinity);
        }
      } finally {
        ring.putLock.release();
      }
      if (remainingMs(deadline) === 0) throw new Full();
      this.#sleepSync(WaitOn.Space, seen, deadline);
    }
  }

  /** Puts an item if there is room at once; else throws {@link Full}. */
  putNowait(item: T): void {
    this.putSync(item, { timeout: 0 });
  }

  /**
   * Takes the next item, waiting without blocking the event loop; rejects {@link Empty} on timeout, and
   * `ERR_MP_EOF` once this handle is closed. An abort before the item is taken leaves it in the queue.
   */
  async get(options?: AsyncWaitOptions): Promise<T> {
    if (this.#closed) throw eofError('Queue');
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const deadline = deadlineOf(wait.timeoutMs);
    const ring = this.#ring;
    this.#active++;
    try {
      for (;;) {
        if (!(await this.#lockAsync(ring.getLock, 'get', deadline, wait.signal))) throw new Empty();
        let seen: number;
        let taken: { item: TakenItem } | undefined;
        try {
          ring.repairReader();
          for (;;) {
            seen = ring.seen(WaitOn.Data);
            taken = ring.take(takeItem);
            if (taken || !ring.midMessage) break;
            // Part of a large message is taken: the rest follows, whatever the timeout or signal says.
            if (!ring.writerGone()) await this.#sleepAsync(WaitOn.Data, seen, deadlineOf(ring.livenessMs), undefined);
          }
        } finally {
          ring.getLock.release();
        }
        if (taken) return (await reviveItemAsync(taken.item)) as T;
        if (remainingMs(deadline) === 0) throw new Empty();
        await this.#sleepAsync(WaitOn.Data, seen, deadline, wait.signal);
      }
    } catch (error) {
      if (this.#closed && (error as CodedError).code === 'ERR_MP_CLOSED') throw eofError('Queue');
      throw error;
    } finally {
      this.#active--;
      this.#release();
    }
  }

  /** Takes the next item, blocking the calling thread; throws {@link Empty} on timeout. */
  getSync(options?: SyncWaitOptions): T {
    if (this.#closed) throw eofError('Queue');
    const deadline = deadlineOf(parseSyncWait(options));
    const ring = this.#ring;
    for (;;) {
      if (!this.#lockSync(ring.getLock, 'get', deadline)) throw new Empty();
      let seen: number;
      let taken: { item: TakenItem } | undefined;
      try {
        ring.repairReader();
        for (;;) {
          seen = ring.seen(WaitOn.Data);
          taken = ring.take(takeItem);
          if (taken || !ring.midMessage) break;
          if (!ring.writerGone()) this.#sleepSync(WaitOn.Data, seen, deadlineOf(ring.livenessMs));
        }
      } finally {
        ring.getLock.release();
      }
      if (taken) return reviveItem(taken.item) as T;
      if (remainingMs(deadline) === 0) throw new Empty();
      this.#sleepSync(WaitOn.Data, seen, deadline);
    }
  }

  /** Takes the next item if there is one; else throws {@link Empty}. */
  getNowait(): T {
    return this.getSync({ timeout: 0 });
  }

  /** The number of items in the queue (a snapshot). */
  qsize(): number {
    this.#assertOpen();
    return this.#ring.size();
  }

  /** Whether the queue holds no item (a snapshot). */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /** Whether the queue holds `maxsize` items (a snapshot; always false when unbounded). */
  full(): boolean {
    const size = this.qsize();
    return this.#ring.maxsize > 0 && size >= this.#ring.maxsize;
  }

  /**
   * Releases this process's handle: its pending and later `get`s reject/throw `ERR_MP_EOF` and its async
   * iteration ends; other handles (and processes) are unaffected. Items already put stay in the queue.
   * A large message this handle was still receiving is discarded.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(closedError('Queue'));
    this.#pending.cancelAll('Queue');
    this.#release();
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Removes a named queue from the system; processes that have it open keep using it. */
  unlink(): void {
    this.#segment.unlink();
  }

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Yields items (`get()`) until this handle is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      try {
        yield await this.get();
      } catch (error) {
        if ((error as CodedError).code === 'ERR_MP_EOF') return;
        throw error;
      }
    }
  }

  /** @internal The shared state, for JoinableQueue. */
  protected get ring(): Ring {
    this.#assertOpen();
    return this.#ring;
  }

  /** @internal Sleeps on a futex word of the queue until it moves, the deadline, or a signal. */
  protected async sleepAsync(on: WaitOn, seen: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    this.#active++;
    try {
      await this.#sleepAsync(on, seen, deadline, signal);
    } finally {
      this.#active--;
      this.#release();
    }
  }

  /** @internal Sleeps on a futex word of the queue, blocking the thread. */
  protected sleepSync(on: WaitOn, seen: number, deadline: number): void {
    this.#sleepSync(on, seen, deadline);
  }

  /** @internal How another process opens this queue (transfer.ts). */
  describeShared(): SharedDescription {
    this.#assertOpen();
    return { name: this.name, memory: this.#segment.block };
  }

  async #putAsync({ tag, bytes }: RawMessage, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const ring = this.#ring;
    let sent = -1;
    for (;;) {
      if (!(await this.#lockAsync(ring.putLock, 'put', deadline, signal))) throw new Full();
      let seen: number;
      try {
        ring.repairWriter();
        for (;;) {
          seen = ring.seen(WaitOn.Space);
          sent = ring.writeParts(tag, bytes, sent);
          if (sent === bytes.length) return;
          if (sent < 0) break;
          // Part of a large message is in: the rest follows, whatever the timeout or signal says.
          await this.#sleepAsync(WaitOn.Space, seen, Infinity, undefined);
        }
      } finally {
        ring.putLock.release();
      }
      if (remainingMs(deadline) === 0) throw new Full();
      await this.#sleepAsync(WaitOn.Space, seen, deadline, signal);
    }
  }

  /** Takes one side's lock by `deadline`; a "do not block" call still waits out a short critical section. */
  #lockSync(lock: Lock, side: Side, deadline: number): boolean {
    const left = remainingMs(deadline);
    if (left < 0) return lock.acquireSync();
    if (lock.acquireSync({ timeout: 0 })) return true;
    const timeout = left > 0 ? left : this.#ring.streaming(side) ? 0 : NOWAIT_LOCK_MS;
    return timeout > 0 && lock.acquireSync({ timeout });
  }

  async #lockAsync(lock: Lock, side: Side, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.#closed) throw closedError('Queue');
    if (lock.acquireSync({ timeout: 0 })) return true;
    const left = remainingMs(deadline);
    const timeout = left < 0 ? undefined : left > 0 ? left : this.#ring.streaming(side) ? 0 : NOWAIT_LOCK_MS;
    if (timeout === 0) return false;
    const closing = this.#closing.signal;
    return lock.acquire({ timeout, signal: signal ? AbortSignal.any([signal, closing]) : closing });
  }

  #sleepSync(on: WaitOn, seen: number, deadline: number): void {
    const left = remainingMs(deadline);
    const ring = this.#ring;
    // A peer on another CPU usually commits within microseconds: polling that long saves this thread a sleep
    // and the peer a wake-up syscall per item.
    if (SPIN_MS > 0 && left !== 0) {
      const until = performance.now() + SPIN_MS;
      do {
        for (let i = 0; i < 64; i++) if (Atomics.load(ring.control, on) !== seen) return;
      } while (performance.now() < until);
    }
    if (!ring.sleepBegin(on, seen)) return;
    try {
      binding.futexWait(ring.control, on, seen, left < 0 ? WAIT_SLICE_MS : Math.min(left, WAIT_SLICE_MS));
    } finally {
      ring.sleepEnd(on);
    }
  }

  async #sleepAsync(on: WaitOn, seen: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const left = remainingMs(deadline);
    const ring = this.#ring;
    if (this.#closed) throw closedError('Queue');
    if (!ring.sleepBegin(on, seen)) return;
    try {
      await this.#pending.run(
        (t, cb) => binding.futexWaitAsync(ring.control, on, seen, t, cb),
        { timeoutMs: left < 0 ? WAIT_SLICE_MS : Math.min(left, WAIT_SLICE_MS), signal },
        'futex',
      );
    } finally {
      ring.sleepEnd(on);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError('Queue');
  }

  /** Once closed and idle: closes the embedded locks, then (after every native wait) the memory. */
  #release(): void {
    if (!this.#closed || this.#active > 0 || this.#released) return;
    this.#released = true;
    const { putLock, getLock } = this.#ring;
    putLock.close();
    getLock.close();
    this.#pending.afterNativeWaits(() =>
      putLock.afterNativeWaits(() => getLock.afterNativeWaits(() => this.#segment.close())),
    );
  }

  // Passing to child processes (transfer.ts): a named queue by name, an anonymous one with its memory.
  static {
    registerTransfer<Queue>({
      kind: 'Queue',
      type: Queue,
      describe: (q) => q.describeShared(),
      revive: (d) => (d.memory ? new Queue(0, { [RECEIVED]: d } as QueueOptions) : Queue.open(d.name)),
    });
  }
}
