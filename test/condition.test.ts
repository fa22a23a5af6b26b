// Condition: exact notify(n) counts across processes and async tasks, timeouts, waitFor, the default RLock,
// the lock recorded for Condition.open, aborts and closes, and 1,000 pending async waiters (Lock, Event and
// Condition) that leave libuv's thread pool free.
import { pbkdf2, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

import { Condition, Event, Lock, RLock, SharedMemory, Value } from 'posix-mp';
import { finished, sleep, spawnNode, uniqueName, until, waitForLine } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

/** Registers a named object (or anything with close/unlink) for closing and unlinking after the test. */
function track<T extends { name: string; close(): void; unlink(): void }>(object: T): T {
  cleanups.push(() => {
    object.close();
    object.unlink();
    expect(existsSync(`/dev/shm/${object.name}`)).toBe(false);
  });
  return object;
}

function closeAfter<T extends { close(): void }>(object: T): T {
  cleanups.push(() => object.close());
  return object;
}

/** Reads a named Condition's state word (pmp_condition.state, after the header and its pmp_lock). */
function stateOf(name: string): { sleepers: number; notifications: number } {
  const shm = SharedMemory.open(name);
  try {
    const word = shm.buf.readBigUInt64LE(32 + 16);
    return { sleepers: Number((word >> 20n) & 0xfffffn), notifications: Number(word & 0xfffffn) };
  } finally {
    shm.close();
  }
}

describe('Condition across processes', () => {
  it('notify(2) wakes exactly two of six waiters, notify(4) the rest', async () => {
    const lock = track(new Lock({ name: uniqueName('cond-lock') }));
    const cond = track(new Condition(lock, { name: uniqueName('cond-six') }));
    // Two processes with two async waiters each, one with a blocked (sync) waiter; one async waiter here.
    const waiter = `import { Condition } from 'posix-mp';
      const [name, mode, count] = process.argv.slice(1);
      const cond = Condition.open(name);
      async function one() {
        await cond.acquire();
        const r = mode === 'sync' ? cond.waitSync({ timeout: 60000 }) : await cond.wait({ timeout: 60000 });
        cond.release();
        console.log('woke ' + r);
      }
      if (mode === 'sync') one(); else await Promise.all(Array.from({ length: Number(count) }, one));`;
    const children = [
      spawnNode(waiter, [cond.name, 'async', '2']),
      spawnNode(waiter, [cond.name, 'async', '2']),
      spawnNode(waiter, [cond.name, 'sync', '1']),
    ];
    let out = '';
    for (const child of children) child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exits = children.map((c) => finished(c));
    let here: boolean | undefined;
    const local = (async () => {
      await cond.acquire();
      here = await cond.wait({ timeout: 60_000 });
      cond.release();
    })();
    const woken = () => (out.match(/woke true/g)?.length ?? 0) + (here === true ? 1 : 0);

    await until(() => stateOf(cond.name).sleepers === 6, 'six waiters sleep');
    await cond.acquire();
    cond.notify(2);
    cond.release();
    await until(() => woken() === 2, 'two waiters wake');
    await sleep(500);
    expect(woken()).toBe(2);
    expect(stateOf(cond.name)).toEqual({ sleepers: 4, notifications: 0 });

    await cond.acquire();
    cond.notify(4);
    cond.release();
    await local;
    for (const r of await Promise.all(exits)) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    expect(woken()).toBe(6);
    expect(out).not.toContain('woke false');
    expect(stateOf(cond.name)).toEqual({ sleepers: 0, notifications: 0 });
  });

  it('waitForSync sees a predicate made true by another process', async () => {
    const shm = new SharedMemory({ name: uniqueName('cond-flag'), size: 8 });
    cleanups.push(() => {
      shm.close();
      shm.unlink();
    });
    const cond = track(new Condition(undefined, { name: uniqueName('cond-pred') }));
    const exited = finished(
      spawnNode(
        `import { Condition, SharedMemory } from 'posix-mp';
         const [condName, shmName] = process.argv.slice(1);
         const cond = Condition.open(condName);
         const shm = SharedMemory.open(shmName);
         for (let i = 1; i <= 3; i++) {
           await new Promise((r) => setTimeout(r, 100));
           await cond.withLock(() => { shm.buf[0] = i; cond.notifyAll(); });
         }`,
        [cond.name, shm.name],
      ),
    );
    cond.acquireSync();
    try {
      expect(cond.waitForSync(() => shm.buf[0] === 3, { timeout: 30_000 })).toBe(true);
    } finally {
      cond.release();
    }
    const r = await exited;
    expect(r.stderr).toBe('');
  });

  it('the default lock is a recursive RLock that wait releases completely and restores', async () => {
    const cond = track(new Condition(undefined, { name: uniqueName('cond-rlock') }));
    cond.acquireSync();
    cond.acquireSync();
    const child = spawnNode(
      `import { Condition } from 'posix-mp';
       const cond = Condition.open(process.argv[1]);
       console.log('busy ' + cond.acquireSync({ timeout: 0 }));
       process.stdin.once('data', () => {
         // The parent is waiting: its two levels are released, so this acquire succeeds.
         cond.acquireSync();
         cond.notify();
         cond.release();
         console.log('notified');
         process.stdin.destroy();
       });`,
      [cond.name],
    );
    const exited = finished(child);
    expect(await waitForLine(child, /^busy/)).toBe('busy false');
    child.stdin!.write('go\n');
    expect(await cond.wait({ timeout: 30_000 })).toBe(true);
    cond.release();
    cond.release();
    expect(() => cond.release()).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_OWNER' }));
    expect((await exited).stdout).toContain('notified');
  });

  it('many timed waits racing with notifies leave no sleeper or notification behind', async () => {
    const lock = track(new Lock({ name: uniqueName('cond-race-lock') }));
    const cond = track(new Condition(lock, { name: uniqueName('cond-race') }));
    const worker = `import { Condition } from 'posix-mp';
      const cond = Condition.open(process.argv[1]);
      let notified = 0;
      for (let i = 0; i < 150; i++) {
        await cond.acquire();
        if (i % 2 === 0) { if (cond.waitSync({ timeout: 1 + (i % 4) })) notified++; }
        else if (await cond.wait({ timeout: 1 + (i % 3) })) notified++;
        if (i % 5 === 0) cond.notify(1);
        cond.release();
      }
      console.log('done ' + notified);`;
    const exits = [0, 1].map(() => finished(spawnNode(worker, [cond.name])));
    let done = 0;
    void Promise.all(exits).then(() => (done = 1));
    while (!done) {
      await cond.acquire();
      cond.notify(1);
      cond.release();
      await sleep(2);
    }
    for (const r of await Promise.all(exits)) {
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^done \d+/);
    }
    expect(stateOf(cond.name)).toEqual({ sleepers: 0, notifications: 0 });
  });
});

describe('Condition producer/consumer', () => {
  it('notify(1) per item never loses a wakeup: consumers in four processes take every item', async () => {
    const lock = track(new Lock({ name: uniqueName('cond-pc-lock') }));
    const cond = track(new Condition(lock, { name: uniqueName('cond-pc') }));
    const shm = new SharedMemory({ name: uniqueName('cond-pc-shm'), size: 8 });
    cleanups.push(() => {
      shm.close();
      shm.unlink();
    });
    // [0]: items available, [1]: 1 once the producer is done.
    const view = new Int32Array(shm.buf.buffer, shm.buf.byteOffset, 2);
    const consumer = `import { Condition, SharedMemory } from 'posix-mp';
      const [condName, shmName, mode] = process.argv.slice(1);
      const cond = Condition.open(condName);
      const shm = SharedMemory.open(shmName);
      const view = new Int32Array(shm.buf.buffer, shm.buf.byteOffset, 2);
      const ready = () => view[0] > 0 || view[1] === 1;
      let got = 0;
      for (;;) {
        await cond.acquire();
        const ok = mode === 'sync' ? cond.waitForSync(ready, { timeout: 30000 }) : await cond.waitFor(ready, { timeout: 30000 });
        if (!ok) { cond.release(); console.log('timed out'); process.exit(1); }
        const item = view[0] > 0;
        if (item) { view[0]--; got++; }
        cond.release();
        if (!item) break;
      }
      console.log('got ' + got);`;
    const exits = ['sync', 'async', 'sync', 'async'].map((mode) => finished(spawnNode(consumer, [cond.name, shm.name, mode])));
    const items = 1000;
    for (let i = 0; i < items; i++) {
      await cond.acquire();
      view[0]!++;
      cond.notify(1);
      cond.release();
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await cond.withLock(() => {
      view[1] = 1;
      cond.notifyAll();
    });
    const results = await Promise.all(exits);
    let total = 0;
    for (const r of results) {
      expect(r.stderr).toBe('');
      total += Number(/^got (\d+)$/m.exec(r.stdout)?.[1]);
    }
    expect(total).toBe(items);
    expect(view[0]).toBe(0);
  });
});

describe('Condition (CPython expectations)', () => {
  it('wait(100 ms) → false, sync and async, and returns holding the lock', async () => {
    for (const lock of [undefined, closeAfter(new Lock()), closeAfter(new RLock())]) {
      const cond = closeAfter(new Condition(lock));
      cond.acquireSync();
      let start = performance.now();
      expect(cond.waitSync({ timeout: 100 })).toBe(false);
      expect(performance.now() - start).toBeGreaterThanOrEqual(95);
      expect(await cond.wait({ timeout: 100 })).toBe(false);
      expect(await cond.wait({ timeout: 0 })).toBe(false);
      start = performance.now();
      expect(await cond.waitFor(() => false, { timeout: 100 })).toBe(false);
      expect(performance.now() - start).toBeGreaterThanOrEqual(95);
      expect(cond.waitForSync(() => 0 as unknown as boolean, { timeout: 50 })).toBe(false);
      expect(cond.waitForSync(() => true)).toBe(true);
      cond.release();
    }
  });

  it('waitFor returns once an async task makes the predicate true', async () => {
    const cond = closeAfter(new Condition(closeAfter(new Lock())));
    let ready = false;
    setTimeout(() => {
      void cond.withLock(() => {
        ready = true;
        cond.notifyAll();
      });
    }, 50);
    await cond.acquire();
    expect(await cond.waitFor(() => ready, { timeout: 30_000 })).toBe(true);
    cond.release();
  });

  it('wait, waitFor and notify without holding the lock throw ERR_MP_NOT_OWNER', async () => {
    const cond = closeAfter(new Condition());
    const notOwner = { code: 'ERR_MP_NOT_OWNER' };
    await expect(cond.wait({ timeout: 10 })).rejects.toMatchObject(notOwner);
    expect(() => cond.waitSync({ timeout: 10 })).toThrow(expect.objectContaining(notOwner));
    await expect(cond.waitFor(() => false)).rejects.toMatchObject(notOwner);
    expect(() => cond.waitForSync(() => false)).toThrow(expect.objectContaining(notOwner));
    expect(() => cond.notify()).toThrow(expect.objectContaining(notOwner));
    expect(() => cond.notifyAll()).toThrow(expect.objectContaining(notOwner));
    expect(() => cond.release()).toThrow(expect.objectContaining(notOwner));
    // A plain Lock held by another process is not "owned" either.
    const name = uniqueName('cond-notowner');
    const lock = track(new Lock({ name }));
    const other = closeAfter(new Condition(lock));
    const child = spawnNode(
      `import { Lock } from 'posix-mp';
       const lock = Lock.open(process.argv[1]);
       lock.acquireSync();
       console.log('held');
       process.stdin.once('data', () => { lock.release(); process.exit(0); });`,
      [name],
    );
    const exited = finished(child);
    await waitForLine(child, /^held$/);
    expect(() => other.notify()).toThrow(expect.objectContaining(notOwner));
    child.stdin!.write('x');
    await exited;
  });

  it('an aborted wait rejects with the reason, holding the lock again, and takes no notification', async () => {
    const lock = closeAfter(new Lock());
    const cond = closeAfter(new Condition(lock));
    const controller = new AbortController();
    const waits = [0, 1].map(async (i) => {
      await cond.acquire();
      try {
        return await cond.wait({ timeout: 30_000, signal: i === 0 ? controller.signal : undefined });
      } catch (error) {
        expect(lock.locked()).toBe(true);
        throw error;
      } finally {
        cond.release();
      }
    });
    await sleep(100);
    controller.abort();
    await expect(waits[0]).rejects.toMatchObject({ name: 'AbortError' });
    await cond.acquire();
    cond.notify(1);
    cond.release();
    expect(await waits[1]).toBe(true);
    await expect(cond.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(lock.locked()).toBe(false);
  });
});

describe('Condition lock recorded for open()', () => {
  it('opens the named Lock its creator gave it; rejects a different lock', async () => {
    const lock = track(new RLock({ name: uniqueName('cond-ref-lock') }));
    const cond = track(new Condition(lock, { name: uniqueName('cond-ref') }));
    const opened = closeAfter(Condition.open(cond.name));
    opened.acquireSync();
    expect(lock.locked()).toBe(true);
    expect(lock.count).toBe(1);
    opened.release();
    closeAfter(new Condition(lock, { name: cond.name })).acquireSync();
    lock.release();
    const other = closeAfter(new Lock());
    expect(() => new Condition(other, { name: cond.name })).toThrow(expect.objectContaining({ code: 'ERR_MP_MISMATCH' }));
    const own = track(new Condition(undefined, { name: uniqueName('cond-own') }));
    expect(() => new Condition(lock, { name: own.name })).toThrow(expect.objectContaining({ code: 'ERR_MP_MISMATCH' }));
  });

  it('opens the lock of a named Value', () => {
    const value = track(new Value('i', 0, { name: uniqueName('cond-value') }));
    const cond = track(new Condition(value.getLock(), { name: uniqueName('cond-vref') }));
    const opened = closeAfter(Condition.open(cond.name));
    opened.acquireSync();
    expect(value.getLock().locked()).toBe(true);
    opened.release();
    expect(value.getLock().locked()).toBe(false);
  });

  it('cannot open a Condition whose lock is anonymous without that lock', () => {
    const lock = closeAfter(new Lock());
    const cond = track(new Condition(lock, { name: uniqueName('cond-anon') }));
    expect(() => Condition.open(cond.name)).toThrow(expect.objectContaining({ code: 'ERR_MP_ANONYMOUS_LOCK' }));
    const again = closeAfter(new Condition(lock, { name: cond.name }));
    again.acquireSync();
    expect(lock.locked()).toBe(true);
    again.release();
  });
});

describe('Condition lifetime and input', () => {
  it('close rejects pending waits with ERR_MP_CLOSED (re-acquiring a given lock) and closes the handle', async () => {
    const lock = closeAfter(new Lock());
    const cond = new Condition(lock);
    await cond.acquire();
    const pending = cond.wait();
    cond.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    expect(lock.locked()).toBe(true);
    lock.release();
    const own = new Condition(undefined, { name: uniqueName('cond-close') });
    track(own);
    await own.acquire();
    const ownPending = own.wait();
    own.close();
    await expect(ownPending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    const closed = { code: 'ERR_MP_CLOSED' };
    for (const c of [cond, own]) {
      expect(c.closed).toBe(true);
      await expect(c.acquire()).rejects.toMatchObject(closed);
      expect(() => c.acquireSync()).toThrow(expect.objectContaining(closed));
      expect(() => c.release()).toThrow(expect.objectContaining(closed));
      expect(() => c.notify()).toThrow(expect.objectContaining(closed));
      expect(() => c.notifyAll()).toThrow(expect.objectContaining(closed));
      expect(() => c.waitSync()).toThrow(expect.objectContaining(closed));
      await expect(c.wait()).rejects.toMatchObject(closed);
      await expect(c.waitFor(() => true)).rejects.toMatchObject(closed);
    }
    // The closed Condition's waiter left: the object counts no sleeper.
    expect(stateOf(own.name)).toEqual({ sleepers: 0, notifications: 0 });
    // A closed lock cannot be given.
    const dead = new Lock();
    dead.close();
    expect(() => new Condition(dead)).toThrow(expect.objectContaining(closed));
  });

  it('throws typed errors for bad input', async () => {
    const cond = closeAfter(new Condition());
    expect(() => new Condition(5 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Condition({} as never)).toThrow(TypeError);
    expect(() => new Condition(undefined, { name: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => Condition.open(uniqueName('missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    cond.acquireSync();
    expect(() => cond.notify(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => cond.notify(1.5)).toThrow(RangeError);
    expect(() => cond.notify('2' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => cond.waitSync({ timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    await expect(cond.wait({ signal: 1 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(cond.waitFor('x' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => cond.waitForSync(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    cond.notify(0);
    cond.release();
  });
});

describe('1,000 pending async waiters', () => {
  it('leave fs.readFile and crypto.pbkdf2 working, then all complete', { timeout: 180_000 }, async () => {
    const lock = closeAfter(new Lock());
    const event = closeAfter(new Event());
    const condLock = closeAfter(new Lock());
    const cond = track(new Condition(condLock, { name: uniqueName('cond-1000') }));
    lock.acquireSync();
    const lockWaits = Array.from({ length: 334 }, () =>
      lock.acquire().then((ok) => {
        lock.release();
        return ok;
      }),
    );
    const eventWaits = Array.from({ length: 333 }, () => event.wait());
    const condWaits = Array.from({ length: 333 }, async () => {
      await cond.acquire();
      try {
        return await cond.wait();
      } finally {
        cond.release();
      }
    });
    await until(() => stateOf(cond.name).sleepers === 333, '333 waiters sleep', { timeout: 120_000 });

    // libuv's pool (4 threads) must be free: more fs and crypto jobs than it has threads all finish.
    const start = performance.now();
    const jobs = await Promise.all([
      ...Array.from({ length: 8 }, () => readFile(new URL('../package.json', import.meta.url), 'utf8')),
      ...Array.from({ length: 8 }, () => promisify(pbkdf2)('secret', randomBytes(8), 1000, 32, 'sha256')),
    ]);
    expect(jobs).toHaveLength(16);
    expect(performance.now() - start).toBeLessThan(20_000);

    event.set();
    await cond.withLock(() => cond.notifyAll());
    lock.release();
    const results = await Promise.all([...lockWaits, ...eventWaits, ...condWaits]);
    expect(results.every((r) => r === true)).toBe(true);
    expect(stateOf(cond.name)).toEqual({ sleepers: 0, notifications: 0 });
    expect(lock.locked()).toBe(false);
  });
});
