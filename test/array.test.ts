import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';

import { Array as MpArray, Lock, RawArray, RLock, SharedArray, type Typecode } from 'posix-mp';
import { runNode, spawnUntilLine, uniqueName } from './helpers.js';

function expectCode(fn: () => unknown, type: new (...args: never[]) => Error, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(type);
  expect((thrown as { code?: string }).code).toBe(code);
}

const VIEWS: [Typecode, Function, unknown[]][] = [
  ['b', Int8Array, [-128, 0, 127]],
  ['B', Uint8Array, [0, 1, 255]],
  ['h', Int16Array, [-32768, 2, 32767]],
  ['H', Uint16Array, [0, 3, 65535]],
  ['i', Int32Array, [-(2 ** 31), 4, 2 ** 31 - 1]],
  ['I', Uint32Array, [0, 5, 2 ** 32 - 1]],
  ['l', BigInt64Array, [-(2n ** 63n), 6n, 2n ** 63n - 1n]],
  ['L', BigUint64Array, [0n, 7n, 2n ** 64n - 1n]],
  ['q', BigInt64Array, [-(2n ** 63n), 8n, 2n ** 63n - 1n]],
  ['Q', BigUint64Array, [0n, 9n, 2n ** 64n - 1n]],
  ['f', Float32Array, [-1.5, 0.25, Infinity]],
  ['d', Float64Array, [-0.1, NaN, Number.MAX_VALUE]],
  ['c', Uint8Array, ['a', '\0', '\xff']],
];

describe('Array: elements', () => {
  it('is exported as Array and SharedArray', () => {
    expect(MpArray).toBe(SharedArray);
    using a = new MpArray('i', 2);
    expect(a).toBeInstanceOf(SharedArray);
    expect(a.constructor.name).toBe('SharedArray');
  });

  it.each(VIEWS)("'%s' round-trips its extreme values through a %o view", (typecode, View, values) => {
    using a = new SharedArray(typecode, values as never);
    expect(a.length).toBe(3);
    expect(a.typecode).toBe(typecode);
    expect(a.view).toBeInstanceOf(View);
    expect(a.toArray()).toStrictEqual(values);
    using z = new SharedArray(typecode, 3);
    expect(z.toArray()).toStrictEqual(values.map(() => (typeof values[0] === 'bigint' ? 0n : typecode === 'c' ? '\0' : 0)));
    for (let i = 0; i < 3; i++) z.set(i, values[2 - i] as never);
    expect(z.toArray()).toStrictEqual([...values].reverse());
  });

  it('get/set check indexes and values; a failed set changes nothing', () => {
    using a = new SharedArray('b', [1, 2, 3]);
    expect(a.get(2)).toBe(3);
    expectCode(() => a.get(3), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.get(-1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.get(1.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.get('0' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => a.set(3, 0), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.set(0, -129), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.set(0, 128), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.set(0, 0.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.set(0, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(a.toArray()).toEqual([1, 2, 3]);
    using q = new SharedArray('q', [1, 2n]);
    q.set(0, 5);
    expect(q.get(0)).toBe(5n);
    expectCode(() => q.set(0, 2 ** 53), RangeError, 'ERR_OUT_OF_RANGE');
    using d = new SharedArray('d', 1);
    expectCode(() => d.set(0, 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
  });

  it('checks every initial value before creating anything', () => {
    expectCode(() => new SharedArray('B', [1, 256]), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => new SharedArray('i', [1, 'x'] as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new SharedArray('i', -1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => new SharedArray('i', 1.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => new SharedArray('i', 2 ** 31), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => new SharedArray('i', 'abc' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new SharedArray('i', null as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new SharedArray('z' as never, 1), TypeError, 'ERR_INVALID_ARG_VALUE');
    const error = (() => {
      try {
        new SharedArray('h', [0, 1, 70000]);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/sizeOrValues\[2\]/);
  });

  it("'c' arrays take strings and Buffers and read as one-character strings", () => {
    using s = new SharedArray('c', 'hello');
    expect(s.length).toBe(5);
    expect(s.get(1)).toBe('e');
    expect(s.slice(1, -1)).toEqual(['e', 'l', 'l']);
    expect(Buffer.from(s.view).toString('latin1')).toBe('hello');
    s.set(0, 'J');
    s.setRange(1, 'ELLO');
    expect(s.toArray().join('')).toBe('JELLO');
    using b = new SharedArray('c', Buffer.from('hi\xff', 'latin1'));
    expect(b.toArray()).toEqual(['h', 'i', '\xff']);
    expectCode(() => new SharedArray('c', ['ab']), TypeError, 'ERR_INVALID_ARG_VALUE');
  });

  it('other TypedArrays and array-likes are converted element by element', () => {
    using a = new SharedArray('i', new Float64Array([1, 2, 3]));
    expect(a.toArray()).toEqual([1, 2, 3]);
    expectCode(() => new SharedArray('i', new Float64Array([1.5])), RangeError, 'ERR_OUT_OF_RANGE');
    using b = new SharedArray('h', { length: 2, 0: 7, 1: 8 });
    expect(b.toArray()).toEqual([7, 8]);
    using c = new SharedArray('i', new Int32Array([9, 10]));
    expect(c.toArray()).toEqual([9, 10]);
    using e = new SharedArray('d', []);
    expect(e.length).toBe(0);
    expect(e.toArray()).toEqual([]);
    using z = new SharedArray('d', 0);
    expect(z.view.length).toBe(0);
  });

  it('slice follows Array.prototype.slice; iteration and toArray copy', () => {
    using a = new SharedArray('i', [0, 1, 2, 3, 4, 5]);
    expect(a.slice()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(a.slice(2)).toEqual([2, 3, 4, 5]);
    expect(a.slice(1, 3)).toEqual([1, 2]);
    expect(a.slice(-2)).toEqual([4, 5]);
    expect(a.slice(4, 2)).toEqual([]);
    expect(a.slice(0, 100)).toEqual([0, 1, 2, 3, 4, 5]);
    expectCode(() => a.slice('1' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect([...a]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(a)).toEqual([0, 1, 2, 3, 4, 5]);
    const copy = a.toArray();
    copy[0] = 99;
    expect(a.get(0)).toBe(0);
    expect(inspect(a).replace(/\s+/g, ' ')).toBe(
      `SharedArray { name: '${a.name}', closed: false, typecode: 'i', values: [ 0, 1, 2, 3, 4, 5 ] }`,
    );
  });

  it('arr[i] reads and arr[i] = v writes as get and set do, checks included: nothing is silently lost', () => {
    using a = new MpArray('h', [1, 2, 3]);
    expect(a[0]).toBe(1);
    a[0] = 5;
    a[2] = -7;
    expect(a.toArray()).toEqual([5, 2, -7]);
    expect(a.view[0]).toBe(5);
    // Out of range, negative, fractional: thrown, as by get/set (Python raises IndexError).
    for (const index of [3, 100, -1, 1.5]) {
      expectCode(() => a[index], RangeError, 'ERR_OUT_OF_RANGE');
      expectCode(() => (a[index] = 1), RangeError, 'ERR_OUT_OF_RANGE');
    }
    // Values the type cannot hold: thrown as set() throws, the element unchanged.
    expectCode(() => (a[1] = 40000), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (a[1] = 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(a[1]).toBe(2);
    // Methods, fields and other keys are untouched.
    expect(a.length).toBe(3);
    expect(typeof a.get).toBe('function');
    expect((a as unknown as Record<string, unknown>).nothing).toBeUndefined();
    (a as unknown as Record<string, unknown>).extra = 1;
    expect((a as unknown as Record<string, unknown>).extra).toBe(1);
    a.close();
    expectCode(() => a[0], Error, 'ERR_MP_CLOSED');
  });

  it("arr[i] on 'c' and 64-bit arrays reads chars and BigInts; other handles take no numeric keys", () => {
    using chars = new MpArray('c', 'ab');
    chars[1] = 'z';
    expect([chars[0], chars[1]]).toEqual(['a', 'z']);
    using big = new MpArray('q', 2);
    big[1] = 5n;
    expect(big[1]).toBe(5n);
    using lock = new Lock();
    expect((lock as unknown as Record<number, unknown>)[0]).toBeUndefined();
  });

  it('setRange checks everything before writing anything', () => {
    using a = new SharedArray('H', [1, 2, 3, 4]);
    a.setRange(1, [20, 30]);
    expect(a.toArray()).toEqual([1, 20, 30, 4]);
    a.setRange(4, []);
    expectCode(() => a.setRange(2, [5, 6, 7]), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.setRange(0, [5, -1]), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.setRange(5, []), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.setRange(-1, [1]), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => a.setRange(0, 5 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => a.setRange(0, 'ab' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(a.toArray()).toEqual([1, 20, 30, 4]);
    a.setRange(0, new Uint16Array([9, 8]));
    expect(a.toArray()).toEqual([9, 8, 30, 4]);
  });

  it('view is the shared memory itself: zero-copy, no lock', () => {
    using a = new SharedArray('I', 4);
    const view = a.view;
    expect(a.view).toBe(view);
    view[2] = 123;
    expect(a.get(2)).toBe(123);
    a.set(3, 7);
    expect(view[3]).toBe(7);
    // The lock is not involved: the view works while another handle holds the lock.
    a.getLock().withLockSync(() => {
      view[0] = 1;
    });
    expect(a.get(0)).toBe(1);
  });

  it('a large array gets memory of its own and works the same', () => {
    using big = new SharedArray('d', 100_000);
    big.set(99_999, 1.5);
    expect(big.view[99_999]).toBe(1.5);
    expect(big.view.byteLength).toBe(800_000);
  });
});

describe('Array: locks', () => {
  it('has its own recursive lock by default; takes a given Lock/RLock; RawArray has none', () => {
    using a = new SharedArray('i', 3);
    const lock = a.getLock();
    expect(lock).toBeInstanceOf(RLock);
    lock.withLockSync(() => {
      a.set(0, a.get(0) + 1);
      a.setRange(1, a.slice(0, 2));
    });
    expect(a.toArray()).toEqual([1, 1, 0]);
    using own = new Lock();
    using b = new SharedArray('i', 2, { lock: own });
    expect(b.getLock()).toBe(own);
    b.set(1, 2);
    expect(b.get(1)).toBe(2);
    using raw = RawArray('i', [1, 2]);
    expectCode(() => raw.getLock(), Error, 'ERR_MP_NO_LOCK');
    raw.set(0, 5);
    expect(raw.toArray()).toEqual([5, 2]);
    using noLock = new SharedArray('i', 1, { lock: false });
    expectCode(() => noLock.getLock(), Error, 'ERR_MP_NO_LOCK');
  });

  it('get and toArray wait while another process holds the lock mid-update', async () => {
    const name = uniqueName('array-held');
    using a = new SharedArray('i', 4, { name });
    try {
      const { done } = await spawnUntilLine(
        `import { SharedArray } from 'posix-mp';
         const a = SharedArray.open(process.argv[1]);
         a.getLock().withLockSync(() => {
           a.set(0, 1);
           console.log('locked');
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
           a.setRange(0, [5, 5, 5, 5]);
         });`,
        [name],
        /locked/,
      );
      expect(a.toArray()).toEqual([5, 5, 5, 5]);
      expect((await done).code).toBe(0);
    } finally {
      a.unlink();
    }
  });
});

describe('Array: names and lifetime', () => {
  it('opens or creates by name; Array.open takes typecode and length from the object', () => {
    const name = uniqueName('array-name');
    using a = new SharedArray('f', [1, 2, 3], { name });
    try {
      using b = new SharedArray('f', [7, 7, 7], { name });
      expect(b.toArray()).toEqual([1, 2, 3]); // values only fill an Array this call creates
      using c = SharedArray.open<number>(name);
      expect(c.typecode).toBe('f');
      expect(c.length).toBe(3);
      c.set(0, 0.5);
      expect(a.get(0)).toBe(0.5);
      using d = new SharedArray('f', 3, { name });
      expect(d.get(0)).toBe(0.5);
      expectCode(() => new SharedArray('f', 4, { name }), Error, 'ERR_MP_MISMATCH');
      expectCode(() => new SharedArray('f', [1, 2], { name }), Error, 'ERR_MP_MISMATCH');
      expectCode(() => new SharedArray('d', 3, { name }), Error, 'ERR_MP_MISMATCH');
      expectCode(() => new SharedArray('f', 3, { name, exclusive: true }), Error, 'EEXIST');
    } finally {
      a.unlink();
    }
    expectCode(() => SharedArray.open(name), Error, 'ENOENT');
  });

  it('close makes the handle unusable; the named array stays until unlink', () => {
    const name = uniqueName('array-close');
    const a = new SharedArray('q', [1n, 2n], { name });
    a.close();
    expect(a.closed).toBe(true);
    for (const use of [() => a.view, () => a.get(0), () => a.set(0, 1n), () => a.slice(), () => a.toArray(),
      () => a.setRange(0, [1n]), () => [...a], () => a.getLock()]) {
      expectCode(use, Error, 'ERR_MP_CLOSED');
    }
    using b = SharedArray.open(name, { lock: false });
    expect(b.toArray()).toEqual([1n, 2n]);
    expectCode(() => b.getLock(), Error, 'ERR_MP_NO_LOCK');
    b.unlink();
    expectCode(() => SharedArray.open(name), Error, 'ENOENT');
  });

  it('a change through get/set or the view is seen by another process', async () => {
    const name = uniqueName('array-xproc');
    using a = new SharedArray('i', [1, 2, 3], { name });
    try {
      const child = await runNode(
        `import { Array } from 'posix-mp';
         const a = Array.open(process.argv[1]);
         console.log(JSON.stringify(a.toArray()));
         a.set(0, 10);
         a.view[1] = 20;
         a.setRange(2, [30]);`,
        [name],
      );
      expect(child.stderr).toBe('');
      expect(JSON.parse(child.stdout)).toEqual([1, 2, 3]);
      expect(a.toArray()).toEqual([10, 20, 30]);
    } finally {
      a.unlink();
    }
  });
});
