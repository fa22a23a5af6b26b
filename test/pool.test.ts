// Pool: every call form with real worker processes (targets in fixtures/pool-tasks.mjs), results in input
// order, errors that keep their class and code, workers SIGKILLed or exiting inside a task (their tasks
// reject with ERR_MP_WORKER_DIED, the pool goes on), terminate() during a map, shared objects in tasks,
// initializer and maxTasksPerChild, streaming input with bounded read-ahead, abort and timeout.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { afterAll, describe, expect, it } from 'vitest';

import { activeChildren, Event, getAllStartMethods, Lock, Pool, Value } from 'posix-mp';
import { until } from './helpers.js';

// Node's own instance of the module (vitest's import() would give a transformed copy): the one the workers
// import, and the one this process imports when a task's error class arrives.
const tasks = createRequire(import.meta.url)('./fixtures/pool-tasks.mjs') as Record<string, any>;
const { add, same, exitWith, fail, failOn, init, initializedWith, increment, killSelf, pid, publishAndHold, slowSquare, square, TaskError, waitFor } = tasks;

type Outcome = { value: unknown } | { error: any };
const outcome = (p: Promise<unknown>): Promise<Outcome> => p.then((value) => ({ value }), (error: unknown) => ({ error }));

/** Whether a process with this pid exists (a zombie counts; a reaped one does not). */
function exists(pidNumber: number): boolean {
  try {
    process.kill(pidNumber, 0);
    return true;
  } catch {
    return false;
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

afterAll(() => {
  for (const p of activeChildren()) p.kill();
});

describe('Pool calls', () => {
  it('apply, map, starmap, imap and imapUnordered give the results of the workers, in input order except imapUnordered', async () => {
    await using pool = new Pool(3);
    expect(await pool.apply(square, [7])).toBe(49);
    expect(await pool.apply(add, [2, 3])).toBe(5);
    const items = Array.from({ length: 100 }, (_, i) => i);
    expect(await pool.map(square, items)).toEqual(items.map((x) => x * x));
    expect(await pool.map(square, items, { chunksize: 1 })).toEqual(items.map((x) => x * x));
    expect(await pool.map(square, new Set([1, 2, 3]))).toEqual([1, 4, 9]);
    expect(await pool.starmap(add, [[1, 2], [3, 4], [5, 6]])).toEqual([3, 7, 11]);
    expect(await collect(pool.imap(square, items, { chunksize: 7 }))).toEqual(items.map((x) => x * x));
    const unordered = await collect(pool.imapUnordered(slowSquare, [5, 1, 4, 2, 3]));
    expect(unordered.sort((a, b) => Number(a) - Number(b))).toEqual([1, 4, 9, 16, 25]);
    expect(await pool.map(square, [])).toEqual([]);
    expect(await collect(pool.imap(square, []))).toEqual([]);
  });

  it('values come back as they were sent: numbers (-0, NaN, 2**53, lists of them), strings, bigints, objects', async () => {
    await using pool = new Pool(2);
    const mixed = [0, -0, 1.5, NaN, 2 ** 53, 'a', null, undefined, 10n, { a: [1] }, [2, 'b'], true];
    expect(await pool.map(same, mixed)).toEqual(mixed);
    const numbers = Array.from({ length: 100 }, (_, i) => (i % 2 ? -i / 3 : i * 2 ** 40));
    numbers[7] = -0;
    for (const chunksize of [1, 10, 100]) {
      const back = await pool.map<number>(same, numbers, { chunksize });
      expect(back).toEqual(numbers);
      expect(Object.is(back[7], -0)).toBe(true);
      expect(Array.isArray(back)).toBe(true);
    }
    expect(await collect(pool.imap(same, numbers, { chunksize: 25 }))).toEqual(numbers);
  });

  it('takes async iterables, and async task functions', async () => {
    await using pool = new Pool(2);
    async function* numbers(): AsyncGenerator<number> {
      for (let i = 0; i < 50; i++) yield i;
    }
    expect(await pool.map(slowSquare, numbers())).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
    expect(await collect(pool.imap(square, numbers(), { chunksize: 4 }))).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
  });

  it('runs the tasks in several worker processes, none of them this one', async () => {
    await using pool = new Pool(3);
    const pids = new Set(await pool.map(pid, Array.from({ length: 60 }), { chunksize: 1 }));
    expect(pids.has(process.pid)).toBe(false);
    expect(pids.size).toBeGreaterThan(1);
  });

  it("starts its workers with the start method it is given: 'spawn' workers are this process's children, 'forkserver' ones the fork server's", async () => {
    const parentOf = (child: number): number => Number(readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    for (const startMethod of getAllStartMethods()) {
      await using pool = new Pool(2, { startMethod });
      const parents = new Set((await pool.map<number>(pid, Array.from({ length: 20 }), { chunksize: 1 })).map(parentOf));
      if (startMethod === 'spawn') expect([...parents]).toEqual([process.pid]);
      else expect(parents.has(process.pid)).toBe(false);
    }
    expect(() => new Pool(1, { startMethod: 'fork' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }) as Error);
  });

  it('imap streams: it reads its input only a bounded distance ahead of the consumer, and stops when the loop is left', async () => {
    await using pool = new Pool(2);
    let read = 0;
    let closed = false;
    function* endless(): Generator<number> {
      try {
        for (let i = 0; ; i++) {
          read++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const got: number[] = [];
    for await (const x of pool.imap<number>(square, endless())) {
      got.push(x);
      if (got.length === 10) break;
    }
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i * i));
    expect(read).toBeLessThan(1000);
    expect(closed).toBe(true);
    expect(await pool.apply(square, [3])).toBe(9);
  });

  it('a { module, export } target works like a function', async () => {
    await using pool = new Pool(1);
    expect(await pool.map({ module: new URL('./fixtures/pool-tasks.mjs', import.meta.url), export: 'square' }, [2, 3])).toEqual([4, 9]);
  });

  it('refuses a function the workers could not import, and bad arguments, with typed errors', async () => {
    await using pool = new Pool(1);
    const inline = (x: number): number => x;
    await expect(pool.apply(inline, [1])).rejects.toMatchObject({ code: 'ERR_MP_TARGET_NOT_FOUND' });
    await expect(pool.map(square, 5 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(pool.map(square, [1], { chunksize: 0 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(() => new Pool(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }) as Error);
    expect(await pool.apply(square, [4])).toBe(16);
    // An item that cannot travel fails its call alone.
    const other = pool.map(square, [1, 2, 3, 4], { chunksize: 1 });
    await expect(pool.map(same, [1, inline], { chunksize: 1 })).rejects.toMatchObject({ code: 'ERR_MP_NOT_CLONEABLE' });
    expect(await other).toEqual([1, 4, 9, 16]);
    expect(await pool.apply(square, [5])).toBe(25);
  });
});

describe('Pool errors', () => {
  it("a task that throws rejects with the worker's error — class, message, stack and code — and the pool goes on", async () => {
    await using pool = new Pool(2);
    const type = (await outcome(pool.apply(fail, ['type']))) as { error: any };
    expect(type.error).toBeInstanceOf(TypeError);
    expect(type.error.message).toBe('bad type');
    expect(type.error.code).toBe('ERR_TASK_TYPE');
    expect(type.error.stack).toContain('fail');
    expect(type.error.stack).toContain('pool-tasks.mjs');
    await expect(pool.apply(fail, ['range'])).rejects.toBeInstanceOf(RangeError);
    const custom = (await outcome(pool.apply(fail, ['custom']))) as { error: any };
    expect(custom.error).toBeInstanceOf(TaskError);
    expect(custom.error.name).toBe('TaskError');
    expect(custom.error.message).toBe('custom failure');
    expect(custom.error.detail).toEqual({ n: 42 });
    await expect(pool.apply(fail, ['string'])).rejects.toBe('a string');
    const mapped = (await outcome(pool.map(failOn, [1, 2, 3, 4], { chunksize: 1 }))) as { error: any };
    expect(mapped.error).toBeInstanceOf(RangeError);
    expect(mapped.error.message).toBe('item 3');
    const streamed: number[] = [];
    const streamError = await (async () => {
      try {
        for await (const x of pool.imap<number>(failOn, [1, 2, 3, 4])) streamed.push(x);
      } catch (error) {
        return error;
      }
    })();
    expect(streamed).toEqual([1, 2]);
    expect(streamError).toBeInstanceOf(RangeError);
    expect(await pool.map(square, [1, 2, 3])).toEqual([1, 4, 9]);
  });
});

describe('Pool dead workers', () => {
  it('a worker SIGKILLed inside a task rejects that task with ERR_MP_WORKER_DIED (which task, which signal), is replaced, and the pool goes on', async () => {
    await using pool = new Pool(2);
    // Round-robin: one worker gets 'a', the other 'kill'.
    const result = (await outcome(pool.map(killSelf, ['a', 'kill'], { chunksize: 1 }))) as { error: any };
    expect(result.error.code).toBe('ERR_MP_WORKER_DIED');
    expect(result.error.signal).toBe('SIGKILL');
    expect(result.error.taskIndex).toBe(1);
    expect(result.error.message).toMatch(/killed by SIGKILL while it held task 1 of map\(killSelf\)/);
    expect(await pool.map(square, [1, 2, 3, 4], { chunksize: 1 })).toEqual([1, 4, 9, 16]);
    const pids = new Set(await pool.map(pid, Array.from({ length: 40 }), { chunksize: 1 }));
    expect(pids.size).toBe(2);
    for (const p of pids) expect(exists(p as number)).toBe(true);
  });

  it('a worker killed from outside while it runs a task rejects it with ERR_MP_WORKER_DIED', async () => {
    await using pool = new Pool(2);
    const pidValue = new Value('i', 0);
    const started = new Event();
    const release = new Event();
    const held = outcome(pool.apply(publishAndHold, [pidValue, started, release]));
    await started.wait();
    process.kill(pidValue.value, 'SIGKILL');
    const result = (await held) as { error: any };
    expect(result.error.code).toBe('ERR_MP_WORKER_DIED');
    expect(result.error.pid).toBe(pidValue.value);
    expect(result.error.signal).toBe('SIGKILL');
    expect(await pool.apply(square, [5])).toBe(25);
    for (const o of [pidValue, started, release]) o.close();
  });

  it('a worker that dies while idle is replaced when work comes; the work runs', async () => {
    await using pool = new Pool(2);
    const before = [...new Set(await pool.map(pid, Array.from({ length: 20 }), { chunksize: 1 }))] as number[];
    expect(before.length).toBe(2);
    process.kill(before[0]!, 'SIGKILL');
    await until(() => !exists(before[0]!), 'the worker is gone');
    expect(await pool.map(square, [1, 2, 3, 4, 5, 6], { chunksize: 1 })).toEqual([1, 4, 9, 16, 25, 36]);
    const after = new Set(await pool.map(pid, Array.from({ length: 20 }), { chunksize: 1 }));
    expect(after.has(before[0]!)).toBe(false);
    expect(after.size).toBe(2);
  });

  it('process.exit() inside a task rejects it with ERR_MP_WORKER_DIED and the exit code', async () => {
    await using pool = new Pool(1);
    const result = (await outcome(pool.apply(exitWith, [3]))) as { error: any };
    expect(result.error.code).toBe('ERR_MP_WORKER_DIED');
    expect(result.error.exitCode).toBe(3);
    expect(result.error.message).toMatch(/exited with code 3/);
    expect(await pool.apply(square, [6])).toBe(36);
  });

  it('terminate() during a running map rejects it with ERR_MP_POOL_NOT_RUNNING and leaves no worker running', async () => {
    const pool = new Pool(2);
    const pids = new Set(await pool.map(pid, Array.from({ length: 20 }), { chunksize: 1 }));
    const release = new Event();
    const running = outcome(pool.map(waitFor, Array.from({ length: 10 }, () => release), { chunksize: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await pool.terminate();
    const result = (await running) as { error: any };
    expect(result.error.code).toBe('ERR_MP_POOL_NOT_RUNNING');
    await until(() => [...pids].every((p) => !exists(p as number)), 'the workers are gone');
    await expect(pool.apply(square, [1])).rejects.toMatchObject({ code: 'ERR_MP_POOL_NOT_RUNNING' });
    release.close();
  });
});

describe('Pool shared objects, initializer, maxTasksPerChild', () => {
  it('a Value and a Lock passed in starmap are the same objects in every worker', async () => {
    await using pool = new Pool(3);
    const counter = new Value('i', 0);
    const lock = new Lock();
    await pool.starmap(increment, Array.from({ length: 12 }, () => [counter, lock, 100]), { chunksize: 1 });
    expect(counter.value).toBe(1200);
    counter.close();
    lock.close();
  });

  it('initializer(...initargs) runs once in each worker before its tasks', async () => {
    await using pool = new Pool(2, { initializer: init, initargs: ['ready'] });
    expect(new Set(await pool.map(initializedWith, Array.from({ length: 10 }), { chunksize: 1 }))).toEqual(new Set(['ready']));
  });

  it('maxTasksPerChild replaces a worker after that many tasks', async () => {
    await using pool = new Pool(1, { maxTasksPerChild: 2 });
    const pids = await pool.map(pid, Array.from({ length: 6 }), { chunksize: 1 });
    expect(new Set(pids).size).toBe(3);
  });
});

describe('Pool lifetime and cancellation', () => {
  it('close() then join() waits for the work submitted, then for the workers to exit; calls after close() reject', async () => {
    const pool = new Pool(2);
    await expect(pool.join()).rejects.toMatchObject({ code: 'ERR_MP_RUNNING' });
    const pids = new Set(await pool.map(pid, Array.from({ length: 20 }), { chunksize: 1 }));
    const pending = pool.map(slowSquare, [1, 2, 3, 4], { chunksize: 1 });
    pool.close();
    await expect(pool.apply(square, [1])).rejects.toMatchObject({ code: 'ERR_MP_POOL_NOT_RUNNING' });
    expect(() => pool.imap(square, [1])).toThrow(expect.objectContaining({ code: 'ERR_MP_POOL_NOT_RUNNING' }) as Error);
    await pool.join();
    expect(await pending).toEqual([1, 4, 9, 16]);
    await until(() => [...pids].every((p) => !exists(p as number)), 'the workers are gone');
  });

  it('an AbortSignal or a timeout rejects the call; the pool goes on', async () => {
    await using pool = new Pool(2);
    const release = new Event();
    const controller = new AbortController();
    const aborted = outcome(pool.apply(waitFor, [release], { signal: controller.signal }));
    controller.abort(new Error('stop'));
    expect(((await aborted) as { error: Error }).error.message).toBe('stop');
    await expect(pool.apply(waitFor, [release], { timeout: 50 })).rejects.toMatchObject({ code: 'ERR_MP_TIMEOUT' });
    const stream = pool.imap(waitFor, [release], { timeout: 50 });
    await expect(collect(stream)).rejects.toMatchObject({ code: 'ERR_MP_TIMEOUT' });
    release.set();
    expect(await pool.apply(square, [2])).toBe(4);
    release.close();
  });
});
