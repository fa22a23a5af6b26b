/**
 * The shared-memory protocol of Queue, JoinableQueue and SimpleQueue (`pmp_queue` in
 * native/include/posix_mp.h, where C programs find the same rules): a control block and a ring of framed
 * messages in one segment.
 *
 * - Producers serialise among themselves on `put_lock`, consumers on `get_lock` (both robust pmp_locks), so
 *   a producer and a consumer never wait for each other's lock.
 * - `write` and `read` are 64-bit positions: the low half is the ring offset of the next frame (8-aligned)
 *   plus the STREAM bit, the high half the number of messages completed (mod 2^32). Only the put_lock holder
 *   stores `write`, only the get_lock holder stores `read`, and each frame becomes visible (put) or consumed
 *   (get) through ONE atomic store of that word: a process killed before the store left nothing visible (put)
 *   or left the frame in place (get); after it, the step is complete. Counts are derived: qsize = written -
 *   read messages, a JoinableQueue's unfinished tasks = written messages - `tasks_done`.
 * - A frame is an 8-byte header (u32 payload length, u32 flags | tag << 8) and the payload, padded to 8
 *   bytes; it may wrap around the ring's end. The ring is never filled completely (8 bytes stay free), so
 *   equal offsets mean empty.
 * - A message too large for one frame (more than half the ring) is streamed: FIRST, middle, LAST frames,
 *   written by one producer holding `put_lock` throughout and taken by one consumer holding `get_lock`
 *   throughout, so its frames are consecutive and reach one consumer. The STREAM bit in `write` says a
 *   stream is being written, in `read` that one is being read. Whoever takes `put_lock` and finds the
 *   STREAM bit in `write` knows the writer died mid-message and appends an ABORT frame; whoever takes
 *   `get_lock` and finds it in `read` knows the reader died (or gave up) mid-message and discards the rest of
 *   that message. A consumer waiting for the next part checks the writer is alive (by trying `put_lock`).
 * - Waits: getters sleep on the low half of `write`, putters on the low half of `read` (every commit
 *   changes it), joiners on `tasks_done`; the `*_waiting` counters let commits skip the wake-up syscall when
 *   nobody sleeps. Sleeps last at most WAIT_SLICE_MS, so a peer killed between its commit and its wake-up
 *   delays a sleeper by at most that.
 */
import { endianness } from 'node:os';

import { LAYOUT } from '../internal/layout.js';
import { binding } from '../internal/native.js';
import { Lock } from '../sync/lock.js';
import type { Segment } from '../shared/segment.js';

const QUEUE = LAYOUT.pmp_queue;
const { constants } = LAYOUT;

/** Where the ring starts in the payload, after the control block (pmp_queue). */
export const RING_OFFSET = constants.PMP_QUEUE_RING_OFFSET;
/** Bytes of a frame header. */
const FRAME_HEADER = constants.PMP_QUEUE_FRAME_HEADER;
/** Default ring size in bytes. */
export const DEFAULT_CAPACITY = 1 << 20;
/** Smallest ring: a frame of a few hundred bytes must fit whole. */
export const MIN_CAPACITY = 4096;
/** Largest ring: offsets are 32-bit. */
export const MAX_CAPACITY = 1 << 30;
/** Longest sleep between checks (see the module comment). */
export const WAIT_SLICE_MS = constants.PMP_QUEUE_SLICE_MS;
/** How often a consumer in the middle of a streamed message checks that its writer is alive. */
const LIVENESS_MS = constants.PMP_QUEUE_LIVENESS_MS;

// Int32 indexes in the control block (pmp_queue); a position's halves in native byte order.
const LOW = endianness() === 'LE' ? 0 : 1;
const WRITE_LOW = QUEUE.write / 4 + LOW;
const WRITE_HIGH = QUEUE.write / 4 + 1 - LOW;
const READ_LOW = QUEUE.read / 4 + LOW;
const PUTTERS_WAITING = QUEUE.putters_waiting / 4;
const GETTERS_WAITING = QUEUE.getters_waiting / 4;
const TASKS_DONE = QUEUE.tasks_done / 4;
const JOINERS_WAITING = QUEUE.joiners_waiting / 4;

/** Frame flags (low byte of the frame's second word). */
const Flag = {
  First: constants.PMP_QUEUE_FIRST,
  Last: constants.PMP_QUEUE_LAST,
  Abort: constants.PMP_QUEUE_ABORT,
} as const;

/** Bit 0 of a position's low half: a streamed message is being written (`write`) or read (`read`). */
const STREAM = constants.PMP_QUEUE_STREAM;

/** Which futex word a wait sleeps on (Int32 indexes into the control block). */
export const WaitOn = {
  /** Getters: the queue was empty (the low half of `write`). */
  Data: WRITE_LOW,
  /** Putters: the ring or maxsize was full (the low half of `read`). */
  Space: READ_LOW,
  /** JoinableQueue.join: tasks_done. */
  TasksDone: TASKS_DONE,
} as const;
/** One of {@link WaitOn}'s words. */
export type WaitOn = (typeof WaitOn)[keyof typeof WaitOn];

/** The counter of sleepers on each futex word. */
function waitingCounter(on: WaitOn): number {
  return on === WaitOn.Data ? GETTERS_WAITING : on === WaitOn.Space ? PUTTERS_WAITING : JOINERS_WAITING;
}

/** A message: its type tag and bytes. */
export interface RawMessage {
  tag: number;
  bytes: Uint8Array;
  /** Taken from the ring: whether `bytes` is a private copy (a reassembled message), not a view of the ring. */
  copied?: boolean;
  /** To put: descriptors that go with the message (queue_channel.ts). */
  fds?: number[];
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** One handle's access to a queue's segment. Callers hold the right lock for each method (see its comment). */
export class Ring {
  /** Ring bytes. */
  readonly capacity: number;
  /** Maximum number of messages (0 = bounded by bytes only). */
  readonly maxsize: number;
  /** Payload bytes of the largest frame: larger messages are streamed. */
  readonly maxFramePayload: number;
  readonly putLock: Lock;
  readonly getLock: Lock;
  /** The control block, as 32-bit words (also the futex words). */
  readonly control: Int32Array;
  readonly #write: BigUint64Array;
  readonly #read: BigUint64Array;
  readonly #bytes: Buffer;
  readonly #words: Uint32Array;
  /** The message being reassembled from a stream by this handle (holding get_lock). */
  #parts: Buffer[] | undefined;
  #partsTag = 0;
  /** Discarding the rest of a message whose reader gave up (holding get_lock). */
  #discarding = false;

  constructor(segment: Segment) {
    const base = segment.payloadOffset;
    [this.capacity, this.maxsize] = segment.params;
    this.maxFramePayload = (this.capacity >>> 1) - FRAME_HEADER;
    this.control = new Int32Array(segment.buffer, base, QUEUE.sizeof / 4);
    this.#write = new BigUint64Array(segment.buffer, base + QUEUE.write, 1);
    this.#read = new BigUint64Array(segment.buffer, base + QUEUE.read, 1);
    this.#bytes = Buffer.from(segment.buffer, base + RING_OFFSET, this.capacity);
    this.#words = new Uint32Array(segment.buffer, base + RING_OFFSET, this.capacity / 4);
    this.putLock = new Lock(Lock.embeddedOptions(segment, base + QUEUE.put_lock));
    this.getLock = new Lock(Lock.embeddedOptions(segment, base + QUEUE.get_lock));
  }

  /** Messages in the queue (complete ones not yet taken). */
  size(): number {
    const read = Atomics.load(this.#read, 0);
    const written = Atomics.load(this.control, WRITE_HIGH);
    return (written - Number(read >> 32n)) >>> 0;
  }

  /** Whether a stream is being written (`write`) — then put_lock is held for long — or read (`read`). */
  streaming(side: 'put' | 'get'): boolean {
    return (Atomics.load(this.control, side === 'put' ? WRITE_LOW : READ_LOW) & STREAM) !== 0;
  }

  /** The current value of a futex word, to sleep on once a check under it failed. */
  seen(on: WaitOn): number {
    return Atomics.load(this.control, on);
  }

  /** Registers a sleeper on `on` (so that commits wake it); returns false if the word already moved. */
  sleepBegin(on: WaitOn, seen: number): boolean {
    Atomics.add(this.control, waitingCounter(on), 1);
    if (Atomics.load(this.control, on) === seen) return true;
    Atomics.sub(this.control, waitingCounter(on), 1);
    return false;
  }

  sleepEnd(on: WaitOn): void {
    Atomics.sub(this.control, waitingCounter(on), 1);
  }

  #wake(on: WaitOn): void {
    // The counter is read after the commit's store (both sequentially consistent): a sleeper either is
    // counted here or re-reads the word after the commit and does not sleep (sleepBegin).
    if (Atomics.load(this.control, waitingCounter(on)) > 0) this.futexWake(on);
  }

  /** Wakes every sleeper on `on`. */
  futexWake(on: WaitOn): void {
    binding.futexWake(this.control, on, 0x7fffffff);
  }

  // ---- producer side: the caller holds put_lock ----

  /** After taking put_lock: a writer that died (or gave up) mid-message is closed with an ABORT frame. */
  repairWriter(): void {
    if (this.control[WRITE_LOW]! & STREAM) {
      // An empty frame always fits: 8 bytes are always free.
      this.#writeFrame(Flag.Abort, 0, EMPTY, 0, 0);
    }
  }

  /**
   * Writes the frames of a message from byte `sent` on (-1: not begun), as many as there is room for (and
   * the first only if maxsize allows another message, and `beforeFirst`, called once there is room for it,
   * returns true). Returns the new `sent`: `bytes.length` once the message is in; else wait for space
   * (WaitOn.Space) — holding put_lock if the message has begun.
   */
  writeParts(tag: number, bytes: Uint8Array, sent: number, beforeFirst?: () => boolean): number {
    for (;;) {
      const from = Math.max(sent, 0);
      const length = Math.min(bytes.length - from, this.maxFramePayload);
      const flags = (sent < 0 ? Flag.First : 0) | (from + length === bytes.length ? Flag.Last : 0);
      if (!this.#tryWriteFrame(flags, tag, bytes, from, length, beforeFirst)) return sent;
      sent = from + length;
      if (sent === bytes.length) return sent;
    }
  }

  /**
   * Appends one frame with `length` bytes of `bytes` from `start`, if there is room (and, for a FIRST frame,
   * if maxsize allows another message). Returns false if it must wait for space.
   */
  #tryWriteFrame(
    flags: number,
    tag: number,
    bytes: Uint8Array,
    start: number,
    length: number,
    beforeFirst: (() => boolean) | undefined,
  ): boolean {
    const read = Atomics.load(this.#read, 0);
    if (flags & Flag.First && this.maxsize > 0) {
      const queued = (this.control[WRITE_HIGH]! - Number(read >> 32n)) >>> 0;
      if (queued >= this.maxsize) return false;
    }
    const written = this.control[WRITE_LOW]! & ~STREAM;
    const used = (written - (Number(read & 0xffffffffn) & ~STREAM) + this.capacity) % this.capacity;
    if (FRAME_HEADER + pad8(length) > this.capacity - 8 - used) return false;
    if (flags & Flag.First && beforeFirst && !beforeFirst()) return false;
    this.#writeFrame(flags, tag, bytes, start, length);
    return true;
  }

  #writeFrame(flags: number, tag: number, bytes: Uint8Array, start: number, length: number): void {
    const low = this.control[WRITE_LOW]!;
    const at = low & ~STREAM;
    this.#words[at >>> 2] = length;
    this.#words[(at >>> 2) + 1] = flags | (tag << 8);
    const data = (at + FRAME_HEADER) % this.capacity;
    const first = Math.min(length, this.capacity - data);
    this.#bytes.set(start === 0 && first === bytes.length ? bytes : bytes.subarray(start, start + first), data);
    if (first < length) this.#bytes.set(bytes.subarray(start + first, start + length), 0);
    const next = (at + FRAME_HEADER + pad8(length)) % this.capacity;
    const done = flags & Flag.Last ? 1 : 0;
    const open = flags & (Flag.Last | Flag.Abort) ? 0 : STREAM;
    const count = (this.control[WRITE_HIGH]! + done) >>> 0;
    Atomics.store(this.#write, 0, (BigInt(count) << 32n) | BigInt(next | open));
    this.#wake(WaitOn.Data);
  }

  // ---- consumer side: the caller holds get_lock ----

  /** After taking get_lock: whether a message is half-taken by a reader that died or gave up (to discard). */
  repairReader(): void {
    if (this.#parts === undefined && this.control[READ_LOW]! & STREAM) this.#discarding = true;
  }

  /**
   * Holding get_lock, giving up in the middle of a message (this handle closed): drops what was taken of it.
   * `read` keeps its STREAM bit, so the next reader discards the rest, as for a reader that died.
   */
  abandonMessage(): void {
    this.#parts = undefined;
    this.#discarding = false;
  }

  /** Whether this handle is in the middle of a streamed message (it must keep get_lock while it waits). */
  get midMessage(): boolean {
    return this.#parts !== undefined || this.#discarding;
  }

  /**
   * Consumes frames until a message is complete and returns what `decode` makes of it (a single frame is
   * decoded straight from the ring, before its read is committed; the read is committed even if `decode`
   * throws). Returns undefined when the ring ran dry (then wait on WaitOn.Data; if `midMessage`, keep
   * get_lock).
   */
  take<T>(decode: (message: RawMessage) => T): { item: T } | undefined {
    for (;;) {
      const low = this.control[READ_LOW]!;
      const at = low & ~STREAM;
      if (at === (Atomics.load(this.control, WRITE_LOW) & ~STREAM)) return undefined;
      const length = this.#words[at >>> 2]!;
      const info = this.#words[(at >>> 2) + 1]!;
      const flags = info & 0xff;
      const next = (at + FRAME_HEADER + pad8(length)) % this.capacity;
      const data = (at + FRAME_HEADER) % this.capacity;
      if (flags & Flag.Abort) {
        this.#parts = undefined;
        this.#discarding = false;
        this.#commitRead(next, 0, false);
        continue;
      }
      if (this.#discarding || (this.#parts === undefined && !(flags & Flag.First))) {
        // The rest of a message another reader had begun: it counts as taken (by that reader).
        this.#discarding = !(flags & Flag.Last);
        this.#commitRead(next, flags & Flag.Last ? 1 : 0, this.#discarding);
        continue;
      }
      if (flags & Flag.First && flags & Flag.Last) {
        // Committed even if decoding throws: a message that cannot be decoded must not block the queue.
        try {
          return { item: decode({ tag: info >>> 8, bytes: this.#view(data, length) }) };
        } finally {
          this.#commitRead(next, 1, false);
        }
      }
      if (flags & Flag.First) {
        this.#parts = [];
        this.#partsTag = info >>> 8;
      }
      this.#parts!.push(Buffer.from(this.#view(data, length)));
      if (flags & Flag.Last) {
        const message = { tag: this.#partsTag, bytes: Buffer.concat(this.#parts!), copied: true };
        this.#parts = undefined;
        this.#commitRead(next, 1, false);
        return { item: decode(message) };
      }
      this.#commitRead(next, 0, true);
    }
  }

  /**
   * Holding get_lock in the middle of a message, with the ring dry: whether its writer is gone. If so, this
   * closes the message for it (ABORT) and the next `take` discards what was taken of it.
   */
  writerGone(): boolean {
    if (!(Atomics.load(this.control, WRITE_LOW) & STREAM)) return false;
    // Held by a live process (this one included): the writer is alive. Taken: its owner died.
    if (!this.putLock.acquireSync({ timeout: 0 })) return false;
    try {
      this.repairWriter();
    } finally {
      this.putLock.release();
    }
    return true;
  }

  /** Sleep length for a reader in the middle of a message (it checks its writer between sleeps). */
  get livenessMs(): number {
    return LIVENESS_MS;
  }

  /** `length` bytes from ring offset `data`: a view when contiguous, else a copy. */
  #view(data: number, length: number): Uint8Array {
    if (data + length <= this.capacity) return this.#bytes.subarray(data, data + length);
    const copy = Buffer.allocUnsafe(length);
    const first = this.capacity - data;
    this.#bytes.copy(copy, 0, data, this.capacity);
    this.#bytes.copy(copy, first, 0, length - first);
    return copy;
  }

  #commitRead(next: number, done: number, open: boolean): void {
    const count = (Number(Atomics.load(this.#read, 0) >> 32n) + done) >>> 0;
    Atomics.store(this.#read, 0, (BigInt(count) << 32n) | BigInt(next | (open ? STREAM : 0)));
    this.#wake(WaitOn.Space);
  }

  // ---- JoinableQueue ----

  /** Unfinished tasks: messages ever put minus taskDone calls. */
  unfinished(): number {
    return (Atomics.load(this.control, WRITE_HIGH) - Atomics.load(this.control, TASKS_DONE)) >>> 0;
  }

  /** Marks one task done; false if none is unfinished. */
  taskDone(): boolean {
    for (;;) {
      const done = Atomics.load(this.control, TASKS_DONE);
      const written = Atomics.load(this.control, WRITE_HIGH);
      if (written === done) return false;
      if (Atomics.compareExchange(this.control, TASKS_DONE, done, (done + 1) | 0) !== done) continue;
      // Joiners only need waking when no task is left (more puts only make them wait longer).
      if (((done + 1) | 0) === written) this.#wake(WaitOn.TasksDone);
      return true;
    }
  }
}

const EMPTY = new Uint8Array(0);
