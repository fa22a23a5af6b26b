// Barrier: CPython's semantics across real processes — one index 0 per round, action in the releasing
// party, abort/reset/timeouts breaking and recovering it — plus async parties, closes and typed errors.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

import { Barrier, BrokenBarrierError } from 'posix-mp';
import { finished, sleep, spawnNode, uniqueName, until, type ChildResult } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

function namedBarrier(parties: number, tag: string, options: { timeout?: number; action?: () => void } = {}): Barrier {
  const barrier = new Barrier(parties, { name: uniqueName(tag), ...options });
  cleanups.push(() => {
    barrier.close();
    barrier.unlink();
    expect(existsSync(`/dev/shm/${barrier.name}`)).toBe(false);
  });
  return barrier;
}

function closeAfter<T extends { close(): void }>(object: T): T {
  cleanups.push(() => object.close());
  return object;
}

/** For `until`'s failure message: what the parties in other processes printed, if they have exited (e.g. failed to start). */
function partiesOutput(others: Promise<ChildResult>[]): Promise<unknown> {
  return Promise.race([Promise.all(others), sleep(1000).then(() => 'still running')]);
}

/**
 * A party in another process: waits `rounds` times (sync or async, optional timeout) and prints
 * "index N", "broken <code>" or "error <message>" per round; with `action`, prints "action" when its
 * arrival releases the barrier.
 */
const PARTY = `import { Barrier, BrokenBarrierError } from 'posix-mp';
  const [name, mode, rounds, timeout] = process.argv.slice(1);
  const barrier = Barrier.open(name, { action: () => console.log('action') });
  const options = timeout ? { timeout: Number(timeout) } : undefined;
  for (let i = 0; i < Number(rounds); i++) {
    try {
      const index = mode === 'sync' ? barrier.waitSync(options) : await barrier.wait(options);
      console.log('index ' + index);
    } catch (error) {
      if (error instanceof BrokenBarrierError) console.log('broken ' + error.code);
      else console.log('error ' + error.message);
    }
  }
  barrier.close();`;

function party(name: string, mode: 'sync' | 'async', rounds = 1, timeout?: number): Promise<ChildResult> {
  return finished(spawnNode(PARTY, [name, mode, String(rounds), timeout === undefined ? '' : String(timeout)]));
}

/**
 * This process's wait in a round with parties in other processes. If it fails, the error says what those
 * parties printed (a party that could not start would otherwise just look like a missing party).
 */
async function waitWith(barrier: Barrier, others: Promise<ChildResult>[]): Promise<number> {
  try {
    return await barrier.wait({ timeout: 30_000 });
  } catch (error) {
    const outputs = await Promise.race([Promise.all(others), new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    throw new Error(`${String(error)}; the other parties: ${JSON.stringify(outputs)}`);
  }
}

function indexes(results: ChildResult[]): number[] {
  return results.flatMap((r) => [...r.stdout.matchAll(/^index (\d+)$/gm)].map((m) => Number(m[1])));
}

describe('Barrier of 5 processes', () => {
  it('releases all five together; exactly one gets index 0; the action runs once per round', async () => {
    const barrier = namedBarrier(5, 'barrier-five');
    const results = await Promise.all([
      party(barrier.name, 'sync', 3),
      party(barrier.name, 'async', 3),
      party(barrier.name, 'sync', 3),
      party(barrier.name, 'async', 3),
      party(barrier.name, 'async', 3),
    ]);
    for (const r of results) expect(r.stderr).toBe('');
    const all = indexes(results);
    expect(all).toHaveLength(15);
    expect(all.filter((i) => i === 0)).toHaveLength(3);
    expect([...all].sort()).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    expect(results.map((r) => r.stdout.match(/^action$/gm)?.length ?? 0).reduce((a, b) => a + b)).toBe(3);
    expect(barrier.broken).toBe(false);
    expect(barrier.nWaiting).toBe(0);
  });

  it('abort breaks the waiting parties; reset makes it usable again', async () => {
    const barrier = namedBarrier(5, 'barrier-abort');
    const waiting = [party(barrier.name, 'sync'), party(barrier.name, 'async'), party(barrier.name, 'async')];
    await until(() => barrier.nWaiting === 3, 'three parties wait', { explain: () => partiesOutput(waiting) });
    barrier.abort();
    expect(barrier.broken).toBe(true);
    for (const r of await Promise.all(waiting)) {
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('broken ERR_MP_BROKEN_BARRIER');
    }
    // Broken until reset: a new wait fails at once.
    await expect(barrier.wait()).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(() => barrier.waitSync()).toThrow(BrokenBarrierError);
    barrier.reset();
    expect(barrier.broken).toBe(false);
    const others = [party(barrier.name, 'sync'), party(barrier.name, 'async'), party(barrier.name, 'async'), party(barrier.name, 'sync')];
    const here = await waitWith(barrier, others);
    const all = [...indexes(await Promise.all(others)), here].sort();
    expect(all).toEqual([0, 1, 2, 3, 4]);
  });

  it('a late party breaks a timed wait', async () => {
    const barrier = namedBarrier(2, 'barrier-late');
    const early = await party(barrier.name, 'async', 1, 200);
    expect(early.stderr).toBe('');
    expect(early.stdout.trim()).toBe('broken ERR_MP_BROKEN_BARRIER');
    expect(barrier.broken).toBe(true);
    // The late party finds it broken.
    await expect(barrier.wait({ timeout: 10_000 })).rejects.toMatchObject({ code: 'ERR_MP_BROKEN_BARRIER' });
    const sync = await party(barrier.name, 'sync', 1, 200);
    expect(sync.stdout.trim()).toBe('broken ERR_MP_BROKEN_BARRIER');
    barrier.reset();
    const other = party(barrier.name, 'sync');
    const here = await waitWith(barrier, [other]);
    expect([...indexes([await other]), here].sort()).toEqual([0, 1]);
  });

  it('reset while parties wait breaks their wait, and the barrier is usable once they left', async () => {
    const barrier = namedBarrier(3, 'barrier-reset');
    const waiting = [party(barrier.name, 'sync'), party(barrier.name, 'async')];
    await until(() => barrier.nWaiting === 2, 'two parties wait', { explain: () => partiesOutput(waiting) });
    barrier.reset();
    for (const r of await Promise.all(waiting)) expect(r.stdout.trim()).toBe('broken ERR_MP_BROKEN_BARRIER');
    expect(barrier.broken).toBe(false);
    const others = [party(barrier.name, 'async'), party(barrier.name, 'sync')];
    const here = await waitWith(barrier, others);
    expect([...indexes(await Promise.all(others)), here].sort()).toEqual([0, 1, 2]);
  });
  it('a timeout is honoured while the previous round cannot finish draining (a party stopped inside wait)', async () => {
    const barrier = namedBarrier(2, 'barrier-wedged');
    const stopped = spawnNode(PARTY, [barrier.name, 'sync', '1', '']);
    const result = finished(stopped);
    try {
      await until(() => barrier.nWaiting === 1, 'the other party waits', { explain: () => partiesOutput([result]) });
      // Stopped in its futex wait, it can neither see the release nor leave the round: the round drains forever.
      process.kill(stopped.pid!, 'SIGSTOP');
      expect(barrier.waitSync({ timeout: 10_000 })).toBe(1);
      expect(() => barrier.waitSync({ timeout: 200 })).toThrow(BrokenBarrierError);
      await expect(barrier.wait({ timeout: 200 })).rejects.toBeInstanceOf(BrokenBarrierError);
      expect(barrier.broken).toBe(true);
    } finally {
      process.kill(stopped.pid!, 'SIGKILL');
      await result;
    }
  });
});

describe('Barrier in one process', () => {
  it('async parties pass round after round; the action runs in the releasing party', async () => {
    let actions = 0;
    const barrier = closeAfter(new Barrier(3, { action: () => actions++ }));
    expect(barrier.parties).toBe(3);
    for (let round = 0; round < 30; round++) {
      const got = await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()]);
      expect([...got].sort()).toEqual([0, 1, 2]);
    }
    expect(actions).toBe(30);
  });

  it('a throwing action breaks the barrier and reaches the releasing party', async () => {
    const barrier = closeAfter(
      new Barrier(2, {
        action: () => {
          throw new Error('action failed');
        },
      }),
    );
    const first = barrier.wait();
    await until(() => barrier.nWaiting === 1, 'one party waits');
    await expect(barrier.wait()).rejects.toThrow('action failed');
    await expect(first).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(barrier.broken).toBe(true);
  });

  it('uses the constructor timeout by default; a wait timeout overrides it', async () => {
    const barrier = closeAfter(new Barrier(2, { timeout: 100 }));
    let start = performance.now();
    expect(() => barrier.waitSync()).toThrow(BrokenBarrierError);
    expect(performance.now() - start).toBeGreaterThanOrEqual(95);
    barrier.reset();
    start = performance.now();
    await expect(barrier.wait()).rejects.toMatchObject({ name: 'BrokenBarrierError', code: 'ERR_MP_BROKEN_BARRIER' });
    barrier.reset();
    const long = barrier.wait({ timeout: 60_000 });
    await sleep(300);
    expect(barrier.nWaiting).toBe(1);
    expect(await barrier.wait()).toBe(1);
    expect(await long).toBe(0);
  });

  it('an aborted wait breaks the barrier and rejects with the reason', async () => {
    const barrier = closeAfter(new Barrier(3));
    const controller = new AbortController();
    const other = barrier.wait();
    const aborted = barrier.wait({ signal: controller.signal });
    await until(() => barrier.nWaiting === 2, 'two parties wait');
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    await expect(other).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(barrier.broken).toBe(true);
    await expect(barrier.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('close breaks the barrier for the other parties and rejects its pending waits with ERR_MP_CLOSED', async () => {
    const barrier = namedBarrier(3, 'barrier-close');
    const other = closeAfter(Barrier.open(barrier.name));
    const theirs = barrier.wait();
    const mine = other.wait();
    await until(() => barrier.nWaiting === 2, 'two parties wait');
    other.close();
    await expect(mine).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    await expect(theirs).rejects.toBeInstanceOf(BrokenBarrierError);
    expect(barrier.broken).toBe(true);
    expect(barrier.nWaiting).toBe(0);
    const closed = { code: 'ERR_MP_CLOSED' };
    await expect(other.wait()).rejects.toMatchObject(closed);
    expect(() => other.waitSync()).toThrow(expect.objectContaining(closed));
    expect(() => other.reset()).toThrow(expect.objectContaining(closed));
    expect(() => other.abort()).toThrow(expect.objectContaining(closed));
    expect(() => other.nWaiting).toThrow(expect.objectContaining(closed));
    expect(() => other.broken).toThrow(expect.objectContaining(closed));
    barrier.reset();
    expect(barrier.broken).toBe(false);
  });

  it('throws typed errors for bad input; names behave like every named object', () => {
    for (const parties of [0, -1, 1.5, NaN]) {
      expect(() => new Barrier(parties)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(() => new Barrier('3' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Barrier(2, { action: 5 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Barrier(2, { timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Barrier(2, 'x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => new Barrier(2, { name: 'a/b' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => Barrier.open(uniqueName('missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const barrier = namedBarrier(4, 'barrier-names');
    expect(() => new Barrier(5, { name: barrier.name })).toThrow(expect.objectContaining({ code: 'ERR_MP_MISMATCH' }));
    expect(() => new Barrier(4, { name: barrier.name, exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    const same = closeAfter(new Barrier(4, { name: barrier.name }));
    const opened = closeAfter(Barrier.open(barrier.name, { timeout: 10 }));
    expect(same.parties).toBe(4);
    expect(opened.parties).toBe(4);
    expect(() => opened.waitSync()).toThrow(BrokenBarrierError);
    expect(barrier.broken).toBe(true);
    expect(() => Barrier.open(barrier.name, { action: 'x' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => barrier.waitSync({ timeout: -3 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const error = new BrokenBarrierError();
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('BrokenBarrierError');
    expect(error.code).toBe('ERR_MP_BROKEN_BARRIER');
  });
});
