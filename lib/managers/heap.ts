/**
 * The memory of a SharedList or SharedDict: one growable file (a named shm object, or a memfd of its own when
 * anonymous) holding a pmp_header, a pmp_lock, root words, a redo journal, and a heap of variable-sized
 * blocks. Every word is a native-endian uint32; every pointer is a byte offset from the file's start.
 *
 *   bytes 0-31      pmp_header (kind PMP_KIND_LIST or PMP_KIND_DICT)
 *   bytes 32-47     pmp_lock guarding everything below
 *   word 12         CAPACITY: the file's size (only grows)
 *   word 13         TOP: the bump pointer (first byte never allocated)
 *   word 14         JOURNAL_COUNT: entries of a committed, not yet fully applied operation (0: none)
 *   words 15-21     the container's roots (shared_list.ts, shared_dict.ts)
 *   words 22-53     FREE[c]: free list of blocks of 2^(c+4) bytes
 *   words 64-4159   the journal: up to 2048 (word index, value) pairs
 *   bytes 32768-    the heap: blocks of 2^k bytes (k >= 4): word 0 the free-list link while free, word 1 the
 *                   payload length, then the payload
 *
 * Crash consistency (a process SIGKILLed at any instruction): an operation writes new data only into memory
 * that nothing committed refers to (blocks it allocates, list slots past the length), and records every
 * store to memory that is referred to — roots, free-list heads, a block's link, dict table slots — in a
 * {@link Txn}. Committing writes those stores to the journal, publishes their count with one store (the
 * commit point), applies them, and zeroes the count. The next holder of the lock finding a non-zero count
 * applies the journal again (the stores are absolute, so applying twice is harmless). A writer killed before
 * its commit point changed nothing referenced: what it allocated is unreachable (blocks above TOP, popped
 * free blocks whose list head never moved) and is reused.
 *
 * Growth: a block that does not fit makes the holder of the lock double the file (ftruncate) and store the
 * new CAPACITY; every process remaps when, holding the lock, it sees a CAPACITY larger than its mapping.
 */
import { binding } from '../internal/native.js';
import { mpError } from '../internal/errors.js';

const CAPACITY = 12;
const TOP = 13;
const JOURNAL_COUNT = 14;
/** The container's own root words: 15..21. */
export const ROOT = 15;
const FREE = 22;
const CLASSES = 32;
const JOURNAL = 64;
const JOURNAL_MAX = 2048;
/** Where blocks start. */
const HEAP_START = 32768;
/** The size a container is created with; the first growth doubles it. */
export const INITIAL_SIZE = 128 * 1024;
/** Offsets are uint32 and sizes double: a container's file stays within 2 GiB. */
const MAX_SIZE = 2 ** 31;
/** Bytes before a block's payload: the free-list link and the length. */
export const BLOCK_HEADER = 8;

/** The size class of a block whose payload is `length` bytes: its size is 2^(class + 4). */
function classOf(length: number): number {
  return Math.max(4, 32 - Math.clz32(length + BLOCK_HEADER - 1)) - 4;
}

/** The mapped file: views over it, remapped when another process grew it. */
export class Heap {
  u32!: Uint32Array;
  u8!: Uint8Array;
  /** A Buffer over the whole mapping, for `v8.deserialize` and comparisons without copying. */
  bytes!: Buffer;
  #buffer: ArrayBuffer | undefined;
  #mapped = 0;

  /** @param fd a descriptor of the file (kept open by the caller for as long as this heap is used) */
  constructor(readonly fd: number) {
    this.#map(binding.fdSize(fd));
  }

  #map(size: number): void {
    const buffer = binding.map(this.fd, size);
    if (this.#buffer) binding.unmap(this.#buffer);
    this.#buffer = buffer;
    this.#mapped = size;
    this.u32 = new Uint32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.bytes = Buffer.from(buffer);
  }

  /** Holding the lock: follows another process's growth, and finishes an operation a dead process committed. */
  enter(): void {
    const capacity = this.u32[CAPACITY]!;
    if (capacity !== this.#mapped) this.#map(capacity);
    const count = this.u32[JOURNAL_COUNT]!;
    if (count !== 0) this.#apply(count);
  }

  #apply(count: number): void {
    const u32 = this.u32;
    for (let i = 0; i < count; i++) u32[u32[JOURNAL + 2 * i]!] = u32[JOURNAL + 2 * i + 1]!;
    Atomics.store(u32, JOURNAL_COUNT, 0);
  }

  /** Unmaps the views (the caller closes the descriptor). */
  close(): void {
    if (this.#buffer) binding.unmap(this.#buffer);
    this.#buffer = undefined;
  }

  /** Holding the lock: grows the file to hold `end` bytes. */
  #grow(end: number): void {
    let size = this.u32[CAPACITY]!;
    while (size < end) size *= 2;
    if (size > MAX_SIZE) {
      throw mpError('ERR_MP_CONTAINER_FULL', `a shared container holds at most ${MAX_SIZE / 2 ** 30} GiB; this operation needs more`);
    }
    binding.ftruncate(this.fd, size);
    // Not journalled: a larger file is harmless whether or not the operation that grew it commits.
    Atomics.store(this.u32, CAPACITY, size);
    this.#map(size);
  }

  /**
   * Allocates a block for a payload of `length` bytes and sets its length word; returns its offset. The views
   * may be replaced (growth): read `u32`/`u8` again after calling this.
   */
  alloc(txn: Txn, length: number): number {
    const cls = classOf(length);
    const head = txn.read(FREE + cls);
    let block: number;
    if (head !== 0) {
      txn.write(FREE + cls, this.u32[head >>> 2]!);
      block = head;
    } else {
      block = txn.read(TOP);
      const end = block + 2 ** (cls + 4);
      if (end > this.u32[CAPACITY]!) this.#grow(end);
      txn.write(TOP, end);
    }
    this.u32[(block >>> 2) + 1] = length;
    return block;
  }

  /** Allocates a block and copies `payload` into it. */
  store(txn: Txn, payload: Uint8Array): number {
    const block = this.alloc(txn, payload.length);
    this.u8.set(payload, block + BLOCK_HEADER);
    return block;
  }

  /** The payload length of a block. */
  lengthOf(block: number): number {
    return this.u32[(block >>> 2) + 1]!;
  }

  /** A view (no copy) of a block's payload, valid until the lock is released. */
  payload(block: number, from = 0): Buffer {
    const start = block + BLOCK_HEADER;
    return this.bytes.subarray(start + from, start + this.lengthOf(block));
  }

  /** Holding the lock: forgets every block (the container's roots must be cleared in the same Txn). */
  reset(txn: Txn): void {
    txn.write(TOP, HEAP_START);
    for (let cls = 0; cls < CLASSES; cls++) if (txn.read(FREE + cls) !== 0) txn.write(FREE + cls, 0);
  }

  /** Initialises a new container's words (its creator, before publishing it). */
  static initialise(words: Uint32Array): void {
    words[CAPACITY] = INITIAL_SIZE;
    words[TOP] = HEAP_START;
  }
}

/**
 * The stores of one operation to memory that committed state refers to, applied together by `commit()` (see
 * the module comment). Reads through the Txn see its own pending stores.
 */
export class Txn {
  readonly #stores = new Map<number, number>();
  readonly #frees: number[] = [];

  constructor(readonly heap: Heap) {}

  /** A word as this operation sees it. */
  read(word: number): number {
    const pending = this.#stores.get(word);
    return pending === undefined ? this.heap.u32[word]! : pending;
  }

  /** Stores `value` at word index `word` when the operation commits. */
  write(word: number, value: number): void {
    this.#stores.set(word, value);
  }

  /**
   * Frees a block when the operation commits. Not before: until then it is committed data (an old value),
   * and an allocation of this same operation must not reuse it.
   */
  free(block: number): void {
    this.#frees.push(block);
  }

  /** Makes the operation's stores and frees take effect, atomically as seen by every process. */
  commit(): void {
    const { heap } = this;
    for (const block of this.#frees) {
      const head = FREE + classOf(heap.lengthOf(block));
      this.write(block >>> 2, this.read(head));
      this.write(head, block);
    }
    const stores = this.#stores;
    if (stores.size === 0) return;
    if (stores.size > JOURNAL_MAX) throw new Error(`posix-mp: internal error: an operation made ${stores.size} journalled stores`);
    const u32 = heap.u32;
    let at = JOURNAL;
    for (const [word, value] of stores) {
      u32[at++] = word;
      u32[at++] = value;
    }
    Atomics.store(u32, JOURNAL_COUNT, stores.size); // the commit point
    for (const [word, value] of stores) u32[word] = value;
    Atomics.store(u32, JOURNAL_COUNT, 0);
  }
}
