/**
 * Plain data in a compact format of posix-mp's own, written and read in JavaScript: what a queue item or a
 * Connection message that is nothing but plain data becomes (tag PLAIN in queue_items.ts, COMPACT in
 * connection_message.ts) instead of `v8.serialize`, whose fixed cost per call (a serializer object, a new
 * Buffer; the same on the way back) is several times what this format costs for a small value. Everything
 * else still takes the general path (reduction.ts, then `v8.serialize`).
 *
 * Plain data: undefined, null, booleans, numbers, strings, and plain objects (prototype `Object.prototype`)
 * and arrays (prototype `Array.prototype`, no holes, no other own enumerable properties) of plain data, each
 * object reached once (no cycles, no object twice) and at most MAX_DEPTH deep. For anything else (a Date, a
 * Map, a typed array, a bigint, a class instance, a shared object, a function, a symbol, a Proxy),
 * `encodePlain` returns undefined. The round trip is exact: -0, NaN, properties whose value is undefined,
 * property order (own enumerable string keys, as structured clone sends them), strings with lone surrogates.
 *
 * Format: a value is a type byte, then its data (little-endian):
 * - 0 undefined, 1 null, 2 false, 3 true;
 * - 4 an int32 (4 bytes, not -0), 5 a float64 (8 bytes);
 * - 6 an ASCII string: u32 length, its bytes; 7 any other string: u32 length in UTF-16 code units, the code
 *   units (so lone surrogates survive);
 * - 8 a plain object: u32 count, then count times a key (a string value: 6 or 7) and its value;
 * - 9 an array: u32 length, then its elements.
 */
import { types } from 'node:util';

import { mpError } from '../internal/errors.js';

const Type = {
  Undefined: 0,
  Null: 1,
  False: 2,
  True: 3,
  Int32: 4,
  Float64: 5,
  Ascii: 6,
  Utf16: 7,
  Object: 8,
  Array: 9,
} as const;

/** Deepest nesting of objects and arrays the format carries (deeper items take the general path). */
const MAX_DEPTH = 200;
/** Strings up to this length are written and read by a loop in JavaScript, cheaper than a call into C++. */
const SHORT_STRING = 32;
/** Up to this length a string is written as UTF-8 first, which tells whether it is ASCII in the same pass. */
const TRY_UTF8_STRING = 64 * 1024;

// ---- encoding ----

/**
 * Encodings are written one after the other into a pool, and handed out as views of it (no copy): a pool is
 * never written again where it was handed out, so a view stays valid as long as its holder keeps it (an
 * async put holds it until the item is in the ring).
 */
const POOL_SIZE = 64 * 1024;
/** A pool with less room left than this is replaced before the next encoding. */
const POOL_MIN_ROOM = 4 * 1024;

let pool = Buffer.allocUnsafeSlow(POOL_SIZE);
/** Where the encoding under way began. */
let start = 0;
/** Where the next byte goes. */
let at = 0;

/**
 * The objects and arrays of the value under way (one reached twice cannot be encoded: its identity would be
 * lost): the first SEEN_LIST ones in a list, searched in order (a Set's clear() costs more than that for the
 * small items this format is for), any more in a Set too.
 */
const SEEN_LIST = 16;
const seenList: (object | undefined)[] = new Array<object | undefined>(SEEN_LIST).fill(undefined);
let seenCount = 0;
const seenSet = new Set<object>();

/** Records a container of the value under way; false if it was reached before. */
function firstVisit(container: object): boolean {
  if (seenCount < SEEN_LIST) {
    for (let i = 0; i < seenCount; i++) if (seenList[i] === container) return false;
    seenList[seenCount++] = container;
    return true;
  }
  if (seenCount === SEEN_LIST) for (const listed of seenList) seenSet.add(listed!);
  const size = seenSet.size;
  seenSet.add(container);
  seenCount++;
  return seenSet.size !== size;
}

/** Forgets the containers of the value just encoded (holding them would keep them alive). */
function forgetVisits(): void {
  for (let i = 0; i < seenCount && i < SEEN_LIST; i++) seenList[i] = undefined;
  if (seenCount > SEEN_LIST) seenSet.clear();
  seenCount = 0;
}

/**
 * `value` encoded, if it is plain data (see the module comment), else undefined. The bytes are a view of a
 * pool that is never written again where they are.
 */
export function encodePlain(value: unknown): Uint8Array | undefined {
  at = start;
  let bytes: Uint8Array | undefined;
  try {
    if (writeValue(value, 0)) {
      // A plain Uint8Array: a Buffer view (subarray) costs more to make.
      bytes = new Uint8Array(pool.buffer, pool.byteOffset + start, at - start);
      start = at;
    }
  } finally {
    forgetVisits();
    if (pool.length - start < POOL_MIN_ROOM || pool.length > POOL_SIZE) {
      // A pool grown for one large value is not kept (also when that value was not plain after all): it
      // would hold that much memory until filled.
      pool = Buffer.allocUnsafeSlow(POOL_SIZE);
      start = 0;
    }
  }
  return bytes;
}

/** Makes room for `n` more bytes, moving the encoding under way to a new pool if needed. */
function ensure(n: number): void {
  if (at + n <= pool.length) return;
  const used = at - start;
  const grown = Buffer.allocUnsafeSlow(Math.max(POOL_SIZE, 2 * (used + n)));
  pool.copy(grown, 0, start, at);
  pool = grown;
  start = 0;
  at = used;
}

/** Writes a type byte and a u32 at `at` (the caller has made room). */
function writeHead(type: number, n: number): void {
  // Locals: the module's variables are slower to read and write again and again.
  const b = pool;
  const h = at;
  b[h] = type;
  b[h + 1] = n;
  b[h + 2] = n >>> 8;
  b[h + 3] = n >>> 16;
  b[h + 4] = n >>> 24;
  at = h + 5;
}

function writeValue(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'number':
      writeNumber(value);
      return true;
    case 'string':
      writeString(value);
      return true;
    case 'boolean':
      ensure(1);
      pool[at++] = value ? Type.True : Type.False;
      return true;
    case 'undefined':
      ensure(1);
      pool[at++] = Type.Undefined;
      return true;
    case 'object':
      if (value === null) {
        ensure(1);
        pool[at++] = Type.Null;
        return true;
      }
      return writeContainer(value, depth);
    default:
      return false;
  }
}

function writeNumber(x: number): void {
  ensure(9);
  if ((x | 0) === x && (x !== 0 || 1 / x > 0)) {
    writeHead(Type.Int32, x);
  } else {
    pool[at] = Type.Float64;
    pool.writeDoubleLE(x, at + 1);
    at += 9;
  }
}

function writeString(s: string): void {
  const n = s.length;
  if (n <= SHORT_STRING) {
    ensure(5 + 2 * n);
    const b = pool;
    const data = at + 5;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      b[data + i] = c;
    }
    if (i === n) {
      writeHead(Type.Ascii, n);
      at += n;
      return;
    }
  } else if (n <= TRY_UTF8_STRING) {
    // As UTF-8, an ASCII string takes one byte per code unit, any other more.
    ensure(5 + 3 * n);
    if (pool.write(s, at + 5, 3 * n, 'utf8') === n) {
      writeHead(Type.Ascii, n);
      at += n;
      return;
    }
  } else if (Buffer.byteLength(s, 'utf8') === n) {
    ensure(5 + n);
    pool.write(s, at + 5, n, 'latin1');
    writeHead(Type.Ascii, n);
    at += n;
    return;
  }
  ensure(5 + 2 * n);
  writeHead(Type.Utf16, n);
  at += pool.write(s, at, 2 * n, 'utf16le');
}

function writeContainer(value: object, depth: number): boolean {
  if (depth === MAX_DEPTH || types.isProxy(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype) {
    if (!firstVisit(value)) return false;
    const keys = Object.keys(value);
    ensure(5);
    writeHead(Type.Object, keys.length);
    for (const key of keys) {
      writeString(key);
      if (!writeValue((value as Record<string, unknown>)[key], depth + 1)) return false;
    }
    return true;
  }
  if (proto === Array.prototype && Array.isArray(value)) {
    if (!firstVisit(value)) return false;
    const array = value as unknown[];
    const n = array.length;
    ensure(5);
    writeHead(Type.Array, n);
    for (let i = 0; i < n; i++) {
      const element = array[i];
      if (element === undefined && !(i in array)) return false;
      if (!writeValue(element, depth + 1)) return false;
    }
    // Without holes, any other own enumerable property makes more keys than elements.
    return Object.keys(array).length === n;
  }
  return false;
}

/**
 * Whether a string has no lone surrogate, so that UTF-8 holds it (channels that send strings as UTF-8 send
 * the others in this format). `isWellFormed` is Node 20's; the regular expression does it before.
 */
export const wellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !/\p{Cs}/u.test(s);

// ---- decoding ----

const EMPTY = Buffer.alloc(0);
/** The bytes being decoded (EMPTY between calls: a view of shared memory is not kept), and where the next value starts. */
let source: Buffer = EMPTY;
let pos = 0;

/**
 * Short ASCII strings read before (object keys, mostly), by a hash of their bytes: a hit costs a comparison
 * instead of a new string, and gives the same string object each time, which V8 finds faster as a key.
 */
const STRING_CACHE_SIZE = 1024;
const stringCache: (string | undefined)[] = new Array<string | undefined>(STRING_CACHE_SIZE).fill(undefined);

/** Decodes what {@link encodePlain} made. `bytes` may be a view of shared memory: nothing keeps it. */
export function decodePlain(bytes: Uint8Array): unknown {
  source = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  pos = 0;
  try {
    const value = readValue(0);
    if (pos !== source.length) throw malformed();
    return value;
  } finally {
    source = EMPTY;
  }
}

function malformed(): Error {
  return mpError('ERR_MP_PROTOCOL', 'a plain-data item is malformed');
}

/** Checks that `n` more bytes are there. */
function need(n: number): void {
  if (pos + n > source.length) throw malformed();
}

function readU32(): number {
  need(4);
  const b = source;
  const n = (b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16) | (b[pos + 3]! << 24)) >>> 0;
  pos += 4;
  return n;
}

function readValue(depth: number): unknown {
  need(1);
  const type = source[pos++];
  switch (type) {
    case Type.Undefined:
      return undefined;
    case Type.Null:
      return null;
    case Type.False:
      return false;
    case Type.True:
      return true;
    case Type.Int32:
      return readU32() | 0;
    case Type.Float64: {
      need(8);
      const x = source.readDoubleLE(pos);
      pos += 8;
      return x;
    }
    case Type.Ascii:
      return readAscii(readU32());
    case Type.Utf16: {
      const n = readU32();
      need(2 * n);
      const s = source.toString('utf16le', pos, pos + 2 * n);
      pos += 2 * n;
      return s;
    }
    case Type.Object: {
      if (depth === MAX_DEPTH) throw malformed();
      const count = readU32();
      const object: Record<string, unknown> = {};
      for (let i = 0; i < count; i++) {
        const key = readValue(MAX_DEPTH);
        if (typeof key !== 'string') throw malformed();
        const value = readValue(depth + 1);
        // A key "__proto__" is an own property, as structured clone makes it (an assignment would set the prototype).
        if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
        else object[key] = value;
      }
      return object;
    }
    case Type.Array: {
      if (depth === MAX_DEPTH) throw malformed();
      const n = readU32();
      // Each element takes at least one byte: a bad length fails here, not in a huge allocation.
      need(n);
      const array: unknown[] = [];
      for (let i = 0; i < n; i++) array.push(readValue(depth + 1));
      return array;
    }
    default:
      throw malformed();
  }
}

function readAscii(n: number): string {
  need(n);
  const b = source;
  if (n > SHORT_STRING) {
    const s = b.toString('latin1', pos, pos + n);
    pos += n;
    return s;
  }
  let hash = n;
  for (let i = 0; i < n; i++) hash = (Math.imul(hash, 31) + b[pos + i]!) | 0;
  const slot = hash & (STRING_CACHE_SIZE - 1);
  const cached = stringCache[slot];
  if (cached !== undefined && cached.length === n) {
    let i = 0;
    while (i < n && cached.charCodeAt(i) === b[pos + i]) i++;
    if (i === n) {
      pos += n;
      return cached;
    }
  }
  const s = b.toString('latin1', pos, pos + n);
  stringCache[slot] = s;
  pos += n;
  return s;
}
