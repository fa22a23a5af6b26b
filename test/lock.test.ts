// Lock and RLock: Python's semantics, owner death (SIGKILL) hand-over, async acquires completed on waiter
// threads, aborts and closes that leave the lock consistent, typed errors. Other processes are real Node
// processes that open the same named lock.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { Lock, RLock } from 'posix-mp';
import { finished, loadAddon, runNode, sleep, spawnNode, uniqueName, until, waitForLine } from './helpers.js';

type LockClass = typeof Lock | typeof RLock;

/** The addon instance the package uses: `pendingWaits()` counts native waits that have not reported back. */
const binding = loadAddon<{ pendingWaits(): number }>();

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

/** A named lock that is closed and unlinked after the test. */
function named<T extends Lock | RLock>(Class: new (o: { name: string }) => T, tag: string): T {
  const lock = new Class({ name: uniqueName(tag) });
  cleanups.push(() => {
    lock.close();
    lock.unlink();
    expect(existsSync(`/dev/shm/${lock.name}`)).toBe(false);
  });
  return lock;
}

/** A child that takes the named lock, says "held", and then does what its stdin says. */
function holder(Class: 'Lock' | 'RLock', name: string) {
  return spawnNode(
    `import { ${Class} } from 'posix-mp';
     const lock = ${Class}.open(process.argv[1]);
     lock.acquireSync();
     console.log('held');
     process.stdin.on('data', (d) => {
       if (String(d).includes('release')) { lock.release(); console.log('released'); }
       if (String(d).includes('exit')) process.exit(0);
     });
     setInterval(() => {}, 1000);`,
    [name],
  );
}

describe('Lock (CPython expectations)', () => {
  it('acquire → true, acquire with timeout 0 → false, a second release throws', async () => {
    const lock = new Lock();
    cleanups.push(() => lock.close());
    expect(lock.locked()).toBe(false);
    expect(await lock.acquire()).toBe(true);
    expect(lock.locked()).toBe(true);
    expect(await lock.acquire({ timeout: 0 })).toBe(false);
    expect(lock.acquireSync({ timeout: 0 })).toBe(false);
    expect(lock.acquireSync({ timeout: 50 })).toBe(false);
    lock.release();
    expect(lock.locked()).toBe(false);
    expect(() => lock.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_RELEASE_UNLOCKED' }));
    expect(lock.acquireSync()).toBe(true);
    expect(lock.ownerDied).toBe(false);
    lock.release();
  });

  it('withLock / withLockSync release after the function, also when it throws', async () => {
    const lock = new Lock();
    cleanups.push(() => lock.close());
    expect(await lock.withLock(async () => lock.locked())).toBe(true);
    expect(lock.locked()).toBe(false);
    expect(lock.withLockSync(() => 7)).toBe(7);
    await expect(lock.withLock(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(() => lock.withLockSync(() => { throw new Error('bang'); })).toThrow('bang');
    expect(lock.locked()).toBe(false);
  });

  it('may be released by another process (as in Python)', async () => {
    const lock = named(Lock, 'lock-xrel');
    lock.acquireSync();
    const child = spawnNode(
      `import { Lock } from 'posix-mp';
       const lock = Lock.open(process.argv[1]);
       lock.release();
       console.log(lock.locked());`,
      [lock.name],
    );
    const result = await finished(child);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('false');
    expect(lock.locked()).toBe(false);
  });
});

describe('RLock (CPython expectations)', () => {
  it('3 acquires, 3 releases, a 4th release throws', async () => {
    const lock = new RLock();
    cleanups.push(() => lock.close());
    expect(lock.acquireSync()).toBe(true);
    expect(await lock.acquire()).toBe(true);
    expect(lock.acquireSync({ timeout: 0 })).toBe(true);
    expect(lock.count).toBe(3);
    lock.release();
    lock.release();
    expect(lock.locked()).toBe(true);
    lock.release();
    expect(lock.locked()).toBe(false);
    expect(() => lock.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_OWNER' }));
  });

  it('release of an RLock owned by another process throws', async () => {
    const lock = named(RLock, 'rlock-owned');
    const child = holder('RLock', lock.name);
    try {
      await waitForLine(child, /^held$/);
      expect(lock.locked()).toBe(true);
      expect(() => lock.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_OWNER' }));
      expect(lock.acquireSync({ timeout: 0 })).toBe(false);
      expect(await lock.acquire({ timeout: 50 })).toBe(false);
      child.stdin!.write('release\n');
      expect(await lock.acquire({ timeout: 20_000 })).toBe(true);
      expect(lock.ownerDied).toBe(false);
      lock.release();
    } finally {
      child.stdin!.write('exit\n');
      await finished(child);
    }
  });
});

describe.each([
  ['Lock', Lock],
  ['RLock', RLock],
] as const)('%s whose holder is killed with SIGKILL', (kind, Class: LockClass) => {
  it('passes to a synchronous acquirer promptly, which sees ownerDied', async () => {
    const lock = named(Class as typeof Lock, `${kind}-kill-sync`);
    const child = holder(kind, lock.name);
    await waitForLine(child, /^held$/);
    const exited = finished(child);
    child.kill('SIGKILL');
    // No await in between: the child is not reaped yet (a zombie) while this thread blocks — it must still
    // count as dead.
    const start = performance.now();
    expect(lock.acquireSync({ timeout: 10_000 })).toBe(true);
    expect(performance.now() - start).toBeLessThan(2000);
    expect(lock.ownerDied).toBe(true);
    lock.release();
    expect(lock.acquireSync({ timeout: 0 })).toBe(true);
    expect(lock.ownerDied).toBe(false);
    lock.release();
    expect((await exited).signal).toBe('SIGKILL');
  });

  it('passes to a pending async acquirer promptly, which sees ownerDied', async () => {
    const lock = named(Class as typeof Lock, `${kind}-kill-async`);
    const child = holder(kind, lock.name);
    const exited = finished(child);
    await waitForLine(child, /^held$/);
    const pending = lock.acquire({ timeout: 20_000 });
    await sleep(100);
    const start = performance.now();
    child.kill('SIGKILL');
    expect(await pending).toBe(true);
    expect(performance.now() - start).toBeLessThan(2000);
    expect(lock.ownerDied).toBe(true);
    lock.release();
    expect(await lock.acquire()).toBe(true);
    expect(lock.ownerDied).toBe(false);
    lock.release();
    expect((await exited).signal).toBe('SIGKILL');
  });
});

describe.each([
  ['Lock', Lock],
  ['RLock', RLock],
] as const)('%s async acquires', (kind, Class: LockClass) => {
  it('an acquire completed on a waiter thread is released from the main thread', async () => {
    const lock = named(Class as typeof Lock, `${kind}-handoff`);
    const child = holder(kind, lock.name);
    try {
      await waitForLine(child, /^held$/);
      const pending = lock.acquire({ timeout: 20_000 });
      child.stdin!.write('release\n');
      expect(await pending).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
      expect(() => lock.release()).toThrow();
    } finally {
      child.stdin!.write('exit\n');
      await finished(child);
    }
  });

  it('abort of a pending acquire leaves the lock consistent', async () => {
    const lock = named(Class as typeof Lock, `${kind}-abort`);
    const child = holder(kind, lock.name);
    try {
      await waitForLine(child, /^held$/);
      const controller = new AbortController();
      const pending = lock.acquire({ signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      child.stdin!.write('release\n');
      await waitForLine(child, /^released$/);
      expect(lock.locked()).toBe(false);
      // An already aborted signal rejects at once, even when the lock is free.
      await expect(lock.acquire({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
      expect(lock.locked()).toBe(false);
    } finally {
      child.stdin!.write('exit\n');
      await finished(child);
    }
  });

  it('aborts racing with the release never leave the lock held', async () => {
    const lock = new Lock();
    cleanups.push(() => lock.close());
    for (let i = 0; i < 200; i++) {
      expect(lock.acquireSync({ timeout: 0 })).toBe(true);
      const controller = new AbortController();
      const pending = lock.acquire({ signal: controller.signal });
      // Let the native wait start, then release and abort in the same tick: sometimes the waiter thread
      // takes the lock before the cancel arrives, and must give it back.
      await new Promise((r) => setImmediate(r));
      lock.release();
      controller.abort();
      // The abort always wins: the waiter's result could only be delivered on a later turn of the event loop.
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      // Once the waiter thread has reported back, whatever it took has been given back.
      await until(() => binding.pendingWaits() === 0, 'the native wait reports back');
      expect(lock.locked()).toBe(false);
    }
  });

  it('close rejects pending acquires with ERR_MP_CLOSED and leaves the lock free for others', async () => {
    const lock = named(Class as typeof Lock, `${kind}-close`);
    const other = (Class as typeof Lock).open(lock.name);
    const child = holder(kind, lock.name);
    try {
      await waitForLine(child, /^held$/);
      const pending = other.acquire();
      other.close();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
      expect(() => other.locked()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
      await expect(other.acquire()).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
      expect(() => other.acquireSync()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
      expect(() => other.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
      child.stdin!.write('release\n');
      expect(await lock.acquire({ timeout: 20_000 })).toBe(true);
      lock.release();
    } finally {
      child.stdin!.write('exit\n');
      await finished(child);
    }
  });
});

describe('an aborted acquire that the waiter thread had already won', () => {
  it('gives the lock back at the abort, so the same thread can take it synchronously at once', async () => {
    const lock = new Lock();
    try {
      for (let i = 0; i < 100; i++) {
        lock.acquireSync();
        const controller = new AbortController();
        const pending = lock.acquire({ signal: controller.signal });
        lock.release();
        // Only the waiter thread can take the lock now. Wait until it has, without giving the event loop a turn
        // (which would deliver its result before the abort).
        const deadline = Date.now() + 30_000;
        while (!lock.locked()) if (Date.now() > deadline) throw new Error('the waiter thread never took the lock');
        controller.abort();
        // Still without a turn of the event loop: before the abort gave the lock back natively, it stayed held
        // until a result delivery that this blocked thread would never run, and acquireSync waited forever.
        expect(lock.acquireSync({ timeout: 20_000 })).toBe(true);
        lock.release();
        await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      }
    } finally {
      lock.close();
    }
  });
});

/** How many times each /dev/shm object is mapped into this process (per handle: its mapping, plus a mirror). */
function mappingCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const at = line.indexOf('/dev/shm/');
    if (at >= 0) counts.set(line.slice(at + 9), (counts.get(line.slice(at + 9)) ?? 0) + 1);
  }
  return counts;
}

function mappingsOf(name: string): number {
  return mappingCounts().get(name) ?? 0;
}

describe('the uncontended path through WebAssembly (a mirror of the lock word, lib/sync/wasm_lock.ts)', () => {
  it("mirrors a lock's page on its first acquire and drops the mirror at close", () => {
    const lock = named(Lock, 'lock-mirror');
    const mapped = mappingsOf(lock.name);
    expect(mapped).toBe(1);
    expect(lock.acquireSync()).toBe(true);
    expect(mappingsOf(lock.name)).toBe(2);
    // The mirror and the mapping are the same memory: what one takes, the other sees taken.
    const other = Lock.open(lock.name);
    expect(other.locked()).toBe(true);
    expect(other.acquireSync({ timeout: 0 })).toBe(false);
    lock.release();
    expect(other.acquireSync({ timeout: 0 })).toBe(true);
    expect(lock.acquireSync({ timeout: 0 })).toBe(false);
    other.release();
    expect(mappingsOf(lock.name)).toBe(4);
    other.close();
    lock.close();
    // Closed: both mirrors are gone at once (the detached mappings themselves may wait for garbage collection).
    expect(mappingsOf(lock.name)).toBeLessThanOrEqual(2);
  });

  it('keeps working past the window (4,096 mirrored pages), and reuses freed window pages', () => {
    const locks = Array.from({ length: 4200 }, (_, i) => named(Lock, `lock-many-${i}`));
    for (const lock of locks) {
      expect(lock.acquireSync()).toBe(true);
      expect(lock.locked()).toBe(true);
      expect(lock.acquireSync({ timeout: 0 })).toBe(false);
      lock.release();
      expect(lock.locked()).toBe(false);
    }
    // Some words had no room in the window: they use Atomics on their own view, the same protocol.
    const counts = mappingCounts();
    const mirrored = locks.filter((lock) => counts.get(lock.name) === 2).length;
    expect(mirrored).toBe(4096);
    for (const lock of locks) lock.close();
    const late = named(Lock, 'lock-late');
    late.acquireSync();
    expect(mappingsOf(late.name)).toBe(2);
    late.release();
  });

  it('drops the mirror of a lock collected without close()', async () => {
    const name = uniqueName('lock-collected');
    const result = await runNode(
      `import { readFileSync } from 'node:fs';
       import { Lock } from 'posix-mp';
       const name = process.argv[1];
       const count = () => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith('/dev/shm/' + name)).length;
       (() => { const lock = new Lock({ name }); lock.acquireSync(); lock.release(); console.log('in use', count()); })();
       for (let i = 0; i < 100 && count() > 0; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
       console.log('collected', count());
       Lock.open(name).unlink();`,
      [name],
      { NODE_OPTIONS: '--expose-gc' },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('in use 2\ncollected 0\n');
  });
});

describe('naming and bad input', () => {
  it('opens, creates exclusively, and reports ENOENT/EEXIST/wrong kind', () => {
    const lock = named(Lock, 'lock-names');
    const again = new Lock({ name: lock.name });
    const opened = Lock.open(`/${lock.name}`);
    again.acquireSync();
    expect(opened.locked()).toBe(true);
    again.release();
    again.close();
    opened.close();
    expect(() => new Lock({ name: lock.name, exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => Lock.open(uniqueName('missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => RLock.open(lock.name)).toThrow(expect.objectContaining({ code: 'ERR_MP_WRONG_KIND' }));
  });

  it('creates with the given mode (default 0o600)', () => {
    const a = named(Lock, 'lock-mode');
    expect(statSync(`/dev/shm/${a.name}`).mode & 0o777).toBe(0o600);
    const name = uniqueName('lock-mode');
    const b = new Lock({ name, mode: 0o640 });
    cleanups.push(() => {
      b.close();
      b.unlink();
    });
    expect(statSync(`/dev/shm/${name}`).mode & 0o777).toBe(0o640);
  });

  it('throws typed errors before any syscall', async () => {
    const lock = new Lock();
    cleanups.push(() => lock.close());
    for (const name of ['', '/', 'a/b', 'a\0b', 'x'.repeat(300)]) {
      expect(() => new Lock({ name })).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_(INVALID_ARG_VALUE|OUT_OF_RANGE)$/) }));
    }
    expect(() => new Lock({ name: 5 as never })).toThrow(TypeError);
    expect(() => new Lock('x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => lock.acquireSync({ timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => lock.acquireSync({ timeout: NaN })).toThrow(RangeError);
    expect(() => lock.acquireSync({ timeout: '1' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await expect(lock.acquire({ timeout: -5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(lock.acquire({ signal: {} as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(lock.withLock(5 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => lock.withLockSync(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(lock.locked()).toBe(false);
  });
});
