// Bad input: every argument the foundation takes is checked before any syscall and rejected with a typed,
// Node-style error (TypeError/RangeError with `code`); system failures carry code/errno/syscall; a closed
// handle says ERR_MP_CLOSED. Nothing may crash the process or leave an object behind.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { atomics, BoundedSemaphore, Semaphore, SharedMemory } from 'posix-mp';
import { loadAddon, uniqueName } from './helpers.js';

type ErrorClass = typeof TypeError | typeof RangeError | typeof Error;

/** Calls `fn` (sync or async) and checks what it threw or rejected with. */
async function expectError(fn: () => unknown, type: ErrorClass, code: string, extra: object = {}): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  expect(error, `${fn} should fail with ${code}`).toBeInstanceOf(type);
  expect(error).toMatchObject({ code, ...extra });
}

const TYPE = [TypeError, 'ERR_INVALID_ARG_TYPE'] as const;
const RANGE = [RangeError, 'ERR_OUT_OF_RANGE'] as const;
const VALUE = [TypeError, 'ERR_INVALID_ARG_VALUE'] as const;

/** Pads a test name to exactly `bytes` bytes (keeping the run id the leak check looks for). */
function nameOfLength(bytes: number): string {
  const base = uniqueName('len');
  return base + 'x'.repeat(bytes - base.length);
}

const badNames: [string, unknown, readonly [ErrorClass, string]][] = [
  ['empty', '', VALUE],
  ['only a slash', '/', VALUE],
  ['a slash inside', 'a/b', VALUE],
  ['a slash after the leading one', '/a/b', VALUE],
  ['a NUL', 'a\0b', VALUE],
  ['.', '.', VALUE],
  ['..', '/..', VALUE],
  ['256 bytes', 'x'.repeat(256), RANGE],
  ['256 bytes of UTF-8 in 128 characters', 'é'.repeat(128), RANGE],
  ['a number', 42, TYPE],
  ['null', null, TYPE],
  ['an object', { toString: () => 'name' }, TYPE],
  ['a symbol', Symbol('name'), TYPE],
  ['a bigint', 1n, TYPE],
];

describe('names', () => {
  const takers: [string, (name: unknown) => unknown][] = [
    ['new SharedMemory', (name) => new SharedMemory({ name: name as string, size: 64 })],
    ['SharedMemory.open', (name) => SharedMemory.open(name as string)],
    ['new Semaphore', (name) => new Semaphore(1, { name: name as string })],
    ['Semaphore.open', (name) => Semaphore.open(name as string)],
    ['Semaphore.unlink', (name) => Semaphore.unlink(name as string)],
    ['new BoundedSemaphore', (name) => new BoundedSemaphore(1, { name: name as string })],
    ['BoundedSemaphore.open', (name) => BoundedSemaphore.open(name as string, 1)],
  ];
  for (const [what, take] of takers) {
    it(`${what} rejects invalid names with typed errors`, async () => {
      for (const [, name, [type, code]] of badNames) await expectError(() => take(name), type, code);
    });
  }

  it('the longest names the OS allows work: 255 bytes for shared memory, 251 for semaphores (sem. prefix)', async () => {
    const shmName = nameOfLength(255);
    const shm = new SharedMemory({ name: shmName, size: 64 });
    shm.close();
    shm.unlink();
    await expectError(() => new SharedMemory({ name: nameOfLength(256), size: 64 }), ...RANGE);

    const semName = nameOfLength(251);
    const sem = new Semaphore(1, { name: semName });
    expect(existsSync(`/dev/shm/sem.${semName}`)).toBe(true);
    sem.close();
    sem.unlink();
    const tooLong = nameOfLength(252);
    await expectError(() => new Semaphore(1, { name: tooLong }), ...RANGE);
    await expectError(() => Semaphore.open(tooLong), ...RANGE);
    expect(existsSync(`/dev/shm/sem.${tooLong}`)).toBe(false);
  });
});

describe('constructor arguments', () => {
  it('Semaphore / BoundedSemaphore value', async () => {
    const name = uniqueName('arg-value');
    for (const Class of [Semaphore, BoundedSemaphore]) {
      for (const value of [-1, 1.5, NaN, Infinity, 2 ** 31]) await expectError(() => new Class(value, { name }), ...RANGE);
      for (const value of ['1', null, {}, 1n]) await expectError(() => new Class(value as number, { name }), ...TYPE);
    }
    // Checked before sem_open: nothing was created.
    expect(existsSync(`/dev/shm/sem.${name}`)).toBe(false);
    await expectError(() => BoundedSemaphore.open(name), ...TYPE);
    await expectError(() => BoundedSemaphore.open(name, -1), ...RANGE);
    await expectError(() => BoundedSemaphore.open(name, '1' as unknown as number), ...TYPE);
  });

  it('options objects, exclusive, mode', async () => {
    const name = uniqueName('arg-options');
    for (const options of [5, 'name', true] as unknown[]) {
      await expectError(() => new Semaphore(1, options as object), ...TYPE);
      await expectError(() => new SharedMemory(options as object), ...TYPE);
    }
    await expectError(() => new Semaphore(1, { name, exclusive: 'yes' as unknown as boolean }), ...TYPE);
    await expectError(() => new SharedMemory({ name, size: 8, exclusive: 1 as unknown as boolean }), ...TYPE);
    for (const mode of [-1, 0o1000, 1.5, NaN]) {
      await expectError(() => new Semaphore(1, { name, mode }), ...RANGE);
      await expectError(() => new SharedMemory({ name, size: 8, mode }), ...RANGE);
    }
    for (const mode of ['0600', null] as unknown[]) {
      await expectError(() => new Semaphore(1, { name, mode: mode as number }), ...TYPE);
      await expectError(() => new SharedMemory({ name, size: 8, mode: mode as number }), ...TYPE);
    }
    expect(existsSync(`/dev/shm/sem.${name}`)).toBe(false);
    expect(existsSync(`/dev/shm/${name}`)).toBe(false);
  });

  it('SharedMemory size and create', async () => {
    const name = uniqueName('arg-size');
    for (const size of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) {
      await expectError(() => new SharedMemory({ name, size }), ...RANGE);
      await expectError(() => new SharedMemory({ size }), ...RANGE);
    }
    for (const size of ['64', null, 64n] as unknown[]) await expectError(() => new SharedMemory({ name, size: size as number }), ...TYPE);
    await expectError(() => new SharedMemory({ name, create: 'yes' as unknown as boolean, size: 8 }), ...TYPE);
    // Nothing to open and nothing to create from:
    await expectError(() => new SharedMemory({ create: false, size: 8 }), ...VALUE);
    await expectError(() => new SharedMemory({ name, create: true }), ...VALUE);
    await expectError(() => new SharedMemory({}), ...VALUE);
    await expectError(() => new (SharedMemory as unknown as new () => SharedMemory)(), ...VALUE);
    expect(existsSync(`/dev/shm/${name}`)).toBe(false);
  });
});

describe('system errors', () => {
  it('exclusive creation of an existing name is EEXIST; opening a missing one is ENOENT', async () => {
    const name = uniqueName('arg-exists');
    const sem = new Semaphore(1, { name });
    const shm = new SharedMemory({ name, size: 64 });
    try {
      const eexist = (syscall: string): object => ({ errno: -17, syscall });
      await expectError(() => new Semaphore(1, { name, exclusive: true }), Error, 'EEXIST', eexist('sem_open'));
      await expectError(() => new BoundedSemaphore(1, { name, exclusive: true }), Error, 'EEXIST', eexist('sem_open'));
      await expectError(() => new SharedMemory({ name, exclusive: true, size: 8 }), Error, 'EEXIST', eexist('shm_open'));
      await expectError(() => new SharedMemory({ name, create: true, size: 8 }), Error, 'EEXIST', eexist('shm_open'));
    } finally {
      sem.close();
      sem.unlink();
      shm.close();
      shm.unlink();
    }
    const enoent = (syscall: string): object => ({ errno: -2, syscall });
    await expectError(() => Semaphore.open(name), Error, 'ENOENT', enoent('sem_open'));
    await expectError(() => BoundedSemaphore.open(name, 1), Error, 'ENOENT', enoent('sem_open'));
    await expectError(() => SharedMemory.open(name), Error, 'ENOENT', enoent('shm_open'));
    await expectError(() => new SharedMemory({ name, create: false }), Error, 'ENOENT', enoent('shm_open'));
    await expectError(() => Semaphore.unlink(name), Error, 'ENOENT', enoent('sem_unlink'));
    await expectError(() => sem.unlink(), Error, 'ENOENT', enoent('sem_unlink'));
    await expectError(() => shm.unlink(), Error, 'ENOENT', enoent('shm_unlink'));
  });
});

describe('Semaphore method arguments', () => {
  let sem: Semaphore;
  beforeAll(() => {
    sem = new Semaphore(1);
  });
  afterAll(() => sem.close());

  it('wait options: timeout, signal, the options object itself', async () => {
    for (const acquire of [(o: unknown) => sem.acquire(o as object), (o: unknown) => sem.acquireSync(o as object)]) {
      for (const timeout of [-1, -Infinity, NaN]) await expectError(() => acquire({ timeout }), ...RANGE);
      for (const timeout of ['10', null, {}, 10n]) await expectError(() => acquire({ timeout }), ...TYPE);
      for (const options of [5, 'x', true]) await expectError(() => acquire(options), ...TYPE);
    }
    for (const signal of [{}, 'x', { aborted: true }, null, new AbortController()]) {
      await expectError(() => sem.acquire({ signal: signal as AbortSignal }), ...TYPE);
    }
    // The bad calls neither took nor added a token.
    expect(sem.getValue()).toBe(1);
  });

  it('release(n)', async () => {
    for (const n of [0, -1, 1.5, NaN, Infinity, 2 ** 31]) await expectError(() => sem.release(n), ...RANGE);
    for (const n of ['1', null, 1n] as unknown[]) await expectError(() => sem.release(n as number), ...TYPE);
    expect(sem.getValue()).toBe(1);
  });

  it('withLock / withLockSync need a function', async () => {
    for (const fn of [undefined, 5, 'fn', {}]) {
      await expectError(() => sem.withLock(fn as () => void), ...TYPE);
      await expectError(() => sem.withLockSync(fn as () => void), ...TYPE);
    }
    expect(sem.getValue()).toBe(1);
  });

  it('BoundedSemaphore: release beyond the bound', async () => {
    const bounded = new BoundedSemaphore(1);
    try {
      await expectError(() => bounded.release(), Error, 'ERR_MP_RELEASE_TOO_MANY');
      await expectError(() => bounded.release(0), ...RANGE);
      expect(bounded.getValue()).toBe(1);
    } finally {
      bounded.close();
    }
  });
});

describe('closed handles', () => {
  it('every Semaphore method throws (or rejects with) ERR_MP_CLOSED after close()', async () => {
    for (const make of [() => new Semaphore(1), () => new BoundedSemaphore(1), () => new Semaphore(1, { name: uniqueName('arg-closed') })]) {
      const sem = make();
      sem.close();
      try {
        const calls: (() => unknown)[] = [
          () => sem.acquire(),
          () => sem.acquire({ timeout: 0 }),
          () => sem.acquireSync(),
          () => sem.acquireSync({ timeout: 0 }),
          () => sem.release(),
          () => sem.getValue(),
          () => sem.withLock(() => 1),
          () => sem.withLockSync(() => 1),
        ];
        for (const call of calls) await expectError(call, Error, 'ERR_MP_CLOSED');
        expect(sem.closed).toBe(true);
        sem.close(); // idempotent
        sem[Symbol.dispose]();
      } finally {
        sem.unlink(); // by name: works on a closed handle, like Python's SharedMemory.unlink()
      }
    }
  });

  it('SharedMemory.buf throws ERR_MP_CLOSED after close(), for named and anonymous memory', async () => {
    const named = new SharedMemory({ name: uniqueName('arg-closed-shm'), size: 64 });
    const anonymous = new SharedMemory({ size: 64 });
    for (const shm of [named, anonymous]) {
      shm.close();
      await expectError(() => shm.buf, Error, 'ERR_MP_CLOSED');
      shm.close();
    }
    named.unlink();
  });
});

describe('atomics arguments', () => {
  let shm: SharedMemory;
  let view: Int32Array;
  beforeAll(() => {
    shm = new SharedMemory({ size: 64 });
    view = new Int32Array(shm.buf.buffer, 0, 16);
  });
  afterAll(() => shm.close());

  const forms = (): [string, (view: unknown, index: unknown, expected?: unknown, options?: unknown) => unknown][] => [
    ['wait', (v, i, e = 1, t = 0) => atomics.wait(v as Int32Array, i as number, e as number, t as number)],
    ['waitAsync', (v, i, e = 1, o = { timeout: 0 }) => atomics.waitAsync(v as Int32Array, i as number, e as number, o as object)],
    ['notify', (v, i) => atomics.notify(v as Int32Array, i as number)],
  ];

  it('view: only an Int32Array over posix-mp shared memory', async () => {
    const notOurs: unknown[] = [
      new Int32Array(16), // ordinary memory: Atomics.wait's job, not ours
      new Int32Array(new SharedArrayBuffer(64)),
      new Uint32Array(shm.buf.buffer, 0, 16),
      new Int16Array(shm.buf.buffer, 0, 16),
      new BigInt64Array(shm.buf.buffer, 0, 4),
      new DataView(shm.buf.buffer),
      shm.buf,
      [0, 0, 0],
      null,
      undefined,
    ];
    for (const [, call] of forms()) for (const v of notOurs) await expectError(() => call(v, 0), ...TYPE);
  });

  it('index: an integer inside the view', async () => {
    for (const [, call] of forms()) {
      for (const index of [-1, 16, 1.5, NaN, Infinity]) await expectError(() => call(view, index), ...RANGE);
      for (const index of ['0', null, undefined, 0n]) await expectError(() => call(view, index), ...TYPE);
    }
    // The index is checked against the view, not the memory behind it.
    const small = new Int32Array(shm.buf.buffer, 8, 2);
    await expectError(() => atomics.notify(small, 2), ...RANGE);
  });

  it('expected value, timeout, count, options and signal', async () => {
    for (const expected of ['0', undefined, null, 0n] as unknown[]) {
      await expectError(() => atomics.wait(view, 0, expected as number, 0), ...TYPE);
      await expectError(() => atomics.waitAsync(view, 0, expected as number, { timeout: 0 }), ...TYPE);
    }
    for (const timeout of [-1, NaN, -Infinity]) {
      await expectError(() => atomics.wait(view, 0, 0, timeout), ...RANGE);
      await expectError(() => atomics.waitAsync(view, 0, 0, { timeout }), ...RANGE);
    }
    for (const timeout of ['5', null] as unknown[]) {
      await expectError(() => atomics.wait(view, 0, 0, timeout as number), ...TYPE);
      await expectError(() => atomics.waitAsync(view, 0, 0, { timeout: timeout as number }), ...TYPE);
    }
    for (const options of [5, 'x'] as unknown[]) await expectError(() => atomics.waitAsync(view, 0, 0, options as object), ...TYPE);
    for (const signal of [{}, 'x', null]) {
      await expectError(() => atomics.waitAsync(view, 0, 0, { signal: signal as AbortSignal }), ...TYPE);
    }
    for (const count of [-1, 1.5, NaN, 2 ** 31]) await expectError(() => atomics.notify(view, 0, count), ...RANGE);
    for (const count of ['1', null, 1n] as unknown[]) await expectError(() => atomics.notify(view, 0, count as number), ...TYPE);
  });

  it('a view over closed (detached) memory says its memory is closed, not a crash', async () => {
    const gone = new SharedMemory({ size: 64 });
    const v = new Int32Array(gone.buf.buffer);
    gone.close();
    for (const [, call] of forms()) await expectError(() => call(v, 0), Error, 'ERR_MP_CLOSED');
  });
});

describe('the binding itself', () => {
  // The package validates first, but no call of the raw addon may crash the process either.
  const binding = loadAddon<any>();

  it('answers misuse with exceptions', async () => {
    const shm = new SharedMemory({ size: 64 });
    try {
      const view = new Int32Array(shm.buf.buffer);
      await expectError(() => binding.futexWait(new Int32Array(4), 0, 0, 0), ...TYPE);
      await expectError(() => binding.futexWake(view, 16, 1), ...TYPE);
      await expectError(() => binding.futexWake(view, -1, 1), ...TYPE);
      await expectError(() => binding.futexWaitAsync(view, 0, 0, 0, 'not a function'), ...TYPE);
      await expectError(() => binding.unmap(new ArrayBuffer(8)), ...TYPE);
      await expectError(() => binding.Semaphore.open(42), ...TYPE);
      await expectError(() => binding.Semaphore.open('/x', 7, 0o600, 1), ...TYPE);
      await expectError(() => binding.shmOpen(), ...TYPE);
      await expectError(() => binding.map(-1, 4096), Error, 'EBADF', { syscall: 'mmap' });
      await expectError(() => binding.map(0, 0), Error, 'EINVAL');
      expect(binding.cancelWait(0x7fffffff)).toBe(false);
    } finally {
      shm.close();
    }
  });
});
