// Queue, JoinableQueue and SimpleQueue: Python's semantics in one process, then real processes (targets in
// fixtures/queue-targets.mjs): many producers and consumers, SIGKILLs at random points, large messages,
// shared handles inside items.
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';

import { activeChildren, Empty, Event, Full, JoinableQueue, Lock, Pipe, Process, Queue, RawArray, SimpleQueue, Value, type Connection } from 'posix-mp';
import { sleep, uniqueName, until } from './helpers.js';

const targets = new URL('./fixtures/queue-targets.mjs', import.meta.url);
/** Generous: the machine is loaded. */
const LONG = 60_000;

/** The Task class and square function of the targets module. */
interface TaskLike {
  call(): number;
}
interface Fixtures {
  Task: new (a: number, b: number) => TaskLike;
  square: (x: number) => number;
}

function start(name: string, args: unknown[]): Process {
  const p = new Process({ target: { module: targets, export: name }, args });
  p.start();
  return p;
}

async function joined(p: Process): Promise<void> {
  await p.join(LONG);
  if (p.exitCode === null) p.kill();
  expect(p.exitCode).toBe(0);
}

afterAll(() => {
  for (const p of activeChildren()) p.kill();
});

/**
 * What an assertion compares a got item as: a Buffer as its length. A failed `expect` on a 50 MiB Buffer makes
 * vitest build a diff of it, which grows the worker's heap to its limit (OOM) instead of reporting the failure.
 */
function brief(item: unknown): unknown {
  return Buffer.isBuffer(item) ? `<Buffer of ${item.length} bytes>` : item;
}

/** Whether a streamed message is being written ('put') or read ('get') on the queue (its protected ring). */
function streaming(q: Queue, side: 'put' | 'get'): boolean {
  return (q as unknown as { ring: { streaming(side: 'put' | 'get'): boolean } }).ring.streaming(side);
}

/**
 * Stops a putLarge producer (queue-targets.mjs) that is in the middle of its large message: once it has
 * started and its small first item is taken, with no consumer taking parts, it writes the first part and
 * waits for room, holding the producers' lock; once stopped (state T in /proc), it cannot finish the message,
 * whatever the timing.
 */
async function stopMidMessage(q: Queue, producer: Process, started: Event): Promise<void> {
  expect(await started.wait({ timeout: LONG })).toBe(true);
  expect(q.getSync({ timeout: LONG })).toBe('first');
  const pid = producer.pid!;
  await until(() => streaming(q, 'put'), 'the producer streams the large message', { timeout: LONG });
  process.kill(pid, 'SIGSTOP');
  // The state field follows the command name, which is in parentheses and may contain spaces.
  await until(() => /\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), 'the producer is stopped');
  expect(streaming(q, 'put')).toBe(true);
}

/** The (p, i) entries of a consumer's log (see queue-targets.mjs). */
function entries(log: { view: unknown }): [number, number][] {
  const view = log.view as Int32Array;
  const n = Atomics.load(view, 0);
  return Array.from({ length: n }, (_, k) => [view[1 + 2 * k]!, view[2 + 2 * k]!]);
}

describe('Queue in one process', () => {
  it('is FIFO and carries values, Buffers as bytes, and class-less objects', async () => {
    using q = new Queue();
    const items = [1, 'two', { three: [3] }, null, Buffer.from('bytes'), new Map([[1, 2]]), 2n ** 70n];
    for (const item of items) q.putSync(item);
    expect(q.qsize()).toBe(items.length);
    for (const item of items) expect(await q.get()).toEqual(item);
    expect(q.empty()).toBe(true);
  });

  it('throws Full and Empty: sync, nowait, and async with a timeout', async () => {
    using q = new Queue(2);
    expect(() => q.getNowait()).toThrow(Empty);
    expect(() => q.getSync({ timeout: 20 })).toThrow(expect.objectContaining({ code: 'ERR_MP_EMPTY' }));
    await expect(q.get({ timeout: 20 })).rejects.toBeInstanceOf(Empty);
    q.putNowait(1);
    await q.put(2);
    expect(q.full()).toBe(true);
    expect(() => q.putNowait(3)).toThrow(Full);
    expect(() => q.putSync(3, { timeout: 20 })).toThrow(expect.objectContaining({ code: 'ERR_MP_FULL' }));
    await expect(q.put(3, { timeout: 20 })).rejects.toBeInstanceOf(Full);
    expect(q.qsize()).toBe(2);
    const waiting = q.put(3);
    expect(q.getSync()).toBe(1);
    await waiting;
    expect([q.getSync(), q.getSync()]).toEqual([2, 3]);
  });

  it('close: pending and later gets reject ERR_MP_EOF, async iteration ends; other handles are unaffected', async () => {
    const name = uniqueName('q-close');
    const a = new Queue(0, { name });
    const b = Queue.open(name);
    try {
      const pending = a.get();
      await sleep(20);
      a.close();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
      expect(() => a.getSync()).toThrow(expect.objectContaining({ code: 'ERR_MP_EOF' }));
      expect(() => a.putSync(1)).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
      const seen: unknown[] = [];
      const iterating = (async () => {
        for await (const item of b) seen.push(item);
      })();
      const c = Queue.open(name);
      c.putSync('x');
      c.putSync('y');
      await until(() => seen.length === 2, 'both items are iterated');
      b.close();
      await iterating;
      expect(seen.sort()).toEqual(['x', 'y']);
      c.close();
    } finally {
      a.close();
      b.close();
      a.unlink();
    }
  });

  it('an aborted get leaves no waiter and loses no item', async () => {
    using q = new Queue();
    for (let round = 0; round < 20; round++) {
      const controller = new AbortController();
      const pending = q.get({ signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      q.putSync(round);
      expect(q.getSync({ timeout: 1000 })).toBe(round);
    }
    // An abort racing with puts: every item is either taken by the get or still in the queue.
    for (let round = 0; round < 50; round++) {
      const controller = new AbortController();
      const pending = q.get({ signal: controller.signal }).then(
        (item) => [item],
        () => [],
      );
      q.putSync(round);
      controller.abort();
      const got = [...(await pending), ...(q.empty() ? [] : [q.getSync()])];
      expect(got).toEqual([round]);
    }
  });

  it('named: open-or-create, exclusive, open, unlink; an opened queue keeps its own maxsize and capacity', () => {
    const name = uniqueName('q-named');
    using q = new Queue(3, { name, capacityBytes: 8192 });
    try {
      expect(() => new Queue(0, { name, exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
      using o = Queue.open(name);
      expect([o.maxsize, o.capacityBytes]).toEqual([3, 8192]);
      using again = new Queue(10, { name });
      expect(again.maxsize).toBe(3);
      q.putSync('hi');
      expect(o.getSync()).toBe('hi');
    } finally {
      q.unlink();
    }
    expect(() => Queue.open(name)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => new Queue(0, { capacityBytes: 10 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Queue('1' as unknown as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('messages larger than the ring go through intact, interleaved with small ones', async () => {
    using q = new Queue(0, { capacityBytes: 4096 });
    const big = Buffer.alloc(100_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
    const puts = (async () => {
      for (let n = 0; n < 5; n++) {
        await q.put(n);
        await q.put(big);
        await q.put({ n, text: 'x'.repeat(3000) });
      }
    })();
    for (let n = 0; n < 5; n++) {
      expect(await q.get()).toBe(n);
      expect((await q.get()) as Buffer).toEqual(big);
      expect(await q.get()).toEqual({ n, text: 'x'.repeat(3000) });
    }
    await puts;
  });

  it('1,000 pending async gets leave fs and crypto working, and each gets one item', async () => {
    using q = new Queue();
    const gets = Array.from({ length: 1000 }, () => q.get());
    await sleep(100);
    const { pbkdf2 } = await import('node:crypto');
    // Both complete on libuv's pool while the gets wait on the addon's waiter threads.
    expect((await readFile(new URL(import.meta.url))).length).toBeGreaterThan(0);
    const key = await new Promise<Buffer>((resolve, reject) => pbkdf2('k', 's', 1, 32, 'sha256', (e, k) => (e ? reject(e) : resolve(k))));
    expect(key.length).toBe(32);
    for (let i = 0; i < 1000; i++) q.putSync(i);
    const got = (await Promise.all(gets)) as number[];
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('a named queue refuses anonymous shared objects and Connections inside items, with a clear error', () => {
    const q = new Queue(0, { name: uniqueName('q-refuse') });
    q.unlink();
    using lock = new Lock();
    expect(() => q.putSync({ deep: [lock] })).toThrow(expect.objectContaining({ code: 'ERR_MP_TRANSFER', message: expect.stringMatching(/the Lock in this queue item is anonymous/) }));
    const [a, b] = Pipe();
    try {
      expect(() => q.putSync([a])).toThrow(expect.objectContaining({ code: 'ERR_MP_TRANSFER' }));
    } finally {
      a.close();
      b.close();
    }
    expect(q.qsize()).toBe(0);
    q.close();
  });

  it('an anonymous queue carries anonymous shared objects and Connections in items: they arrive working', async () => {
    using q = new Queue<{ value: Value<number>; lock: Lock; conn: Connection; again: Value<number> }>();
    using value = new Value('i', 5, { lock: false });
    using lock = new Lock();
    const [a, b] = Pipe();
    try {
      q.putSync({ value, lock, conn: a, again: value });
      const got = await q.get();
      expect(got.again).toBe(got.value);
      got.value.value += 1;
      expect(value.value).toBe(6);
      expect(got.lock.acquireSync({ timeout: 0 })).toBe(true);
      expect(lock.locked()).toBe(true);
      got.lock.release();
      got.conn.send('through the passed end');
      expect(await b.recv()).toBe('through the passed end');
      got.conn.close();
      got.value.close();
      got.lock.close();
      // An anonymous queue in an item: its memory and its socket pair go along, so it carries them in turn.
      using inner = new SimpleQueue<{ value: Value<number> }>();
      q.putSync({ inner } as never);
      const { inner: received } = q.getSync() as unknown as { inner: SimpleQueue<{ value: Value<number> }> };
      expect(received).toBeInstanceOf(SimpleQueue);
      received.putSync({ value });
      const again = inner.getSync();
      expect(again.value.value).toBe(6);
      again.value.close();
      received.close();
    } finally {
      a.close();
      b.close();
    }
  });

  it('anonymous shared objects and Connections in items reach child processes, which use them', async () => {
    using q = new Queue();
    using value = new Value('i', 0, { lock: false });
    using lock = new Lock();
    const children = [start('useAnonymous', [q]), start('useAnonymous', [q])];
    const readers: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const [a, b] = Pipe();
      await q.put({ value, lock, conn: a });
      a.close();
      readers.push(b.recv({ timeout: LONG }).finally(() => b.close()));
    }
    await q.put(null);
    await q.put(null);
    const pids = new Set(await Promise.all(readers));
    for (const c of children) await joined(c);
    expect(value.value).toBe(20);
    for (const pid of pids) expect(children.map((c) => c.pid)).toContain(pid);
  });

  it('more items with descriptors than the socket buffer holds: puts wait for gets, nothing is lost', async () => {
    using q = new Queue<{ i: number; value: Value<number> }>();
    using value = new Value('i', 7, { lock: false });
    const count = 3000;
    const putting = (async () => {
      for (let i = 0; i < count; i++) await q.put({ i, value });
    })();
    await sleep(50);
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const item = await q.get({ timeout: LONG });
      expect(item.i).toBe(i);
      sum += item.value.value;
      item.value.close();
    }
    await putting;
    expect(sum).toBe(7 * count);
  });

  it("a producer killed mid-way through an item with descriptors leaves an orphan datagram, which the next get skips", async () => {
    using q = new Queue<{ value: Value<number> }>(0, { capacityBytes: 16 * 1024 });
    using started = new Event();
    const producer = start('putLargeAnonymous', [q, started]);
    expect(await started.wait({ timeout: LONG })).toBe(true);
    // The producer sends the datagram, then streams until the ring is full and waits, holding the put lock.
    // While it streams, a put that must not wait finds the producers' lock held: Full. Before, a probe goes in
    // (and is taken back out).
    await until(
      () => {
        try {
          q.putNowait({ value: undefined as unknown as Value<number> });
        } catch (error) {
          if (error instanceof Full) return true;
          throw error;
        }
        expect(q.getSync({ timeout: LONG }).value).toBeUndefined();
        return false;
      },
      'the producer is streaming',
      { timeout: LONG },
    );
    producer.kill();
    await producer.join(LONG);
    using value = new Value('i', 7, { lock: false });
    q.putSync({ value });
    const got = q.getSync({ timeout: LONG });
    expect(got.value.value).toBe(7);
    got.value.close();
  });

  it('producers putting anonymous objects, SIGKILLed at random points: every item taken works, no orphan is taken', async () => {
    using q = new Queue<{ slot: number; i: number; value: Value<number> }>(0, { capacityBytes: 16 * 1024 });
    const slots = 6;
    const progress = RawArray('i', slots);
    const seen = Array.from({ length: slots }, () => -1);
    let taken = 0;
    const take = (item: { slot: number; i: number; value: Value<number> }): void => {
      // FIFO per producer, and the Value is the one that producer made for that item.
      expect(item.i).toBeGreaterThan(seen[item.slot]!);
      seen[item.slot] = item.i;
      expect(item.value.value).toBe(item.i);
      item.value.close();
      taken++;
    };
    for (let slot = 0; slot < slots; slot++) {
      const producer = start('putAnonymous', [q, slot, progress]);
      const stopAt = Date.now() + 100 + randomInt(300);
      while (Date.now() < stopAt) {
        try {
          take(await q.get({ timeout: 20 }));
        } catch (error) {
          if (!(error instanceof Empty)) throw error;
        }
      }
      producer.kill();
      await producer.join(LONG);
    }
    while (!q.empty()) take(q.getSync());
    expect(taken).toBeGreaterThan(0);
    // The socket pair holds no datagram a later get could mistake for its own: a new item still arrives right.
    using value = new Value('i', 1 << 30, { lock: false });
    q.putSync({ slot: 0, i: 1 << 30, value });
    take(q.getSync());
  });

  it('instances of exported classes keep their class, functions travel by reference (get and getSync)', async () => {
    const { Task, square } = (await import(targets.href)) as Fixtures;
    using q = new Queue<{ task: TaskLike; fn: (x: number) => number }>();
    q.putSync({ task: new Task(3, 4), fn: square });
    await q.put({ task: new Task(5, 6), fn: square });
    // The receiver imports the module itself (vitest's copy of it is another instance): compared by behaviour.
    const first = q.getSync();
    expect(first.task.constructor.name).toBe('Task');
    expect(first.fn.name).toBe('square');
    expect(first.fn(first.task.call())).toBe(144);
    const second = await q.get();
    expect(second.task.constructor.name).toBe('Task');
    expect(second.task.call()).toBe(30);
  });

  it('a child receives class instances from a queue as instances of their class', async () => {
    const { Task, square } = (await import(targets.href)) as Fixtures;
    using q = new Queue();
    using back = new Queue<string>();
    const child = start('callTasks', [q, back]);
    await q.put({ task: new Task(6, 7), fn: square });
    q.putSync({ task: new Task(2, 5), fn: square });
    await q.put(null);
    expect([await back.get({ timeout: LONG }), await back.get({ timeout: LONG })]).toEqual(['Task 42 1764', 'Task 10 100']);
    await joined(child);
  });
});

describe('JoinableQueue and SimpleQueue', () => {
  it('taskDone/join follow Python: join waits for every item put, too many taskDone throws', async () => {
    using q = new JoinableQueue<string>();
    expect(q.joinSync({ timeout: 0 })).toBe(true);
    q.putSync('a');
    await q.put('b');
    expect(q.joinSync({ timeout: 10 })).toBe(false);
    expect(await q.join({ timeout: 10 })).toBe(false);
    const joining = q.join();
    q.getSync();
    q.taskDone();
    q.getSync();
    await sleep(20);
    q.taskDone();
    expect(await joining).toBe(true);
    expect(() => q.taskDone()).toThrow(expect.objectContaining({ code: 'ERR_MP_TASK_DONE_TOO_MANY' }));
  });

  it('a JoinableQueue joins work done by child processes, which receive it as a JoinableQueue', async () => {
    using tasks = new JoinableQueue<number | string>();
    using results = new Queue<number>();
    const workers = [start('workJoinable', [tasks, results]), start('workJoinable', [tasks, results])];
    for (let i = 0; i < 50; i++) await tasks.put(i);
    await tasks.put('stop');
    await tasks.put('stop');
    expect(await tasks.join({ timeout: LONG })).toBe(true);
    const got: number[] = [];
    for (let i = 0; i < 50; i++) got.push(results.getSync({ timeout: 0 }));
    expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    for (const w of workers) await joined(w);
  });

  it('a SimpleQueue passed to a child arrives as a SimpleQueue on the same ring', async () => {
    const q = new SimpleQueue<string>();
    const back = new SimpleQueue<string>();
    try {
      const child = start('echoClass', [q, back]);
      await q.put('ping');
      expect(await back.get({ timeout: LONG })).toBe('ping via SimpleQueue');
      await joined(child);
    } finally {
      q.close();
      back.close();
    }
  });

  it('SimpleQueue puts, gets, reports empty, and closes', async () => {
    const q = new SimpleQueue<number>();
    expect(q.empty()).toBe(true);
    q.putSync(1);
    await q.put(2);
    expect(q.empty()).toBe(false);
    expect([q.getSync(), await q.get()]).toEqual([1, 2]);
    const pending = q.get();
    q.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
  });
});

describe('Queue between processes', () => {
  it('3 producers x 10,000 items to 2 consumers: each item arrives exactly once, FIFO per producer', async () => {
    using q = new Queue(100);
    const perProducer = 10_000;
    const progress = RawArray('i', 3);
    const logs = [RawArray('i', 1 + 6 * perProducer), RawArray('i', 1 + 6 * perProducer)];
    const consumers = [start('consumeUntilStop', [q, logs[0]]), start('consumeAsyncUntilStop', [q, logs[1]])];
    const producers = [
      start('produce', [q, progress, 0, 0, perProducer]),
      start('produceAsync', [q, progress, 1, 1, perProducer]),
      start('produce', [q, progress, 2, 2, perProducer, 1000, 50_000]),
    ];
    for (const p of producers) await joined(p);
    q.putSync('stop');
    q.putSync('stop');
    for (const c of consumers) await joined(c);
    const seen = new Map<number, number[]>([[0, []], [1, []], [2, []]]);
    for (const log of logs) {
      const last = [-1, -1, -1];
      for (const [p, i] of entries(log)) {
        // FIFO per producer, as each consumer sees it.
        expect(i).toBeGreaterThan(last[p]!);
        last[p] = i;
        seen.get(p)!.push(i);
      }
    }
    for (const [, list] of seen) expect(list.sort((a, b) => a - b)).toEqual(Array.from({ length: perProducer }, (_, i) => i));
    expect(q.qsize()).toBe(0);
  });

  it('a child may exit right after put: the item is in the queue', async () => {
    using q = new Queue();
    for (let n = 0; n < 3; n++) await joined(start('putAndExit', [q, { n }]));
    expect([q.getSync({ timeout: 0 }), q.getSync({ timeout: 0 }), q.getSync({ timeout: 0 })]).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });

  it('a 64 MiB Buffer goes through a default queue to a child and back, intact', async () => {
    using q = new Queue();
    using back = new Queue();
    const big = Buffer.alloc(64 << 20);
    for (let i = 0; i < big.length; i += 511) big[i] = i & 255;
    const echo = start('echo', [q, back]);
    await q.put(big);
    const got = (await back.get({ timeout: LONG })) as Buffer;
    expect(got.length).toBe(big.length);
    expect(got.equals(big)).toBe(true);
    await joined(echo);
  });

  it('named shared handles inside items (a Lock, a Value, an Event, a Queue) work in the receiver', async () => {
    using q = new Queue();
    const names = ['lock', 'value', 'event', 'reply'].map((t) => uniqueName(`q-item-${t}`));
    const lock = new Lock({ name: names[0] });
    const value = new Value('i', 0, { name: names[1], lock: false });
    const event = new Event({ name: names[2] });
    const reply = new Queue(0, { name: names[3] });
    try {
      const children = [start('useHandles', [q]), start('useHandles', [q])];
      for (let n = 0; n < 2; n++) await q.put({ lock, value, event, nested: { queue: reply } });
      for (const c of children) await joined(c);
      expect(value.value).toBe(200);
      expect(event.isSet()).toBe(true);
      const replies = [reply.getSync({ timeout: 0 }), reply.getSync({ timeout: 0 })] as string[];
      expect(replies.every((r) => r.startsWith('reply from '))).toBe(true);
    } finally {
      for (const o of [lock, value, event, reply]) {
        o.close();
        o.unlink();
      }
    }
  });
});

describe('Queue under SIGKILL', () => {
  it('a producer killed in the middle of a large message: the part sent is discarded, the queue goes on', async () => {
    using q = new Queue(0, { capacityBytes: 64 * 1024 });
    using started = new Event();
    const producer = start('putLarge', [q, 50 << 20, started]);
    try {
      await stopMidMessage(q, producer, started);
      // This get takes the part in the ring and waits for the next, holding the consumers' lock.
      let settled = false;
      const pending = q.get().finally(() => {
        settled = true;
      });
      await until(() => streaming(q, 'get'), 'the get takes the first part');
      producer.kill();
      await producer.join(LONG);
      expect(settled).toBe(false);
      // The pending get finds the writer gone, drops the part it had, and takes the next message, which this
      // process puts meanwhile.
      await q.put('next');
      expect(brief(await pending)).toBe('next');
      q.putSync('again');
      expect(q.getSync({ timeout: LONG })).toBe('again');
      // Nothing of the dropped message is left to wait for: an empty queue reports Empty at once.
      expect(() => q.getNowait()).toThrow(Empty);
    } finally {
      producer.kill();
    }
  });

  it('a get in the middle of a large message whose handle closes: it rejects ERR_MP_EOF, the next get discards the rest', async () => {
    const name = uniqueName('q-close-mid');
    const q = new Queue(0, { name, capacityBytes: 64 * 1024 });
    const reader = Queue.open(name);
    using started = new Event();
    const producer = start('putLarge', [q, 50 << 20, started]);
    try {
      await stopMidMessage(q, producer, started);
      const pending = reader.get();
      await until(() => streaming(q, 'get'), 'the get takes the first part');
      reader.close();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
      // The producer goes on; the rest of its message counts as taken by the closed get.
      process.kill(producer.pid!, 'SIGCONT');
      expect(brief(await q.get({ timeout: LONG }))).toBe('after');
      await joined(producer);
      expect(() => q.getNowait()).toThrow(Empty);
    } finally {
      producer.kill();
      reader.close();
      q.close();
      q.unlink();
    }
  });

  it('a consumer killed in the middle of a large message: the rest of it is discarded, the producer goes on', async () => {
    using q = new Queue(0, { capacityBytes: 64 * 1024 });
    using producerStarted = new Event();
    using consumerStarted = new Event();
    const consumer = start('getLarge', [q, consumerStarted]);
    const producer = start('putLarge', [q, 50 << 20, producerStarted]);
    try {
      expect(await consumerStarted.wait({ timeout: LONG })).toBe(true);
      await sleep(100);
      consumer.kill();
      await consumer.join(LONG);
      // If the consumer was mid-message, this get discards the rest (the killed consumer's item); else it
      // takes the large message whole. Either way 'after' follows, and the producer finishes.
      let got = await q.get({ timeout: LONG });
      if (Buffer.isBuffer(got)) {
        expect(got.length).toBe(50 << 20);
        got = await q.get({ timeout: LONG });
      }
      expect(brief(got)).toBe('after');
      await joined(producer);
    } finally {
      consumer.kill();
      producer.kill();
    }
  });

  it('producers and consumers killed at random points, repeatedly: no duplicate, no loss but the killed consumers\' items', async () => {
    // A small ring, so that the occasional large item is streamed in parts and kills land mid-message too.
    using q = new Queue(0, { capacityBytes: 16 * 1024 });
    using stop = new Event();
    const producers = 12;
    const progress = RawArray('i', producers);
    const logs: ReturnType<typeof RawArray>[] = [];
    const running: { process: Process; role: 'producer' | 'consumer' }[] = [];
    let nextProducer = 0;
    let consumerKills = 0;
    const startProducer = (): void => {
      const p = nextProducer++;
      running.push({ process: start('produce', [q, progress, p, p, 1_000_000, 40, 40_000]), role: 'producer' });
    };
    const startConsumer = (): void => {
      const log = RawArray('i', 1 + 2 * 400_000);
      logs.push(log);
      running.push({ process: start('consumeUntilEvent', [q, log, stop]), role: 'consumer' });
    };
    try {
      startProducer();
      startProducer();
      startConsumer();
      startConsumer();
      while (nextProducer < producers) {
        await sleep(150 + randomInt(250));
        const victim = running.splice(randomInt(running.length), 1)[0]!;
        victim.process.kill();
        await victim.process.join(LONG);
        expect(victim.process.exitCode).not.toBe(1);
        if (victim.role === 'producer') startProducer();
        else {
          consumerKills++;
          startConsumer();
        }
      }
      // The last producers are killed too; the consumers then drain the queue and stop.
      for (const r of running.filter((r) => r.role === 'producer')) {
        r.process.kill();
        await r.process.join(LONG);
      }
      stop.set();
      for (const r of running.filter((r) => r.role === 'consumer')) await joined(r.process);
      // Whatever is left (nothing, unless a consumer stopped early) counts as received.
      const rest: [number, number][] = [];
      while (!q.empty()) {
        const item = q.getSync({ timeout: 0 }) as { p: number; i: number };
        rest.push([item.p, item.i]);
      }
      const received = new Map<number, number[]>();
      for (const list of [...logs.map(entries), rest]) {
        const last = new Map<number, number>();
        for (const [p, i] of list) {
          expect(i).toBeGreaterThan(last.get(p) ?? -1);
          last.set(p, i);
          if (!received.has(p)) received.set(p, []);
          received.get(p)!.push(i);
        }
      }
      let lost = 0;
      for (let p = 0; p < producers; p++) {
        const got = (received.get(p) ?? []).sort((a, b) => a - b);
        // No duplicates; nothing beyond what the producer may have put (its last put may have committed
        // just before the kill, before it recorded its progress).
        expect(new Set(got).size).toBe(got.length);
        const put = progress.view[p]!;
        expect(got.length === 0 || got[got.length - 1]! <= put).toBe(true);
        const delivered = got.filter((i) => i < put).length;
        lost += put - delivered;
      }
      expect(lost).toBeLessThanOrEqual(consumerKills);
      // Still usable.
      q.putSync('after');
      expect(q.getSync({ timeout: 1000 })).toBe('after');
    } finally {
      for (const r of running) r.process.kill();
    }
  });
});
