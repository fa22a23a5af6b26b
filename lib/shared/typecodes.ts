/**
 * The element types of Value and Array: Python's typecodes, with the C types they have on Linux 64-bit, and
 * the checks every write goes through (Python's ctypes wraps silently — `Value('b', 200)` reads -56 — but a
 * Node API rejects bad input, so an out-of-range write throws instead).
 *
 * JavaScript forms: `b B h H i I f d` are numbers; `l L q Q` (64-bit, `long` being 64-bit on Linux x86-64 and
 * arm64) read as BigInt and accept a bigint or a safe-integer number; `c` (one C `char`, Python's
 * `bytes` of length 1) reads as a one-character latin1 string (`'a'`, `'\xff'`, `'\0'`) and accepts such
 * a string or a byte number 0..255, so a `Buffer` works wherever a list of chars does.
 */
import { invalidArgType, invalidArgValue, outOfRange } from '../internal/errors.js';

/** Python's typecodes: the C type of a Value or of an Array's elements. */
export type Typecode = 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' | 'f' | 'd' | 'c';

/** The 64-bit typecodes, whose elements are BigInts. */
export type BigIntTypecode = 'l' | 'L' | 'q' | 'Q';

/** What an element of any typecode reads as. */
export type Element = number | bigint | string;

/** What an element of typecode `C` reads as. */
export type ElementOf<C extends Typecode> = C extends BigIntTypecode ? bigint : C extends 'c' ? string : number;

/** What a write to an element of typecode `C` accepts. */
export type InputOf<C extends Typecode> = C extends BigIntTypecode
  ? bigint | number
  : C extends 'c'
    ? string | number
    : number;

/** What a write to an element that reads as `T` accepts. */
export type InputFor<T extends Element> = T extends bigint ? bigint | number : T extends string ? string | number : T;

/** Every TypedArray a Value or Array may be viewed through. */
export type AnyView =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** The zero-copy view of elements that read as `T` (`c` elements are the bytes of a Uint8Array). */
export type ViewFor<T extends Element> = T extends bigint
  ? BigInt64Array | BigUint64Array
  : T extends string
    ? Uint8Array
    : Exclude<AnyView, BigInt64Array | BigUint64Array>;

type ViewConstructor = new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => AnyView;

/** How one typecode is stored and checked. */
export interface TypeInfo {
  readonly typecode: Typecode;
  /** The typecode's character code: what header.param[0] holds. */
  readonly charCode: number;
  /** sizeof the C type. */
  readonly bytes: number;
  readonly View: ViewConstructor;
  /** Whether elements are `c` chars, stored as bytes and read as one-character strings. */
  readonly char: boolean;
  /** What a new element holds. */
  readonly zero: number | bigint;
  /** Checks a value to be written and returns what the view stores; `name` names it in errors. */
  readonly encode: (value: unknown, name: string) => number | bigint;
}

/** The TypeInfo of `typecode`, checking writes with `encode`. */
function typeOf(typecode: Typecode, bytes: number, View: ViewConstructor, zero: number | bigint, encode: TypeInfo['encode']): TypeInfo {
  return { typecode, charCode: typecode.charCodeAt(0), bytes, View, char: typecode === 'c', zero, encode };
}

function integer(typecode: Typecode, bytes: number, View: ViewConstructor, min: number, max: number): TypeInfo {
  return typeOf(typecode, bytes, View, 0, (value, name) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  });
}

function bigInteger(typecode: Typecode, View: ViewConstructor, min: bigint, max: bigint): TypeInfo {
  return typeOf(typecode, 8, View, 0n, (value, name) => {
    if (typeof value === 'bigint') {
      if (value >= min && value <= max) return value;
      throw outOfRange(name, `>= ${min}n and <= ${max}n`, value);
    }
    if (typeof value === 'number') {
      // Beyond 2^53 a number may already have lost digits: insist on a BigInt there.
      if (Number.isSafeInteger(value) && value >= min) return BigInt(value);
      throw outOfRange(name, `a safe integer >= ${min < 0n ? Number.MIN_SAFE_INTEGER : 0} (or a bigint)`, value);
    }
    throw invalidArgType(name, 'of type bigint or number', value);
  });
}

// Any number, NaN and ±Infinity included; a double too large for 'f' becomes ±Infinity, as in C and Python.
function float(typecode: Typecode, bytes: number, View: ViewConstructor): TypeInfo {
  return typeOf(typecode, bytes, View, 0, (value, name) => {
    if (typeof value === 'number') return value;
    throw invalidArgType(name, 'of type number', value);
  });
}

const CHAR = typeOf('c', 1, Uint8Array, 0, (value, name) => {
  if (typeof value === 'string') {
    if (value.length === 1 && value.charCodeAt(0) <= 0xff) return value.charCodeAt(0);
    throw invalidArgValue(name, value, 'must be a single latin1 character (char code 0..255)');
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 0xff) return value;
    throw outOfRange(name, 'a byte: an integer >= 0 and <= 255', value);
  }
  throw invalidArgType(name, 'a one-character string or a byte number', value);
});

const TYPES: Readonly<Record<Typecode, TypeInfo>> = {
  b: integer('b', 1, Int8Array, -0x80, 0x7f),
  B: integer('B', 1, Uint8Array, 0, 0xff),
  h: integer('h', 2, Int16Array, -0x8000, 0x7fff),
  H: integer('H', 2, Uint16Array, 0, 0xffff),
  i: integer('i', 4, Int32Array, -0x80000000, 0x7fffffff),
  I: integer('I', 4, Uint32Array, 0, 0xffffffff),
  l: bigInteger('l', BigInt64Array, -(2n ** 63n), 2n ** 63n - 1n),
  L: bigInteger('L', BigUint64Array, 0n, 2n ** 64n - 1n),
  q: bigInteger('q', BigInt64Array, -(2n ** 63n), 2n ** 63n - 1n),
  Q: bigInteger('Q', BigUint64Array, 0n, 2n ** 64n - 1n),
  f: float('f', 4, Float32Array),
  d: float('d', 8, Float64Array),
  c: CHAR,
};

/** The one-character strings of the bytes 0..255: reading a `c` element allocates nothing. */
export const CHARS: readonly string[] = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i));

/** Checks a user-supplied typecode. @internal */
export function typeInfo(typecode: unknown, name = 'typecode'): TypeInfo {
  if (typeof typecode !== 'string') throw invalidArgType(name, 'of type string', typecode);
  const info = Object.hasOwn(TYPES, typecode) ? TYPES[typecode as Typecode] : undefined;
  if (!info) throw invalidArgValue(name, typecode, `must be one of ${Object.keys(TYPES).join(' ')}`);
  return info;
}

/** The typecode stored in an object's header (param[0]), or undefined if it is not one. @internal */
export function typeInfoOfCharCode(charCode: number): TypeInfo | undefined {
  const typecode = String.fromCharCode(charCode);
  return Object.hasOwn(TYPES, typecode) ? TYPES[typecode as Typecode] : undefined;
}

/** Converts what a view holds to the element's JS form. @internal */
export function decode(info: TypeInfo, raw: number | bigint): Element {
  return info.char ? CHARS[raw as number]! : raw;
}
