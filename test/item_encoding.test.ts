// Queue items and Connection messages: plain data takes the compact format of lib/comm/plain_codec.ts,
// everything else the general path (reduction, v8.serialize); either way a value arrives exactly as it was
// sent. A table of tricky values goes through real queues and a real Pipe to another process and back, and
// each is checked part by part (-0, NaN, holes, property order, prototypes, lone surrogates, shared
// references, cycles).
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';

import { Pipe, Queue } from 'posix-mp';
import { decodePlain, encodePlain } from '../lib/comm/plain_codec.js';
import { spawnNode, uniqueName, within } from './helpers.js';
import { targetsIn } from './targets.js';

const { start, joined } = targetsIn(new URL('./fixtures/pipe-targets.mjs', import.meta.url), 60_000);

/** One tricky value: what is put, what must arrive (default: the same), and whether it is plain data. */
interface Case {
  label: string;
  value: unknown;
  expected?: unknown;
  plain: boolean;
}

function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { level: value };
  return value;
}

function cases(): Case[] {
  const shared = { x: 1 };
  const cycle: Record<string, unknown> = { name: 'cycle' };
  cycle.self = cycle;
  const arrayCycle: unknown[] = [1];
  arrayCycle.push(arrayCycle);
  const holeAndProperty = [1, , 3] as unknown[] & { extra?: string };
  holeAndProperty.extra = 'x'; // as many keys as elements: only the hole gives it away
  const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
  const hidden = { a: 1, [Symbol('s')]: 2 };
  Object.defineProperty(hidden, 'hidden', { value: 3, enumerable: false });
  return [
    { label: 'int32 bounds', value: [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)], plain: true },
    {
      label: 'doubles: -0, NaN, infinities, beyond int32, extremes',
      value: [-0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, 0.1, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
      plain: true,
    },
    { label: 'undefined', value: undefined, plain: true },
    { label: 'null', value: null, plain: true },
    { label: 'true', value: true, plain: true },
    { label: 'false', value: false, plain: true },
    { label: 'a number', value: -0, plain: true },
    { label: 'a string', value: 'a\ud800b', plain: true },
    {
      label: 'strings: ASCII, Latin-1, BMP, astral, NUL, lone and reversed surrogates, short and long',
      value: ['', 'ascii', 'x'.repeat(32), 'x'.repeat(33), 'café', 'é'.repeat(40), '日本語', '😀 emoji', '\u0000nul', '\x7f\x80\xff', 'a\ud800b', '\udc00', '\udc00\ud800', 'z'.repeat(5000) + '\ud83d'],
      plain: true,
    },
    { label: 'long strings (over 64 Ki code units)', value: ['y'.repeat(70_000), 'é'.repeat(70_000) + '\udfff'], plain: true },
    { label: 'empty object and array', value: [{}, []], plain: true },
    { label: 'properties whose value is undefined', value: { a: undefined, b: [undefined], c: { d: undefined } }, plain: true },
    { label: 'property order, integer-like keys first', value: { b: 1, a: 2, 10: 'ten', 2: 'two', z: 3 }, plain: true },
    {
      label: 'odd keys',
      value: { '': 1, ключ: 2, '😀': 3, '\ud800': 4, ' ': 5, '-1': 6, '1.5': 7, '4294967295': 8, constructor: 9, hasOwnProperty: 10, toString: 11 },
      plain: true,
    },
    { label: 'an own "__proto__" property', value: JSON.parse('{"__proto__": {"x": 1}, "y": 2}'), plain: true },
    { label: 'nesting', value: { a: { b: { c: [1, [2, [3, { d: 'deep' }]]] } } }, plain: true },
    { label: 'nesting 150 deep', value: nested(150), plain: true },
    { label: 'nesting 250 deep (beyond the format: general path)', value: nested(250), plain: false },
    { label: "the benchmark's 1 KB object", value: { id: 7, name: 'item', payload: 'x'.repeat(1000) }, plain: true },
    { label: '100,000 numbers', value: Array.from({ length: 100_000 }, (_, i) => i * 1.5 - 7), plain: true },
    { label: '2,000 small objects', value: Array.from({ length: 2000 }, (_, i) => ({ i, s: `s${i}`, t: i % 3 === 0 })), plain: true },
    { label: 'a getter (its value travels)', value: { get g() { return 5; } }, expected: { g: 5 }, plain: true },
    { label: 'symbol keys and non-enumerable properties stay behind', value: hidden, expected: { a: 1 }, plain: true },
    { label: 'a sparse array', value: [1, , 3], plain: false },
    { label: 'an array of holes', value: new Array(3), plain: false },
    { label: 'an array with a property', value: Object.assign([1, 2], { extra: 'x' }), plain: false },
    { label: 'an empty array with a property', value: Object.assign([], { extra: 1 }), plain: false },
    { label: 'an array with a hole and a property', value: holeAndProperty, plain: false },
    {
      label: 'a sparse array of non-plain values with a property',
      value: Object.assign([new Date(0), , { x: [1, , 2] }, , new Map([[1, 2]])], { extra: new Set([1]), 7: 'seven' }),
      plain: false,
    },
    { label: 'one object twice', value: { a: shared, b: [shared] }, plain: false },
    { label: 'a cycle', value: cycle, plain: false },
    { label: 'an array that contains itself', value: arrayCycle, plain: false },
    { label: 'a Date', value: { when: new Date(1_700_000_000_123) }, plain: false },
    { label: 'a Map and a Set', value: [new Map<unknown, unknown>([[1, { a: 1 }], ['k', -0]]), new Set(['a', 2])], plain: false },
    { label: 'a RegExp', value: { re: /a+b/giu }, plain: false },
    { label: 'bigints', value: { n: 2n ** 70n, m: -1n }, plain: false },
    { label: 'a bigint', value: 2n ** 64n, plain: false },
    { label: 'typed arrays and a Buffer inside', value: { u: new Uint8Array([1, 2]), f: new Float64Array([-0, NaN]), b: Buffer.from('buf') }, plain: false },
    { label: 'a null-prototype object (arrives as a plain object)', value: nullProto, expected: { a: 1 }, plain: false },
    { label: 'a Proxy of an object (arrives as a plain object)', value: new Proxy({ a: 1 }, {}), expected: { a: 1 }, plain: false },
  ];
}

/** Where `actual` differs from `expected` (value by value, prototypes, key order, holes, identity), or undefined. */
function difference(actual: unknown, expected: unknown, path = 'item', pairs = new Map<object, unknown>()): string | undefined {
  const show = (v: unknown): string => inspect(v, { depth: 1, maxArrayLength: 5, maxStringLength: 40 });
  if (typeof expected !== 'object' || expected === null) {
    return Object.is(actual, expected) ? undefined : `${path}: ${show(actual)} instead of ${show(expected)}`;
  }
  if (typeof actual !== 'object' || actual === null) return `${path}: ${show(actual)} instead of an object`;
  if (pairs.has(expected)) return pairs.get(expected) === actual ? undefined : `${path}: a copy instead of the same object`;
  if ([...pairs.values()].includes(actual)) return `${path}: the same object instead of two`;
  pairs.set(expected, actual);
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${path}: ${show(actual)} instead of ${show(expected)} (prototype)`;
  if (expected instanceof Date) return Object.is((actual as Date).getTime(), expected.getTime()) ? undefined : `${path}: another date`;
  if (expected instanceof RegExp) return String(actual) === String(expected) ? undefined : `${path}: ${String(actual)}`;
  if (ArrayBuffer.isView(expected)) return difference([...(actual as Uint8Array)], [...(expected as Uint8Array)], path);
  if (expected instanceof Map || expected instanceof Set) {
    return difference([...(actual as Map<unknown, unknown>).entries()], [...expected.entries()], `${path}.entries()`, pairs);
  }
  if (Array.isArray(expected)) {
    const array = actual as unknown[];
    if (array.length !== expected.length) return `${path}: length ${array.length} instead of ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      if (i in array !== i in expected) return `${path}[${i}]: ${i in expected ? 'a hole' : 'an element'} instead of ${i in expected ? 'an element' : 'a hole'}`;
    }
  }
  const keys = Object.keys(expected);
  const actualKeys = Object.keys(actual);
  if (actualKeys.join('\u0001') !== keys.join('\u0001')) return `${path}: keys ${show(actualKeys)} instead of ${show(keys)}`;
  for (const key of keys) {
    const own = Object.getOwnPropertyDescriptor(actual, key);
    if (own === undefined || !('value' in own)) return `${path}[${JSON.stringify(key)}]: not an own data property`;
    const found = difference(own.value, (expected as Record<string, unknown>)[key], `${path}[${JSON.stringify(key)}]`, pairs);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The child: takes `count` items from one queue and puts each back on the other, as it arrived. */
const ECHO = `
import { Queue } from 'posix-mp';
const [to, back, count] = process.argv.slice(1);
const input = Queue.open(to);
const output = Queue.open(back);
for (let i = 0; i < Number(count); i++) output.putSync(input.getSync({ timeout: 60_000 }));
input.close();
output.close();
`;

describe('queue items between processes', () => {
  it('arrive exactly as they were put, whichever path they take (there and back through another process)', async () => {
    const table = cases();
    using to = new Queue(0, { name: uniqueName('items-to'), exclusive: true });
    using back = new Queue(0, { name: uniqueName('items-back'), exclusive: true });
    try {
      const child = spawnNode(ECHO, [to.name, back.name, String(table.length)]);
      const done = within(child, 60_000, 'echo child');
      const sending = (async () => {
        for (const { value } of table) await to.put(value);
      })();
      const received: unknown[] = [];
      for (let i = 0; i < table.length; i++) received.push(await back.get({ timeout: 60_000 }));
      await sending;
      const result = await done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const wrong = table
        .map((entry, i) => {
          const found = difference(received[i], 'expected' in entry ? entry.expected : entry.value);
          return found === undefined ? undefined : `${entry.label}: ${found}`;
        })
        .filter((line) => line !== undefined);
      expect(wrong).toEqual([]);
    } finally {
      to.unlink();
      back.unlink();
    }
  });

  it('a symbol is refused as before, at the top or deep inside', () => {
    using q = new Queue();
    expect(() => q.putSync(Symbol('s'))).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_CLONEABLE' }));
    expect(() => q.putSync({ a: [1, { s: Symbol('s') }] })).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_CLONEABLE', message: expect.stringContaining('item.a[1].s') }));
    expect(q.empty()).toBe(true);
  });

  it('async puts that wait for room each keep their own item', async () => {
    using q = new Queue(0, { capacityBytes: 4096 });
    const items = Array.from({ length: 300 }, (_, i) => ({ i, text: String(i).repeat(1 + (i % 50)) }));
    const putting = Promise.all(items.map((item) => q.put(item)));
    const got: unknown[] = [];
    for (let i = 0; i < items.length; i++) got.push(await q.get());
    await putting;
    // Concurrent puts race for the queue: the order among them is not defined, the items are.
    expect(got.sort((a, b) => (a as { i: number }).i - (b as { i: number }).i)).toEqual(items);
  });
});

describe('Connection messages between processes', () => {
  it('arrive exactly as they were sent, whichever path they take (there and back through another process)', async () => {
    const [mine, theirs] = Pipe();
    const child = start('echo', [theirs]);
    theirs.close();
    const wrong: string[] = [];
    try {
      for (const entry of cases()) {
        mine.send(entry.value);
        const { echo } = (await mine.recv({ timeout: 60_000 })) as { echo: unknown };
        const found = difference(echo, 'expected' in entry ? entry.expected : entry.value);
        if (found !== undefined) wrong.push(`${entry.label}: ${found}`);
      }
    } finally {
      mine.close();
    }
    await joined(child);
    expect(wrong).toEqual([]);
  });
});

describe('the plain-data format', () => {
  it('takes exactly the plain values, and gives each back as it was', () => {
    for (const entry of cases()) {
      const bytes = encodePlain(entry.value);
      expect({ label: entry.label, plain: bytes !== undefined }).toEqual({ label: entry.label, plain: entry.plain });
      if (bytes === undefined) continue;
      const expected = 'expected' in entry ? entry.expected : entry.value;
      expect({ label: entry.label, difference: difference(decodePlain(bytes), expected) }).toEqual({ label: entry.label, difference: undefined });
    }
  });

  it('an encoding stays intact while later ones are made, small and large', () => {
    const first = { id: 1, text: 'first' };
    const bytes = encodePlain(first)!;
    const copy = Uint8Array.from(bytes);
    for (let i = 0; i < 500; i++) encodePlain({ i, filler: 'f'.repeat(i * 7) });
    encodePlain({ big: 'b'.repeat(300_000) });
    expect(bytes).toEqual(copy);
    expect(decodePlain(bytes)).toEqual(first);
  });

  it('refuses malformed bytes with ERR_MP_PROTOCOL', () => {
    const good = encodePlain({ a: [1, 'two', 3.5] })!;
    const malformed = [
      new Uint8Array(0),
      good.subarray(0, good.length - 1),
      Uint8Array.from([...good, 0]),
      Uint8Array.of(42),
      Uint8Array.of(9, 0xff, 0xff, 0xff, 0x7f),
      Uint8Array.of(6, 10, 0, 0, 0, 65),
      Uint8Array.of(8, 1, 0, 0, 0, 4, 1, 0, 0, 0, 1),
    ];
    for (const bytes of malformed) expect(() => decodePlain(bytes)).toThrow(expect.objectContaining({ code: 'ERR_MP_PROTOCOL' }));
  });
});
