/**
 * QueueHandle: what Queue (and so JoinableQueue) and SimpleQueue share — a handle on a ring of framed
 * messages in shared memory (queue_ring.ts), with the blocking and async put and get, and the handle's
 * lifetime on the SharedHandle base. There is no feeder thread: `put` returns once the item is in shared
 * memory, so a process may exit right after it; a process killed mid-operation leaves the queue consistent
 * (one atomic store commits each step).
 */
import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';

import { deadlineOf, remainingMs } from '../internal/deadline.js';
import { mpError, type CodedError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { nextTurn } from '../internal/polling.js';
import { validateInteger, validateOptions } from '../internal/validate.js';
import { parseAsyncWait, parseSyncWait, type AsyncWaitOptions, type SyncWaitOptions } from '../internal/wait.js';
import { openSegment, SharedHandle } from '../shared/handle.js';
import type { NameOptions } from '../shared/names.js';
import { Kind, type Segment } from '../shared/segment.js';
import type { Lock } from '../sync/lock.js';
import { Channel, ChannelEnd } from './queue_channel.js';
import { encodeItem, reviveItem, reviveItemAsync, takeItem, type TakenItem } from './queue_items.js';
import { Empty, eofError, Full } from './queue_errors.js';
import { DEFAULT_CAPACITY, MAX_CAPACITY, MIN_CAPACITY, RING_OFFSET, Ring, WAIT_SLICE_MS, WaitOn, type RawMessage } from './queue_ring.js';
import { receivedDescription, type SharedDescription } from './reduction.js';

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

/** What an anonymous queue's description carries besides its memory and sending socket. */
interface ChannelParams {
  receiver: ChannelEnd;
}

/** The memory of a queue: received, opened or created (`maxsize` and `capacityBytes` only for a new one). */
function openQueueSegment(maxsize: number, options: QueueOptions | undefined): Segment {
  const bound = Math.max(0, validateInteger(maxsize, 'maxsize', -0x80000000, 0x7fffffff));
  const o = validateOptions<QueueOptions>(options);
  const capacity =
    o.capacityBytes === undefined
      ? DEFAULT_CAPACITY
      : (validateInteger(o.capacityBytes, 'options.capacityBytes', MIN_CAPACITY, MAX_CAPACITY) + 7) & ~7;
  const segment = openSegment({ kind: Kind.Queue, payloadSize: RING_OFFSET + capacity, params: [capacity, bound] }, options);
  const [ringSize, maxItems] = segment.params;
  if (ringSize % 8 !== 0 || ringSize < MIN_CAPACITY || maxItems < 0 || segment.payloadSize < RING_OFFSET + ringSize) {
    segment.close();
    throw mpError('ERR_MP_WRONG_KIND', `'${segment.name}' is not a valid Queue (bad capacity in its header)`);
  }
  return segment;
}

/**
 * A FIFO queue shared between processes: the part Queue and SimpleQueue share. Items are any value a
 * Process's arguments can be (see reduction.ts): Buffers travel as raw bytes, shared objects arrive as
 * working handles (anonymous ones and Connections only through an anonymous queue, whose socket pair carries
 * their descriptors: queue_channel.ts), instances of exported classes keep their class.
 */
export abstract class QueueHandle<T = unknown> extends SharedHandle {
  readonly #ring: Ring;
  /** An anonymous queue's socket pair for the descriptors items pass (queue_channel.ts); none if named. */
  readonly #channel: Channel | undefined;
  /** Aborted by close(): cancels this handle's pending lock acquisitions. */
  readonly #closing = new AbortController();

  /** @internal */
  protected constructor(what: string, maxsize: number, options: QueueOptions | undefined) {
    const segment = openQueueSegment(maxsize, options);
    super(what, segment.name, segment);
    this.#ring = new Ring(segment);
    const received = receivedDescription(options);
    if (received?.descriptor !== undefined) {
      this.#channel = new Channel(received.descriptor, (received.params as ChannelParams).receiver.fd);
    } else if (segment.anonymous) {
      this.#channel = Channel.create();
    }
    // Every pending async put or get listens to it while it waits for a lock: there may be thousands.
    setMaxListeners(0, this.#closing.signal);
  }

  /** Puts an item, waiting without blocking the event loop while the queue is full; rejects `Full` on timeout. */
  async put(item: T, options?: AsyncWaitOptions): Promise<void> {
    this.assertOpen();
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const message = encodeItem(item, this.#channel !== undefined);
    await this.track(() => this.#putAsync(message, deadlineOf(wait.timeoutMs), wait.signal));
  }

  /** Puts an item, blocking the calling thread while the queue is full; throws `Full` on timeout. */
  putSync(item: T, options?: SyncWaitOptions): void {
    this.assertOpen();
    const deadline = deadlineOf(parseSyncWait(options));
    const message = encodeItem(item, this.#channel !== undefined);
    const { tag, bytes } = message;
    const beforeFirst = this.#beforeFirst(message);
    const ring = this.#ring;
    let sent = -1;
    for (;;) {
      if (!this.#lockSync(ring.putLock, 'put', deadline)) throw new Full();
      let seen: number;
      try {
        ring.repairWriter();
        for (;;) {
          seen = ring.seen(WaitOn.Space);
          sent = ring.writeParts(tag, bytes, sent, beforeFirst);
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

  /**
   * Takes the next item, waiting without blocking the event loop; rejects `Empty` on timeout, and
   * `ERR_MP_EOF` once this handle is closed. An abort before the item is taken leaves it in the queue.
   */
  async get(options?: AsyncWaitOptions): Promise<T> {
    if (this.closed) throw eofError(this.constructor.name);
    const wait = parseAsyncWait(options);
    if (wait.signal?.aborted) throw wait.signal.reason;
    const deadline = deadlineOf(wait.timeoutMs);
    try {
      const taken = await this.track(() => this.#takeAsync(deadline, wait.signal));
      return (await reviveItemAsync(taken)) as T;
    } catch (error) {
      if (this.closed && (error as CodedError).code === 'ERR_MP_CLOSED') throw eofError(this.constructor.name);
      throw error;
    }
  }

  /** Takes the next item, blocking the calling thread; throws `Empty` on timeout. */
  getSync(options?: SyncWaitOptions): T {
    if (this.closed) throw eofError(this.constructor.name);
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
          if (taken) this.#receiveDescriptors(taken.item);
          if (taken || !ring.midMessage) break;
          if (!ring.writerGone()) this.#sleepSync(WaitOn.Data, seen, deadlineOf(ring.livenessMs));
        }
      } finally {
        // Mid-message only on the way out of an exception: the part taken goes.
        if (ring.midMessage) ring.abandonMessage();
        ring.getLock.release();
      }
      if (taken) return reviveItem(taken.item) as T;
      if (remainingMs(deadline) === 0) throw new Empty();
      this.#sleepSync(WaitOn.Data, seen, deadline);
    }
  }

  /** Whether the queue holds no item (a snapshot). */
  empty(): boolean {
    this.assertOpen();
    return this.#ring.size() === 0;
  }

  /**
   * Releases this process's handle: its pending and later `get`s reject/throw `ERR_MP_EOF` and its async
   * iteration ends; other handles (and processes) are unaffected. Items already put stay in the queue.
   * A large message this handle was still receiving is discarded.
   */
  override close(): void {
    super.close();
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

  /** @internal The shared state, for Queue and JoinableQueue. */
  protected get ring(): Ring {
    this.assertOpen();
    return this.#ring;
  }

  /** @internal Sleeps on a futex word of the queue until it moves, the deadline, or a signal. */
  protected async sleepAsync(on: WaitOn, seen: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    await this.track(() => this.#sleepAsync(on, seen, deadline, signal));
  }

  /** @internal Sleeps on a futex word of the queue, blocking the thread. */
  protected sleepSync(on: WaitOn, seen: number, deadline: number): void {
    this.#sleepSync(on, seen, deadline);
  }

  /** @internal Pending lock acquisitions stop at once (their native waits report back to the locks). */
  protected override closing(): void {
    this.#closing.abort(this.closedError());
  }

  /** @internal The embedded locks' native waits (cancelled acquisitions) report back before the memory goes. */
  protected override free(): void {
    const { putLock, getLock } = this.#ring;
    putLock.close();
    getLock.close();
    this.#channel?.close();
    putLock.afterNativeWaits(() => getLock.afterNativeWaits(() => super.free()));
  }

  /** @internal An anonymous queue's socket pair goes along: the sending socket, and the receiving one in params. */
  protected override describe(): SharedDescription {
    const description = super.describe();
    const channel = this.#channel;
    if (channel === undefined) return description;
    const params: ChannelParams = { receiver: new ChannelEnd(channel.receiveFd) };
    return { ...description, descriptor: channel.sendFd, params };
  }

  /** For a message that passes descriptors: sends them (holding put_lock) once the ring has room for it. */
  #beforeFirst(message: RawMessage): (() => boolean) | undefined {
    const { fds } = message;
    if (fds === undefined) return undefined;
    const channel = this.#channel!;
    const control = this.#ring.control;
    return () => channel.send(control, message.bytes, fds);
  }

  /** Holding get_lock, the item's read committed: the descriptors that came with it. */
  #receiveDescriptors(item: TakenItem): void {
    if (item.token === undefined) return;
    if (this.#channel === undefined) {
      throw mpError('ERR_MP_PROTOCOL', 'a queue item passes descriptors, but this handle of the queue has no socket pair for them');
    }
    item.fds = this.#channel.receive(item.token);
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { qsize: this.#ring.size(), maxsize: this.#ring.maxsize };
  }

  async #putAsync(message: RawMessage, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    const { tag, bytes } = message;
    const beforeFirst = this.#beforeFirst(message);
    const ring = this.#ring;
    let sent = -1;
    for (;;) {
      if (!(await this.#lockAsync(ring.putLock, 'put', deadline, signal))) throw new Full();
      let seen: number;
      try {
        ring.repairWriter();
        for (;;) {
          seen = ring.seen(WaitOn.Space);
          sent = ring.writeParts(tag, bytes, sent, beforeFirst);
          if (sent === bytes.length) return;
          if (sent < 0) break;
          // Part of a large message is in: the rest follows, whatever the timeout or signal says.
          await this.#nextPartAsync(WaitOn.Space, seen, Infinity);
        }
      } finally {
        ring.putLock.release();
      }
      if (remainingMs(deadline) === 0) throw new Full();
      await this.#sleepAsync(WaitOn.Space, seen, deadline, signal);
    }
  }

  /** Takes the next message off the ring (its item still to revive, after the lock is released). */
  async #takeAsync(deadline: number, signal: AbortSignal | undefined): Promise<TakenItem> {
    const ring = this.#ring;
    for (;;) {
      if (!(await this.#lockAsync(ring.getLock, 'get', deadline, signal))) throw new Empty();
      let seen: number;
      let taken: { item: TakenItem } | undefined;
      try {
        ring.repairReader();
        for (;;) {
          seen = ring.seen(WaitOn.Data);
          taken = ring.take(takeItem);
          if (taken) this.#receiveDescriptors(taken.item);
          if (taken || !ring.midMessage) break;
          // Part of a large message is taken: the rest follows, whatever the timeout or signal says.
          if (!ring.writerGone()) await this.#nextPartAsync(WaitOn.Data, seen, deadlineOf(ring.livenessMs));
        }
      } finally {
        // Mid-message only on the way out of an exception (this handle closed): the part taken goes.
        if (ring.midMessage) ring.abandonMessage();
        ring.getLock.release();
      }
      if (taken) return taken.item;
      if (remainingMs(deadline) === 0) throw new Empty();
      await this.#sleepAsync(WaitOn.Data, seen, deadline, signal);
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
    if (this.closed) throw this.closedError();
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

  /** Returns whether it slept: false if the word had already moved. */
  async #sleepAsync(on: WaitOn, seen: number, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const left = remainingMs(deadline);
    const ring = this.#ring;
    if (this.closed) throw this.closedError();
    if (!ring.sleepBegin(on, seen)) return false;
    try {
      await this.pending.run(
        (t, cb) => binding.futexWaitAsync(ring.control, on, seen, t, cb),
        { timeoutMs: left < 0 ? WAIT_SLICE_MS : Math.min(left, WAIT_SLICE_MS), signal },
        'futex',
      );
    } finally {
      ring.sleepEnd(on);
    }
    return true;
  }

  /**
   * In the middle of a streamed message: waits for the peer's next step, and if it has already come, lets
   * the event loop turn once all the same. A peer in another process that keeps pace would otherwise keep
   * this loop on microtasks alone until the message's last part (timers and I/O starved meanwhile).
   */
  async #nextPartAsync(on: WaitOn, seen: number, deadline: number): Promise<void> {
    if (!(await this.#sleepAsync(on, seen, deadline, undefined))) await nextTurn();
  }
}
