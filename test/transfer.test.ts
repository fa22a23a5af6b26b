// Passing Conditions and Barriers to real child processes (targets in fixtures/transfer-targets.mjs): each
// arrives as a working handle to the same object — a Condition with the same lock — named ones by name,
// anonymous ones with their memory, at any depth of the arguments. And closing a Value while an async
// acquire of its lock is pending. What cannot travel is named by its path; frames use Python's length
// prefix (lib/comm/framing.ts, tested directly).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deserialize } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';

import { Barrier, Condition, Event, Lock, Process, RLock, SharedArray, Value } from 'posix-mp';
import { decodeFrameHeader, encodeFrameHeader, readFrame, writeFrame } from '../lib/comm/framing.js';
import { Outgoing, receive, receiveSync, serializeEncoded } from '../lib/comm/reduction.js';
import { binding } from '../lib/internal/native.js';
import { sleep, uniqueName } from './helpers.js';
import { killChildren, targetsIn } from './targets.js';

/** Generous: the machine is loaded. */
const LONG = 20_000;
const { start, joined } = targetsIn(new URL('./fixtures/transfer-targets.mjs', import.meta.url), LONG);

afterAll(killChildren);

/**
 * The parent waits on `cond` (holding its lock from before the child starts, so the child's notify can only
 * come while the parent sleeps), the child `target` sets flag and notifies.
 */
async function parentWaitsChildNotifies(cond: Condition, target: string, args: unknown[], flag: Value<number>) {
  await cond.acquire();
  let p: Process | undefined;
  let notified: boolean;
  try {
    p = start(target, args);
    notified = await cond.waitFor(() => flag.value === 1, { timeout: LONG });
  } finally {
    cond.release();
  }
  expect(notified).toBe(true);
  await joined(p);
}

describe('Passing a Condition', () => {
  it('an anonymous Condition: the parent waits, the child notifies', async () => {
    const cond = new Condition();
    const flag = new Value('i', 0);
    try {
      await parentWaitsChildNotifies(cond, 'notifyCondition', [cond, flag], flag);
    } finally {
      cond.close();
      flag.close();
    }
  });

  it('an anonymous Condition: the child waits, the parent notifies', async () => {
    const cond = new Condition();
    const flag = new Value('i', 0);
    const waiting = new Event();
    const out = new SharedArray('i', 1);
    try {
      const p = start('waitCondition', [cond, flag, waiting, out]);
      expect(await waiting.wait({ timeout: LONG })).toBe(true);
      // The child set `waiting` holding the lock: this acquire returns once its wait has released it.
      await cond.withLock(() => {
        flag.value = 1;
        cond.notify();
      });
      await joined(p);
      expect(out.get(0)).toBe(1);
    } finally {
      for (const o of [cond, flag, waiting, out]) o.close();
    }
  });

  it('a named Condition, by name, with its own RLock', async () => {
    const name = uniqueName('tr-cond');
    const cond = new Condition(undefined, { name });
    const flag = new Value('i', 0);
    try {
      await parentWaitsChildNotifies(cond, 'notifyCondition', [cond, flag], flag);
    } finally {
      cond.close();
      cond.unlink();
      flag.close();
    }
  });

  for (const [what, LockClass] of [['Lock', Lock], ['RLock', RLock]] as const) {
    it(`a Condition over an anonymous ${what}: passed along with it, and passed alone`, async () => {
      const lock = new LockClass();
      const cond = new Condition(lock);
      const flags = [new Value('i', 0), new Value('i', 0)] as const;
      try {
        // With the lock among the arguments: the child takes it through its own handle, notifies via cond.
        await parentWaitsChildNotifies(cond, 'notifyThroughLock', [cond, lock, flags[0]], flags[0]);
        // Alone: the lock travels inside the Condition.
        await parentWaitsChildNotifies(cond, 'notifyCondition', [cond, flags[1]], flags[1]);
      } finally {
        for (const o of [cond, lock, ...flags]) o.close();
      }
    });
  }

  it('a Condition over a named Lock, and over a named Value’s lock (opened by the name it records)', async () => {
    const name = uniqueName('tr-lock');
    const lock = new Lock({ name });
    const value = new Value('i', 0, { name: uniqueName('tr-value') });
    const conds = [new Condition(lock), new Condition(value.getLock())];
    const flags = [new Value('i', 0), new Value('i', 0)];
    try {
      for (const [i, cond] of conds.entries()) {
        await parentWaitsChildNotifies(cond, 'notifyCondition', [cond, flags[i]], flags[i]!);
      }
    } finally {
      for (const o of [...conds, ...flags, lock, value]) o.close();
      lock.unlink();
      value.unlink();
    }
  });

  it('refuses in start() a Condition over an anonymous Value’s lock, and a closed Condition', () => {
    const value = new Value('i', 0);
    const cond = new Condition(value.getLock());
    const closed = new Condition();
    closed.close();
    try {
      expect(() => start('notifyCondition', [{ cond }])).toThrow(expect.objectContaining({ code: 'ERR_MP_TRANSFER' }));
      expect(() => start('notifyCondition', [closed])).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    } finally {
      cond.close();
      value.close();
    }
  });
});

describe('Passing a Barrier', () => {
  it('an anonymous Barrier of 3: the parent and 2 children pass it twice, distinct indexes each round', async () => {
    const rounds = 2;
    const barrier = new Barrier(3);
    const out = new SharedArray('i', 3 * rounds);
    try {
      const children = [start('passBarrier', [barrier, 1, rounds, out]), start('passBarrier', [barrier, 2, rounds, out])];
      for (let round = 0; round < rounds; round++) {
        out.set(round * 3, await barrier.wait({ timeout: LONG }));
      }
      for (const p of children) await joined(p);
      for (let round = 0; round < rounds; round++) {
        expect(out.slice(round * 3, round * 3 + 3).sort()).toEqual([0, 1, 2]);
      }
    } finally {
      barrier.close();
      out.close();
    }
  });

  it('a named Barrier, by name', async () => {
    const name = uniqueName('tr-barrier');
    const barrier = new Barrier(2, { name });
    const out = new SharedArray('i', 1);
    try {
      const p = start('passNamedBarrier', [barrier, name, out]);
      const index = await barrier.wait({ timeout: LONG });
      await joined(p);
      expect([index, out.get(0)].sort()).toEqual([0, 1]);
    } finally {
      barrier.close();
      barrier.unlink();
      out.close();
    }
  });

  it('carries the default timeout along (a lone wait in the child breaks the barrier instead of hanging)', async () => {
    const barrier = new Barrier(2, { timeout: 300 });
    const out = new SharedArray('i', 1);
    try {
      await joined(start('waitAlone', [barrier, out]));
      expect(out.get(0)).toBe(1);
      expect(barrier.broken).toBe(true);
    } finally {
      barrier.close();
      out.close();
    }
  });
});

it('passes Conditions, their lock and Barriers nested in objects, arrays and Maps (one object, one handle)', async () => {
  const lock = new Lock();
  const cond = new Condition(lock);
  const barrier = new Barrier(2);
  const flag = new Value('i', 0);
  const out = new SharedArray('i', 1);
  try {
    const box = {
      list: [cond, 'text'],
      map: new Map<string, unknown>([['cond', cond]]),
      deep: { a: { b: [{ barrier }, lock] } },
      flag,
    };
    await cond.acquire();
    let p: Process | undefined;
    let notified: boolean;
    try {
      p = start('nested', [box, out]);
      notified = await cond.waitFor(() => flag.value === 1, { timeout: LONG });
    } finally {
      cond.release();
    }
    expect(notified).toBe(true);
    const index = await barrier.wait({ timeout: LONG });
    await joined(p);
    expect([index, out.get(0)].sort()).toEqual([0, 1]);
  } finally {
    for (const o of [cond, lock, barrier, flag, out]) o.close();
  }
});

describe('Closing a Value while an async acquire of its lock is pending', () => {
  for (const named of [false, true]) {
    it(`rejects the acquire with ERR_MP_CLOSED and frees the memory safely (${named ? 'named' : 'anonymous'})`, async () => {
      const name = uniqueName('tr-close');
      const value = named ? new Value('i', 0, { name }) : new Value('i', 0);
      const held = new Event();
      const go = new Event();
      const out = new SharedArray('i', 1);
      try {
        // A child holds the lock, so the acquire below goes to a native waiter thread.
        const p = start('holdValueLock', [value, held, go, out]);
        expect(await held.wait({ timeout: LONG })).toBe(true);
        const pending = value.getLock().acquire();
        await sleep(50);
        value.close();
        await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
        go.set();
        // The child releases, then checks the cancelled acquire did not take and keep the lock.
        await joined(p);
        expect(out.get(0)).toBe(1);
        // The process carries on: new objects work.
        const fresh = new Value('i', 7);
        expect(fresh.value).toBe(7);
        fresh.close();
      } finally {
        for (const o of [value, held, go, out]) o.close();
        if (named) value.unlink();
      }
    });
  }
});

describe('What cannot travel', () => {
  it('a socket argument is named by its path, with what can travel — never a function’s source', () => {
    const sock = new Socket();
    try {
      const p = new Process({ target: { module: new URL('./fixtures/process-targets.mjs', import.meta.url), export: 'noop' }, args: [1, { sock }] });
      let error: Error | undefined;
      try {
        p.start();
      } catch (e) {
        error = e as Error;
      }
      expect(error).toMatchObject({ code: 'ERR_MP_NOT_CLONEABLE' });
      expect(error!.message).toMatch(/^args\[1\]\.sock cannot be sent to another process: 'Socket' is defined by Node\.js itself \(node:net\)/);
      expect(error!.message).not.toContain('function ');
      expect(p.pid).toBeUndefined();
    } finally {
      sock.destroy();
    }
  });

  it('an uncloneable value deep in the arguments is named by its path and type', () => {
    const p = new Process({ target: { module: new URL('./fixtures/process-targets.mjs', import.meta.url), export: 'noop' }, args: [{ deep: [0, { cache: new WeakMap() }] }] });
    expect(() => p.start()).toThrow(
      expect.objectContaining({
        code: 'ERR_MP_NOT_CLONEABLE',
        message: expect.stringMatching(/^args\[0\]\.deep\[1\]\.cache \(WeakMap\) cannot be sent to another process: .*What can travel: /),
      }),
    );
  });
});

describe('Framing', () => {
  it('length headers are Python’s multiprocessing.connection format (4-byte big-endian, or -1 and 8 bytes)', () => {
    const lengths = [0, 5, 0x7fffffff, 0x80000000, 2 ** 40];
    const python = execFileSync(
      'python3',
      [
        '-c',
        'import struct, sys\n' +
          'for n in map(int, sys.argv[1:]):\n' +
          '    print((struct.pack("!i", n) if n <= 0x7fffffff else struct.pack("!i", -1) + struct.pack("!Q", n)).hex())',
        ...lengths.map(String),
      ],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n');
    for (const [i, length] of lengths.entries()) {
      const header = encodeFrameHeader(length);
      expect(header.toString('hex')).toBe(python[i]);
      expect(decodeFrameHeader(header)).toEqual({ length, headerSize: header.length });
      expect(decodeFrameHeader(header.subarray(0, header.length - 1))).toBeNull();
    }
  });

  it('writeFrame/readFrame carry small and large bodies and more descriptors than one message holds', () => {
    const [a, b] = binding.socketPair();
    const dir = mkdtempSync(path.join(tmpdir(), 'pmp-frame-'));
    const fds: number[] = [];
    try {
      writeFileSync(path.join(dir, 'f'), 'descriptor content');
      for (let i = 0; i < binding.maxFdsPerMessage + 5; i++) fds.push(openSync(path.join(dir, 'f'), 'r'));
      const small = Buffer.from('hello');
      const large = Buffer.alloc(1 << 20, 7);
      writeFrame(a, small);
      writeFrame(a, large, fds);
      writeFrame(a, Buffer.alloc(0));
      const first = readFrame(b)!;
      expect(first.bytes.equals(small)).toBe(true);
      expect(first.fds).toEqual([]);
      const second = readFrame(b)!;
      expect(second.bytes.equals(large)).toBe(true);
      expect(second.fds).toHaveLength(fds.length);
      expect(readFileSync(second.fds.at(-1)!, 'utf8')).toBe('descriptor content');
      for (const fd of second.fds) closeSync(fd);
      expect(readFrame(b)!.bytes.length).toBe(0);
      binding.closeFd(a);
      expect(readFrame(b)).toBeNull();
    } finally {
      for (const fd of fds) closeSync(fd);
      try {
        binding.closeFd(a);
      } catch {
        // Closed above.
      }
      binding.closeFd(b);
      rmSync(dir, { recursive: true });
    }
  });
});

describe('Reduction for channels', () => {
  it('a message round trip: class instances keep their class, functions travel by reference, identity is kept', async () => {
    // The receiver imports the class itself (as another process would), so compare by behaviour, not identity.
    const tasks = (await import(new URL('./fixtures/locate-tasks.mjs', import.meta.url).href)) as {
      Point: new (x: number, y: number) => { norm(): number };
      work: Function;
    };
    const point = new tasks.Point(3, 4);
    const value = { points: [point, point], fn: tasks.work, map: new Map([['p', point]]) };
    const out = new Outgoing();
    const bytes = serializeEncoded(out.encode(value, 'item'), value, 'item');
    const reduced = structuredClone(out.reduced());
    expect(reduced.references.map((r) => r.export).sort()).toEqual(['Point', 'work']);
    for (const decoder of [receiveSync(reduced, []), await receive(reduced, [])]) {
      const got = decoder(deserialize(bytes)) as { points: { norm(): number; constructor: Function }[]; fn: Function; map: Map<string, unknown> };
      expect(got.points[0]!.constructor.name).toBe('Point');
      expect(got.points[0]!.norm()).toBe(5);
      expect(got.points[1]).toBe(got.points[0]);
      expect(got.map.get('p')).toBe(got.points[0]);
      expect(got.fn.name).toBe('work');
    }
  });
});
