/**
 * SharedList: Python's `manager.list()` as a list in shared memory (heap.ts). Its roots are the length, the
 * index block (one uint32 block offset per item, in order) and the index's capacity; each item is a block
 * holding its stored form (values.ts). Appending writes the item and the slot past the end, then commits the
 * new length; an operation that reorders items (insert, pop from the middle, remove, sort) writes a new
 * index and commits its offset.
 */
import { mpError, outOfRange, invalidArgType } from '../internal/errors.js';
import { validateInteger } from '../internal/validate.js';
import { RECEIVED } from '../comm/reduction.js';
import { registerHandle } from '../shared/handle.js';
import { openExisting, type NameOptions } from '../shared/names.js';
import { Kind } from '../shared/segment.js';
import { BLOCK_HEADER, ROOT, type Txn } from './heap.js';
import { revived, SharedContainer, type AsyncForms } from './container.js';
import { encodeValue, readValue, settle } from './values.js';

const LENGTH = ROOT;
const INDEX = ROOT + 1;
const INDEX_CAPACITY = ROOT + 2;
/** Counts the operations that changed the list: sort() commits its order only if none came in between. */
const VERSION = ROOT + 6;

/** The largest index a list can hold (a 2 GiB file of 4-byte slots can hold no more). */
const MAX_INDEX = 2 ** 29;

/** Python's ordering for sort() without a comparator: numbers by value, strings by code units. */
function defaultCompare(a: unknown, b: unknown): number {
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function encodeAll(items: unknown, name: string): Buffer[] {
  if (items === null || typeof items !== 'object' || !(Symbol.iterator in items)) {
    throw invalidArgType(name, 'an iterable', items);
  }
  const encoded: Buffer[] = [];
  for (const item of items as Iterable<unknown>) encoded.push(encodeValue(item, `${name}[${encoded.length}]`));
  return encoded;
}

/** A SharedList's operations that have an async form, with their number of parameters (0 for `length`). */
const ASYNC_FORMS = {
  length: 0,
  append: 1,
  extend: 1,
  insert: 2,
  pop: 1,
  remove: 1,
  index: 1,
  count: 1,
  get: 1,
  set: 2,
  slice: 2,
  toArray: 0,
  clear: 0,
  sort: 1,
} as const;

/**
 * The async form of each operation of a SharedList: `appendAsync(x, options?)`, `popAsync(i?, options?)`,
 * `lengthAsync(options?)`, ... return a promise of what `append(x)`, `pop(i)`, `length`... give. They wait for
 * the list's lock without blocking the event loop; `options` are `{ timeout?, signal? }` as for every async
 * wait (`ERR_MP_TIMEOUT` after `timeout` ms).
 */
export interface SharedList<T> extends AsyncForms<SharedList<T>, keyof typeof ASYNC_FORMS> {}

/**
 * A list shared by processes (Python's `manager.list()`): every method is one atomic operation, under a lock
 * that a process killed mid-operation hands over with the list intact. Items are stored as Queue items travel:
 * structured-cloneable data, class instances (of exported classes), named shared objects — another
 * container stored in it is a handle to that container. Every operation `x` has an async form `xAsync`.
 */
export class SharedList<T = unknown> extends SharedContainer {
  /**
   * A new list holding `init`'s items. With `options.name` it opens the named list if it exists (leaving its
   * items: `init` applies only to a list this call creates), else creates it; `exclusive: true` only
   * creates (`code: 'EEXIST'`). Without a name it is anonymous: it goes with the processes using it.
   */
  constructor(init?: Iterable<T>, options?: NameOptions) {
    const items = init === undefined ? undefined : encodeAll(init, 'init');
    super('SharedList', Kind.List, options);
    if (items && this.created) this.locked((txn) => this.#push(txn, items));
  }

  /** Opens an existing named list (`code: 'ENOENT'` if there is none). */
  static open<T = unknown>(name: string): SharedList<T> {
    return new SharedList<T>(undefined, openExisting(name));
  }

  static {
    this.asyncForms(ASYNC_FORMS);
    registerHandle('SharedList', SharedList, (d) =>
      d.memory ? new SharedList(undefined, { [RECEIVED]: d } as NameOptions) : revived(d.name, SharedList.open),
    );
  }

  /** The number of items. */
  get length(): number {
    return this.locked((txn) => txn.read(LENGTH));
  }

  /** Adds `x` at the end. */
  append(x: T): void {
    const bytes = encodeValue(x, 'x');
    this.locked((txn) => this.#push(txn, [bytes]));
  }

  /** Adds every item of `xs` at the end, in one atomic operation. */
  extend(xs: Iterable<T>): void {
    const items = encodeAll(xs, 'xs');
    this.locked((txn) => this.#push(txn, items));
  }

  /** Inserts `x` before index `i` (negative counts from the end; beyond either end inserts there). */
  insert(i: number, x: T): void {
    validateInteger(i, 'i', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const bytes = encodeValue(x, 'x');
    this.locked((txn) => {
      const n = txn.read(LENGTH);
      const at = i < 0 ? Math.max(0, i + n) : Math.min(i, n);
      if (at === n) return this.#push(txn, [bytes]);
      const records = this.#records(txn);
      records.splice(at, 0, this.heap.store(txn, bytes));
      this.#reindex(txn, records);
      this.#commit(txn);
    });
  }

  /** Removes and returns the item at `i` (default the last). RangeError `ERR_OUT_OF_RANGE` if there is none. */
  pop(i = -1): T {
    validateInteger(i, 'i', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const value = this.locked((txn) => {
      const n = txn.read(LENGTH);
      const at = this.#at(i, n);
      const record = this.#slot(txn, at);
      const value = readValue(this.heap.payload(record));
      if (at === n - 1) txn.write(LENGTH, n - 1);
      else {
        const records = this.#records(txn);
        records.splice(at, 1);
        this.#reindex(txn, records);
      }
      txn.free(record);
      this.#commit(txn);
      return value;
    });
    return settle(value);
  }

  /** Removes the first item equal to `x` (see `index`); `ERR_MP_NOT_FOUND` if none is. */
  remove(x: T): void {
    const bytes = encodeValue(x, 'x');
    this.locked((txn) => {
      const records = this.#records(txn);
      const at = records.findIndex((r) => this.heap.payload(r).equals(bytes));
      if (at < 0) throw mpError('ERR_MP_NOT_FOUND', 'SharedList.remove(x): x is not in the list');
      const [record] = records.splice(at, 1);
      this.#reindex(txn, records);
      txn.free(record!);
      this.#commit(txn);
    });
  }

  /**
   * The index of the first item equal to `x`: stored in the same form (the same data, in the same
   * structure, with properties in the same order), as Python compares with `==`. `ERR_MP_NOT_FOUND` if none.
   */
  index(x: T): number {
    const bytes = encodeValue(x, 'x');
    const at = this.locked((txn) => this.#records(txn).findIndex((r) => this.heap.payload(r).equals(bytes)));
    if (at < 0) throw mpError('ERR_MP_NOT_FOUND', 'SharedList.index(x): x is not in the list');
    return at;
  }

  /** How many items are equal to `x` (see `index`). */
  count(x: T): number {
    const bytes = encodeValue(x, 'x');
    return this.locked((txn) => this.#records(txn).filter((r) => this.heap.payload(r).equals(bytes)).length);
  }

  /** The item at `i` (negative counts from the end). RangeError `ERR_OUT_OF_RANGE` if there is none. */
  get(i: number): T {
    validateInteger(i, 'i', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    return settle(this.locked((txn) => readValue(this.heap.payload(this.#slot(txn, this.#at(i, txn.read(LENGTH)))))));
  }

  /** Replaces the item at `i` (negative counts from the end). RangeError `ERR_OUT_OF_RANGE` if there is none. */
  set(i: number, x: T): void {
    validateInteger(i, 'i', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const bytes = encodeValue(x, 'x');
    this.locked((txn) => {
      const at = this.#at(i, txn.read(LENGTH));
      const old = this.#slot(txn, at);
      const record = this.heap.store(txn, bytes);
      txn.write(this.#slotWord(txn) + at, record);
      txn.free(old);
      this.#commit(txn);
    });
  }

  /** A copy of the items from `start` to before `end` (as Array.prototype.slice: negatives count from the end). */
  slice(start?: number, end?: number): T[] {
    if (start !== undefined) validateInteger(start, 'start', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    if (end !== undefined) validateInteger(end, 'end', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const values = this.locked((txn) => this.#records(txn).slice(start, end).map((r) => readValue(this.heap.payload(r))));
    return values.map((value) => settle<T>(value));
  }

  /** A copy of every item, taken in one atomic operation. */
  toArray(): T[] {
    return this.slice();
  }

  /** Removes every item. */
  clear(): void {
    this.locked((txn) => {
      this.heap.reset(txn);
      txn.write(LENGTH, 0);
      txn.write(INDEX, 0);
      txn.write(INDEX_CAPACITY, 0);
      this.#commit(txn);
    });
  }

  /**
   * Sorts the list in place, by `compare` (as Array.prototype.sort's), else numbers and strings by `<`, as
   * Python sorts. The items are read and sorted without holding the lock (`compare` may take its time, or use
   * other containers); the new order is committed only if the list did not change meanwhile — else it sorts
   * again.
   */
  sort(compare?: (a: T, b: T) => number): void {
    if (compare !== undefined && typeof compare !== 'function') throw invalidArgType('compare', 'of type function', compare);
    const order = compare ?? defaultCompare;
    for (;;) {
      const seen = this.locked((txn) => {
        const records = this.#records(txn);
        return { version: txn.read(VERSION), records, values: records.map((r) => readValue(this.heap.payload(r))) };
      });
      const items = seen.records.map((record, i) => ({ record, value: settle<T>(seen.values[i]) }));
      items.sort((a, b) => order(a.value, b.value));
      // Restartable: an async form that finds the lock busy here sorts again once it is free.
      const done = this.locked((txn) => {
        if (txn.read(VERSION) !== seen.version) return false;
        this.#reindex(
          txn,
          items.map((item) => item.record),
        );
        this.#commit(txn);
        return true;
      }, true);
      if (done) return;
    }
  }

  /** Iterates over a copy of the items (`toArray()`). */
  [Symbol.iterator](): Iterator<T> {
    return this.toArray()[Symbol.iterator]();
  }

  /** `for await`: iterates over a copy of the items taken by `toArrayAsync()`. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    yield* await this.toArrayAsync();
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { length: this.length };
  }

  /** Commits an operation that changed the list. */
  #commit(txn: Txn): void {
    txn.write(VERSION, (txn.read(VERSION) + 1) >>> 0);
    txn.commit();
  }

  /** The word index of slot 0 of the index, as `txn` sees it. */
  #slotWord(txn: Txn): number {
    return (txn.read(INDEX) + BLOCK_HEADER) >>> 2;
  }

  #slot(txn: Txn, at: number): number {
    return this.heap.u32[this.#slotWord(txn) + at]!;
  }

  /** `i` as an index of a list of `n` items; throws if there is no such item. */
  #at(i: number, n: number): number {
    const at = i < 0 ? i + n : i;
    if (at < 0 || at >= n) {
      throw n === 0 ? outOfRange('i', 'the index of an item, but the list is empty', i) : outOfRange('i', `>= ${-n} and < ${n}`, i);
    }
    return at;
  }

  /** A copy of the item blocks' offsets, in order. */
  #records(txn: Txn): number[] {
    const first = this.#slotWord(txn);
    return Array.from(this.heap.u32.subarray(first, first + txn.read(LENGTH)));
  }

  /** Appends stored items (each written before the commit that makes them part of the list), and commits. */
  #push(txn: Txn, items: Buffer[]): void {
    const n = txn.read(LENGTH);
    const length = n + items.length;
    if (length > MAX_INDEX) throw mpError('ERR_MP_CONTAINER_FULL', `a SharedList holds at most ${MAX_INDEX} items`);
    if (length > txn.read(INDEX_CAPACITY)) this.#reindex(txn, this.#records(txn), length);
    const first = this.#slotWord(txn);
    for (let i = 0; i < items.length; i++) {
      const record = this.heap.store(txn, items[i]!);
      // Past the committed length: no committed state refers to this slot yet.
      this.heap.u32[first + n + i] = record;
    }
    txn.write(LENGTH, length);
    this.#commit(txn);
  }

  /** Replaces the index by a new one holding `records` (room for at least `room` items); the old one is freed. */
  #reindex(txn: Txn, records: number[], room = records.length): void {
    const current = txn.read(INDEX_CAPACITY);
    const capacity = room <= current ? current : Math.min(MAX_INDEX, Math.max(8, room, current * 2));
    const old = txn.read(INDEX);
    const block = this.heap.alloc(txn, capacity * 4);
    this.heap.u32.set(records, (block + BLOCK_HEADER) >>> 2);
    txn.write(INDEX, block);
    txn.write(INDEX_CAPACITY, capacity);
    txn.write(LENGTH, records.length);
    if (old !== 0) txn.free(old);
  }
}
