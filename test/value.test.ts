import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { Lock, RawValue, RLock, Value, type Typecode } from 'posix-mp';
import { runNode, spawnUntilLine, uniqueName } from './helpers.js';

/** Each typecode with its smallest and largest value, and what those read back as. */
const INTEGER_RANGES: [Typecode, number, number][] = [
  ['b', -128, 127],
  ['B', 0, 255],
  ['h', -32768, 32767],
  ['H', 0, 65535],
  ['i', -(2 ** 31), 2 ** 31 - 1],
  ['I', 0, 2 ** 32 - 1],
];
const BIGINT_RANGES: [Typecode, bigint, bigint][] = [
  ['l', -(2n ** 63n), 2n ** 63n - 1n],
  ['q', -(2n ** 63n), 2n ** 63n - 1n],
  ['L', 0n, 2n ** 64n - 1n],
  ['Q', 0n, 2n ** 64n - 1n],
];

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

describe('Value: typecodes', () => {
  it('defaults to zero of the right JS type for every typecode', () => {
    const zeros: Record<Typecode, unknown> = {
      b: 0, B: 0, h: 0, H: 0, i: 0, I: 0, l: 0n, L: 0n, q: 0n, Q: 0n, f: 0, d: 0, c: '\0',
    };
    for (const [typecode, zero] of Object.entries(zeros)) {
      using v = new Value(typecode as Typecode);
      expect(v.typecode).toBe(typecode);
      expect(v.value).toStrictEqual(zero);
    }
  });

  it.each(INTEGER_RANGES)("'%s' holds exactly [%d, %d]", (typecode, min, max) => {
    using v = new Value(typecode, min);
    expect(v.value).toBe(min);
    v.value = max;
    expect(v.value).toBe(max);
    expectCode(() => (v.value = min - 1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = max + 1), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = 1.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = NaN), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = Infinity), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = '1' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => (v.value = 1n as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => (v.value = true as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new Value(typecode, min - 1), RangeError, 'ERR_OUT_OF_RANGE');
    // A failed write leaves the value alone.
    expect(v.value).toBe(max);
  });

  it("rejects Int8 -129 with ERR_OUT_OF_RANGE", () => {
    expectCode(() => new Value('b', -129), RangeError, 'ERR_OUT_OF_RANGE');
  });

  it.each(BIGINT_RANGES)("'%s' is 64-bit and reads as BigInt in [%s, %s]", (typecode, min, max) => {
    using v = new Value(typecode as 'q', min);
    expect(v.value).toBe(min);
    v.value = max;
    expect(v.value).toBe(max);
    v.value = 42; // a safe integer number is accepted
    expect(v.value).toBe(42n);
    const w: Value<bigint> = v; // (TypeScript narrows v.value to the number just assigned)
    w.value += 1n;
    expect(v.value).toBe(43n);
    expectCode(() => (v.value = min - 1n), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = max + 1n), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = 2 ** 60), RangeError, 'ERR_OUT_OF_RANGE'); // integral, but not safe
    expectCode(() => (v.value = 0.5), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (v.value = '1' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    if (min === 0n) expectCode(() => (v.value = -1), RangeError, 'ERR_OUT_OF_RANGE');
    expect(v.value).toBe(43n);
  });

  it("'f' is a C float and 'd' a double; NaN and Infinity are fine", () => {
    using f = new Value('f', 0.1);
    expect(f.value).toBe(Math.fround(0.1));
    f.value = NaN;
    expect(f.value).toBeNaN();
    f.value = -Infinity;
    expect(f.value).toBe(-Infinity);
    using d = new Value('d', 0.1);
    expect(d.value).toBe(0.1);
    d.value = Number.MAX_VALUE;
    expect(d.value).toBe(Number.MAX_VALUE);
    d.value = NaN;
    expect(d.value).toBeNaN();
    expectCode(() => (d.value = 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new Value('d', 'x' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => (f.value = 1n as never), TypeError, 'ERR_INVALID_ARG_TYPE');
  });

  it("'c' is one byte, read as a one-character latin1 string", () => {
    using c = new Value('c', 'a');
    expect(c.value).toBe('a');
    c.value = '\xff';
    expect(c.value).toBe('\xff');
    c.value = 65; // a byte number, as Python's c_char accepts
    expect(c.value).toBe('A');
    expectCode(() => (c.value = 'ab'), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => (c.value = ''), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => (c.value = '€'), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => (c.value = 256), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => (c.value = null as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expect(c.value).toBe('A');
  });

  it('rejects unknown typecodes and bad options before creating anything', () => {
    expectCode(() => new Value('x' as Typecode), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => new Value(5 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new Value('u' as Typecode), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => new Value('i', 0, 'opts' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new Value('i', 0, { lock: 'yes' as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => new Value('i', 0, { lock: {} as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
  });

  it('prints its name, state, typecode and value', async () => {
    const { inspect } = await import('node:util');
    using v = new Value('i', 42);
    expect(inspect(v).replace(/\s+/g, ' ')).toBe(`Value { name: '${v.name}', closed: false, typecode: 'i', value: 42 }`);
  });
});

describe('Value: locks', () => {
  it("has its own recursive lock by default, so withLockSync(() => v.value += 1) works", () => {
    using v = new Value('i', 0);
    const lock = v.getLock();
    expect(lock).toBeInstanceOf(RLock);
    expect(v.getLock()).toBe(lock);
    for (let i = 0; i < 1000; i++) lock.withLockSync(() => (v.value += 1));
    expect(v.value).toBe(1000);
    expect(lock.locked()).toBe(false);
  });

  it('uses the Lock or RLock it is given', async () => {
    using lock = new Lock();
    using v = new Value('d', 1.5, { lock });
    expect(v.getLock()).toBe(lock);
    await lock.withLock(() => {
      // A non-recursive lock: the value cannot be read while this thread holds it (as in Python).
      expect(lock.acquireSync({ timeout: 0 })).toBe(false);
    });
    v.value = 2.5;
    expect(v.value).toBe(2.5);
    using rlock = new RLock();
    using w = new Value('i', 0, { lock: rlock });
    expect(w.getLock()).toBe(rlock);
    rlock.withLockSync(() => (w.value += 5));
    expect(w.value).toBe(5);
  });

  it('lock: false and RawValue have no lock', () => {
    using raw = new Value('i', 3, { lock: false });
    expectCode(() => raw.getLock(), Error, 'ERR_MP_NO_LOCK');
    raw.value += 1;
    expect(raw.value).toBe(4);
    using r = RawValue('q', 7n);
    expect(r.value).toBe(7n);
    expectCode(() => r.getLock(), Error, 'ERR_MP_NO_LOCK');
  });

  it('reads wait for the lock another process holds', async () => {
    const name = uniqueName('value-held');
    using v = new Value('i', 0, { name });
    try {
      const { done } = await spawnUntilLine(
        `import { Value } from 'posix-mp';
         const v = Value.open(process.argv[1]);
         v.getLock().withLockSync(() => {
           v.value = 1;
           console.log('locked');
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
           v.value = 42;
         });`,
        [name],
        /locked/,
      );
      expect(v.getLock().acquireSync({ timeout: 0 })).toBe(false);
      // The read takes the lock, so it sees the value as the holder left it, never the intermediate 1.
      expect(v.value).toBe(42);
      expect((await done).code).toBe(0);
    } finally {
      v.unlink();
    }
  });
});

describe('Value: close while its lock is awaited', () => {
  it('rejects pending acquires of its own lock with ERR_MP_CLOSED', async () => {
    const name = uniqueName('value-close-pending');
    const v = new Value('i', 0, { name });
    try {
      const { done } = await spawnUntilLine(
        `import { Value } from 'posix-mp';
         const v = Value.open(process.argv[1]);
         v.getLock().acquireSync();
         console.log('locked');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
         v.getLock().release();`,
        [name],
        /locked/,
      );
      const pending = v.getLock().acquire();
      v.close();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
      expect((await done).code).toBe(0);
      using again = Value.open(name);
      expect(again.getLock().acquireSync({ timeout: 10_000 })).toBe(true);
      again.getLock().release();
    } finally {
      v.close();
      Value.open(name).unlink();
    }
  });
});

describe('Value: names and lifetime', () => {
  it('opens or creates by name; initial applies only to the creator', () => {
    const name = uniqueName('value-name');
    using a = new Value('i', 7, { name });
    try {
      expect(a.name).toBe(name);
      using b = new Value('i', 99, { name });
      expect(b.value).toBe(7);
      b.value = 8;
      expect(a.value).toBe(8);
      using c = Value.open<number>(name);
      expect(c.typecode).toBe('i');
      expect(c.value).toBe(8);
      using d = new Value('i', 0, { name: `/${name}` });
      expect(d.value).toBe(8);
    } finally {
      a.unlink();
    }
  });

  it('exclusive only creates (EEXIST); open only opens (ENOENT)', () => {
    const name = uniqueName('value-excl');
    expectCode(() => Value.open(name), Error, 'ENOENT');
    using v = new Value('q', 1n, { name, exclusive: true });
    try {
      expectCode(() => new Value('q', 1n, { name, exclusive: true }), Error, 'EEXIST');
    } finally {
      v.unlink();
    }
    expectCode(() => Value.open(name), Error, 'ENOENT');
  });

  it('a typecode or kind mismatch with the existing object is a clear error', () => {
    const name = uniqueName('value-mismatch');
    using v = new Value('i', 1, { name });
    try {
      let error: unknown;
      try {
        new Value('d', 0, { name });
      } catch (e) {
        error = e;
      }
      expect((error as { code: string }).code).toBe('ERR_MP_MISMATCH');
      expect((error as Error).message).toMatch(/typecode 'i', not 'd'/);
      expectCode(() => new Lock({ name }), Error, 'ERR_MP_WRONG_KIND');
    } finally {
      v.unlink();
    }
    const lockName = uniqueName('value-lockname');
    using lock = new Lock({ name: lockName });
    try {
      expectCode(() => Value.open(lockName), Error, 'ERR_MP_WRONG_KIND');
    } finally {
      lock.unlink();
    }
  });

  it('close makes the handle unusable; the named value stays until unlink', () => {
    const name = uniqueName('value-close');
    const v = new Value('h', 12, { name });
    const lock = v.getLock();
    v.close();
    v.close();
    expect(v.closed).toBe(true);
    expectCode(() => v.value, Error, 'ERR_MP_CLOSED');
    expectCode(() => (v.value = 1), Error, 'ERR_MP_CLOSED');
    expectCode(() => v.getLock(), Error, 'ERR_MP_CLOSED');
    expectCode(() => lock.acquireSync(), Error, 'ERR_MP_CLOSED');
    using again = Value.open(name);
    expect(again.value).toBe(12);
    again.unlink();
    expectCode(() => Value.open(name), Error, 'ENOENT');
    expect(again.value).toBe(12); // still mapped here
  });

  it('creates with mode 0o600 by default and honours { mode }', () => {
    const a = uniqueName('value-mode');
    const b = uniqueName('value-mode');
    using va = new Value('i', 0, { name: a });
    using vb = new Value('i', 0, { name: b, mode: 0o640 });
    try {
      expect(statSync(`/dev/shm/${a}`).mode & 0o777).toBe(0o600);
      expect(statSync(`/dev/shm/${b}`).mode & 0o777).toBe(0o640);
      expectCode(() => new Value('i', 0, { name: uniqueName('m'), mode: 0o1000 }), RangeError, 'ERR_OUT_OF_RANGE');
    } finally {
      va.unlink();
      vb.unlink();
    }
  });

  it('rejects invalid names before any syscall', () => {
    expectCode(() => new Value('i', 0, { name: '' }), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => new Value('i', 0, { name: 'a/b' }), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => new Value('i', 0, { name: 'a\0b' }), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectCode(() => new Value('i', 0, { name: 'x'.repeat(300) }), RangeError, 'ERR_OUT_OF_RANGE');
    expectCode(() => new Value('i', 0, { name: 5 as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectCode(() => Value.open(''), TypeError, 'ERR_INVALID_ARG_VALUE');
  });
});

describe('Value: across processes', () => {
  it('a change by one process is seen by another', async () => {
    const name = uniqueName('value-xproc');
    using v = new Value('d', 0.25, { name });
    try {
      const child = await runNode(
        `import { Value } from 'posix-mp';
         const v = Value.open(process.argv[1]);
         console.log(JSON.stringify({ seen: v.value, typecode: v.typecode }));
         v.value = 3.75;`,
        [name],
      );
      expect(child.stderr).toBe('');
      expect(JSON.parse(child.stdout)).toEqual({ seen: 0.25, typecode: 'd' });
      expect(v.value).toBe(3.75);
    } finally {
      v.unlink();
    }
  });

  it('4 unrelated processes x 50,000 locked increments = exactly 200,000', async () => {
    const name = uniqueName('value-count');
    const gateName = uniqueName('value-gate');
    using v = new Value('i', 0, { name });
    using gate = new Value('i', 0, { name: gateName });
    try {
      const code = `
        import { Value } from 'posix-mp';
        const [name, gateName] = process.argv.slice(1);
        const v = Value.open(name);
        const gate = Value.open(gateName);
        // Start together, so that the increments really contend.
        gate.getLock().withLockSync(() => (gate.value += 1));
        while (gate.value < 4) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        const lock = v.getLock();
        for (let i = 0; i < 50_000; i++) lock.withLockSync(() => { v.value += 1; });
        v.close();`;
      const results = await Promise.all([0, 1, 2, 3].map(() => runNode(code, [name, gateName])));
      for (const r of results) expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(v.value).toBe(200_000);
    } finally {
      v.unlink();
      gate.unlink();
    }
  });
});
