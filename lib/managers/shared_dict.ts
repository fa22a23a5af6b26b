/**
 * SharedDict: Python's `manager.dict()` as a dict in shared memory (heap.ts), laid out as CPython's compact
 * dict: an entries block (one uint32 record offset per entry, in insertion order; 0 for a deleted entry) and
 * a hash table of (hash, entry + 1) pairs, open addressing with linear probing (0: empty slot, 0xffffffff:
 * deleted). A record holds the key's hash, the key's length, the key, then the value's stored form
 * (values.ts). The table has twice as many slots as there are entries, so probing always ends; when the
 * entries are used up, a new entries block and table holding only the live entries replace the old ones in
 * one commit.
 */
import { invalidArgType, mpError } from '../internal/errors.js';
import { RECEIVED } from '../comm/reduction.js';
import { registerHandle } from '../shared/handle.js';
import { openExisting, type NameOptions } from '../shared/names.js';
import { Kind } from '../shared/segment.js';
import { BLOCK_HEADER, ROOT, Txn } from './heap.js';
import { revived, SharedContainer, type AsyncForms } from './container.js';
import { encodeValue, readValue, settle } from './values.js';

const COUNT = ROOT;
const ENTRIES = ROOT + 1;
const ENTRIES_CAPACITY = ROOT + 2;
const USED = ROOT + 3;
const TABLE = ROOT + 4;
const TABLE_SLOTS = ROOT + 5;
const DELETED = 0xffffffff;
/** Bytes of a record before its key: the hash and the key's length. */
const RECORD_HEADER = 8;
/** The most entries a dict can hold (its table must fit a 2 GiB file). */
const MAX_ENTRIES = 2 ** 26;

const STRING_KEY = 0x73;
const NUMBER_KEY = 0x6e;

/** The keys a SharedDict takes: strings and numbers (compared as Map compares them: -0 is 0, NaN is NaN). */
export type DictKey = string | number;

function encodeKey(key: unknown): Buffer {
  if (typeof key === 'string') {
    const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(key));
    bytes[0] = STRING_KEY;
    bytes.write(key, 1);
    return bytes;
  }
  if (typeof key === 'number') {
    const bytes = Buffer.allocUnsafe(9);
    bytes[0] = NUMBER_KEY;
    bytes.writeDoubleLE(key === 0 ? 0 : Number.isNaN(key) ? NaN : key, 1);
    return bytes;
  }
  throw invalidArgType('key', 'of type string or number', key);
}

/** FNV-1a. */
function hashOf(key: Buffer): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key[i]!, 0x01000193);
  return hash >>> 0;
}

/** The smallest power of two >= n. */
function powerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** (32 - Math.clz32(n - 1));
}

/** What `update()` takes: a Map, an iterable of [key, value] pairs, or an object's own enumerable properties. */
export type DictUpdate<V> = Map<DictKey, V> | Iterable<readonly [DictKey, V]> | Record<string, V>;

function encodeEntries(source: unknown, name: string): Array<[Buffer, number, Buffer]> {
  if (source === null || typeof source !== 'object') throw invalidArgType(name, 'a Map, an iterable of [key, value] or an object', source);
  const pairs: Iterable<readonly [unknown, unknown]> =
    Symbol.iterator in source ? (source as Iterable<readonly [unknown, unknown]>) : Object.entries(source);
  const encoded: Array<[Buffer, number, Buffer]> = [];
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) throw invalidArgType(`${name} entries`, 'a [key, value] pair', pair);
    const key = encodeKey(pair[0]);
    encoded.push([key, hashOf(key), encodeValue(pair[1], `${name}.get(${JSON.stringify(pair[0])})`)]);
  }
  return encoded;
}

/** A SharedDict's operations that have an async form, with their number of parameters (0 for `size`). */
const ASYNC_FORMS = {
  size: 0,
  get: 1,
  set: 2,
  has: 1,
  delete: 1,
  pop: 2,
  setdefault: 2,
  update: 1,
  keys: 0,
  values: 0,
  entries: 0,
  clear: 0,
  toObject: 0,
} as const;

/**
 * The async form of each operation of a SharedDict: `getAsync(k, options?)`, `setAsync(k, v, options?)`,
 * `popAsync(k, dflt?, options?)`, `sizeAsync(options?)`, ... return a promise of what `get(k)`, `set(k, v)`,
 * `pop(k, dflt)`, `size`... give. They wait for the dict's lock without blocking the event loop; `options` are
 * `{ timeout?, signal? }` as for every async wait (`ERR_MP_TIMEOUT` after `timeout` ms).
 */
export interface SharedDict<V> extends AsyncForms<SharedDict<V>, keyof typeof ASYNC_FORMS> {}

/**
 * A dict shared by processes (Python's `manager.dict()`), keyed by strings and numbers, in insertion order:
 * every method is one atomic operation, under a lock that a process killed mid-operation hands over with the
 * dict intact. Values are stored as Queue items travel (see SharedList); a container stored in it is a
 * handle to that container, so a dict of lists works as in Python. Every operation `x` has an async form
 * `xAsync`.
 */
export class SharedDict<V = unknown> extends SharedContainer {
  /**
   * A new dict holding `init`'s entries. With `options.name` it opens the named dict if it exists (leaving its
   * entries: `init` applies only to a dict this call creates), else creates it; `exclusive: true` only
   * creates (`code: 'EEXIST'`). Without a name it is anonymous: it goes with the processes using it.
   */
  constructor(init?: DictUpdate<V>, options?: NameOptions) {
    const entries = init === undefined ? undefined : encodeEntries(init, 'init');
    super('SharedDict', Kind.Dict, options);
    if (entries && this.created) this.locked(() => this.#putAll(entries));
  }

  /** Opens an existing named dict (`code: 'ENOENT'` if there is none). */
  static open<V = unknown>(name: string): SharedDict<V> {
    return new SharedDict<V>(undefined, openExisting(name));
  }

  static {
    this.asyncForms(ASYNC_FORMS);
    registerHandle('SharedDict', SharedDict, (d) =>
      d.memory ? new SharedDict(undefined, { [RECEIVED]: d } as NameOptions) : revived(d.name, SharedDict.open),
    );
  }

  /** The number of entries. */
  get size(): number {
    return this.locked((txn) => txn.read(COUNT));
  }

  /** The value of `key`, or undefined if there is none. */
  get(key: DictKey): V | undefined {
    const bytes = encodeKey(key);
    const hash = hashOf(bytes);
    return settle(
      this.locked(() => {
        const slot = this.#find(bytes, hash);
        return slot < 0 ? undefined : this.#value(this.#recordAt(slot));
      }),
    );
  }

  /** Sets `key` to `value`. Returns the dict. */
  set(key: DictKey, value: V): this {
    const bytes = encodeKey(key);
    const stored = encodeValue(value, `value`);
    this.locked((txn) => this.#put(txn, bytes, hashOf(bytes), stored));
    return this;
  }

  /** Whether `key` has a value. */
  has(key: DictKey): boolean {
    const bytes = encodeKey(key);
    const hash = hashOf(bytes);
    return this.locked(() => this.#find(bytes, hash) >= 0);
  }

  /** Removes `key`; returns whether it was there. */
  delete(key: DictKey): boolean {
    const bytes = encodeKey(key);
    const hash = hashOf(bytes);
    return this.locked((txn) => {
      const slot = this.#find(bytes, hash);
      if (slot < 0) return false;
      this.#remove(txn, slot);
      return true;
    });
  }

  /** Removes `key` and returns its value; without one, returns `dflt` if given, else throws `ERR_MP_NOT_FOUND`. */
  pop(key: DictKey, ...dflt: [V?]): V {
    const bytes = encodeKey(key);
    const hash = hashOf(bytes);
    const value = this.locked((txn) => {
      const slot = this.#find(bytes, hash);
      if (slot < 0) {
        if (dflt.length > 0) return dflt[0];
        throw mpError('ERR_MP_NOT_FOUND', `SharedDict.pop(key): no key ${JSON.stringify(key)}`);
      }
      const value = this.#value(this.#recordAt(slot));
      this.#remove(txn, slot);
      return value;
    });
    return settle(value);
  }

  /** The value of `key`; if it has none, sets it to `value` and returns that — in one atomic operation. */
  setdefault(key: DictKey, value: V): V {
    const bytes = encodeKey(key);
    const hash = hashOf(bytes);
    const stored = encodeValue(value, 'value');
    return settle(
      this.locked((txn) => {
        const slot = this.#find(bytes, hash);
        if (slot >= 0) return this.#value(this.#recordAt(slot));
        this.#put(txn, bytes, hash, stored);
        return value;
      }),
    );
  }

  /** Sets every entry of `source` (a Map, [key, value] pairs, or an object's own properties), holding the lock once. */
  update(source: DictUpdate<V>): void {
    const entries = encodeEntries(source, 'source');
    this.locked(() => this.#putAll(entries));
  }

  /** The keys, in insertion order (a copy). */
  keys(): DictKey[] {
    return this.locked(() => this.#records().map((r) => this.#key(r)));
  }

  /** The values, in insertion order (a copy). */
  values(): V[] {
    return this.locked(() => this.#records().map((r) => this.#value(r))).map((value) => settle<V>(value));
  }

  /** The [key, value] pairs, in insertion order (a copy taken in one atomic operation). */
  entries(): Array<[DictKey, V]> {
    const entries = this.locked(() => this.#records().map((r) => [this.#key(r), this.#value(r)] as const));
    return entries.map(([key, value]) => [key, settle<V>(value)]);
  }

  /** Removes every entry. */
  clear(): void {
    this.locked((txn) => {
      this.heap.reset(txn);
      for (const word of [COUNT, ENTRIES, ENTRIES_CAPACITY, USED, TABLE, TABLE_SLOTS]) txn.write(word, 0);
      txn.commit();
    });
  }

  /** The entries as a plain object (number keys become strings), taken in one atomic operation. */
  toObject(): Record<string, V> {
    return Object.fromEntries(this.entries()) as Record<string, V>;
  }

  /** Iterates over a copy of the [key, value] pairs (`entries()`), as a Map does. */
  [Symbol.iterator](): Iterator<[DictKey, V]> {
    return this.entries()[Symbol.iterator]();
  }

  /** `for await`: iterates over a copy of the [key, value] pairs taken by `entriesAsync()`. */
  async *[Symbol.asyncIterator](): AsyncIterator<[DictKey, V]> {
    yield* await this.entriesAsync();
  }

  /** @internal */
  protected override inspectDetails(): Record<string, unknown> {
    return { size: this.size };
  }

  /** The word index of the table's first slot, and of the first entry. */
  #tableWord(txn?: Txn): number {
    return ((txn ? txn.read(TABLE) : this.heap.u32[TABLE]!) + BLOCK_HEADER) >>> 2;
  }

  #entryWord(txn?: Txn): number {
    return ((txn ? txn.read(ENTRIES) : this.heap.u32[ENTRIES]!) + BLOCK_HEADER) >>> 2;
  }

  /** The table slot holding `key`, or -1. Reads committed state. */
  #find(key: Buffer, hash: number): number {
    const u32 = this.heap.u32;
    const slots = u32[TABLE_SLOTS]!;
    if (slots === 0) return -1;
    const table = this.#tableWord();
    const entries = this.#entryWord();
    const mask = slots - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = u32[table + 2 * i + 1]!;
      if (entry === 0) return -1;
      if (entry !== DELETED && u32[table + 2 * i] === hash && this.#keyIs(u32[entries + entry - 1]!, key)) return i;
    }
  }

  #keyIs(record: number, key: Buffer): boolean {
    const data = record + BLOCK_HEADER;
    if (this.heap.u32[(data >>> 2) + 1] !== key.length) return false;
    return this.heap.bytes.subarray(data + RECORD_HEADER, data + RECORD_HEADER + key.length).equals(key);
  }

  #recordAt(slot: number): number {
    const u32 = this.heap.u32;
    return u32[this.#entryWord() + u32[this.#tableWord() + 2 * slot + 1]! - 1]!;
  }

  #key(record: number): DictKey {
    const data = record + BLOCK_HEADER;
    const length = this.heap.u32[(data >>> 2) + 1]!;
    const start = data + RECORD_HEADER;
    const bytes = this.heap.bytes;
    return bytes[start] === STRING_KEY ? bytes.toString('utf8', start + 1, start + length) : bytes.readDoubleLE(start + 1);
  }

  /** Under the lock: the value of a record, for {@link settle} once the lock is released. */
  #value(record: number): unknown {
    return readValue(this.heap.payload(record, RECORD_HEADER + this.heap.u32[((record + BLOCK_HEADER) >>> 2) + 1]!));
  }

  /** The live records, in insertion order. */
  #records(): number[] {
    const u32 = this.heap.u32;
    const first = this.#entryWord();
    const records: number[] = [];
    for (let i = 0, used = u32[USED]!; i < used; i++) {
      const record = u32[first + i]!;
      if (record !== 0) records.push(record);
    }
    return records;
  }

  #putAll(entries: ReadonlyArray<[Buffer, number, Buffer]>): void {
    // One commit per entry: an update far larger than the journal still commits entry by entry.
    for (const [key, hash, value] of entries) this.#put(new Txn(this.heap), key, hash, value);
  }

  /** Sets one entry and commits. */
  #put(txn: Txn, key: Buffer, hash: number, value: Buffer): void {
    const heap = this.heap;
    const slot = this.#find(key, hash);
    const record = heap.alloc(txn, RECORD_HEADER + key.length + value.length);
    const data = record + BLOCK_HEADER;
    heap.u32[data >>> 2] = hash;
    heap.u32[(data >>> 2) + 1] = key.length;
    heap.u8.set(key, data + RECORD_HEADER);
    heap.u8.set(value, data + RECORD_HEADER + key.length);
    if (slot >= 0) {
      const entry = heap.u32[this.#tableWord() + 2 * slot + 1]! - 1;
      txn.write(this.#entryWord() + entry, record);
      txn.free(heap.u32[this.#entryWord() + entry]!);
      txn.commit();
      return;
    }
    const count = txn.read(COUNT);
    if (count >= MAX_ENTRIES) throw mpError('ERR_MP_CONTAINER_FULL', `a SharedDict holds at most ${MAX_ENTRIES} entries`);
    let used = txn.read(USED);
    if (used === txn.read(ENTRIES_CAPACITY)) {
      this.#rebuild(txn, count + 1);
      used = count;
      // The new table is not committed yet: its slot is written directly.
      const free = this.#emptySlot(this.#tableWord(txn), txn.read(TABLE_SLOTS), hash);
      heap.u32[free] = hash;
      heap.u32[free + 1] = used + 1;
    } else {
      const table = this.#tableWord(txn);
      const free = this.#emptySlot(table, txn.read(TABLE_SLOTS), hash, true);
      txn.write(free, hash);
      txn.write(free + 1, used + 1);
    }
    // Past the used entries: no committed state refers to this word yet.
    heap.u32[this.#entryWord(txn) + used] = record;
    txn.write(USED, used + 1);
    txn.write(COUNT, count + 1);
    txn.commit();
  }

  /** The word index of the first free slot (empty, or deleted if `reuseDeleted`) on `hash`'s probe sequence. */
  #emptySlot(table: number, slots: number, hash: number, reuseDeleted = false): number {
    const u32 = this.heap.u32;
    const mask = slots - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = u32[table + 2 * i + 1]!;
      if (entry === 0 || (reuseDeleted && entry === DELETED)) return table + 2 * i;
    }
  }

  /** Replaces entries and table by new ones holding the live entries, with room for `room` entries. */
  #rebuild(txn: Txn, room: number): void {
    const heap = this.heap;
    const records = this.#records();
    const capacity = Math.max(8, powerOfTwo(room * 2));
    const slots = capacity * 2;
    const oldEntries = txn.read(ENTRIES);
    const oldTable = txn.read(TABLE);
    const entries = heap.alloc(txn, capacity * 4);
    const table = heap.alloc(txn, slots * 8);
    const u32 = heap.u32;
    const entryWord = (entries + BLOCK_HEADER) >>> 2;
    const tableWord = (table + BLOCK_HEADER) >>> 2;
    u32.fill(0, tableWord, tableWord + 2 * slots);
    records.forEach((record, i) => {
      u32[entryWord + i] = record;
      const hash = u32[(record + BLOCK_HEADER) >>> 2]!;
      const free = this.#emptySlot(tableWord, slots, hash);
      u32[free] = hash;
      u32[free + 1] = i + 1;
    });
    txn.write(ENTRIES, entries);
    txn.write(ENTRIES_CAPACITY, capacity);
    txn.write(USED, records.length);
    txn.write(TABLE, table);
    txn.write(TABLE_SLOTS, slots);
    if (oldEntries !== 0) txn.free(oldEntries);
    if (oldTable !== 0) txn.free(oldTable);
  }

  /** Deletes the entry in table slot `slot` and commits. */
  #remove(txn: Txn, slot: number): void {
    const table = this.#tableWord();
    const entry = this.heap.u32[table + 2 * slot + 1]! - 1;
    const entryWord = this.#entryWord() + entry;
    txn.free(this.heap.u32[entryWord]!);
    txn.write(table + 2 * slot + 1, DELETED);
    txn.write(entryWord, 0);
    txn.write(COUNT, txn.read(COUNT) - 1);
    txn.commit();
  }
}
