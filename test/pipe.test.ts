// Pipe and Connection: messages within this process and with real child processes (targets in
// fixtures/pipe-targets.mjs), Python's framing on the wire, shared handles and Connections inside messages,
// 64 MiB both ways without deadlock, EOF, poll, AbortSignal, and 1,000 pending recvs that leave libuv's
// thread pool alone.
import { spawn } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

import { Connection, Lock, Pipe, Value } from 'posix-mp';
import { sleep, within } from './helpers.js';
import { killChildren, targetsIn } from './targets.js';

/** Generous: the machine is loaded. Only turns a hang into a failure. */
const LONG = 60_000;
const MiB = 1024 * 1024;
const { start, joined } = targetsIn(new URL('./fixtures/pipe-targets.mjs', import.meta.url), LONG);

/** Runs `body` with both ends of a new Pipe(duplex), and closes them however it ends. */
async function withPipe(duplex: boolean, body: (a: Connection, b: Connection) => unknown): Promise<void> {
  const [a, b] = Pipe(duplex);
  try {
    await body(a, b);
  } finally {
    a.close();
    b.close();
  }
}

type Outcome = { value: unknown } | { error: unknown };
const outcome = (p: Promise<unknown>): Promise<Outcome> => p.then((value) => ({ value }), (error: unknown) => ({ error }));

afterAll(killChildren);

/** locate-tasks.mjs, imported here as a receiver imports it: compare what arrives by behaviour, not identity. */
interface Tasks {
  Point: new (x: number, y: number) => { x: number; y: number; norm(): number };
  work: Function;
}
const tasksModule = (): Promise<Tasks> => import(new URL('./fixtures/locate-tasks.mjs', import.meta.url).href) as Promise<Tasks>;
type Arrived = { point: { norm(): number; constructor: Function }; again: unknown; fn: Function };

describe('Pipe() within one process', () => {
  it('sends values both ways, in order, with the async and Sync forms', () =>
    withPipe(true, async (a, b) => {
      const values = [1, 'two', { three: [3n, new Date(3)] }, new Map([[4, 'four']]), null, Buffer.from('six')];
      for (const v of values) a.send(v);
      for (const v of values.slice(0, 3)) expect(await b.recv()).toEqual(v);
      for (const v of values.slice(3)) expect(b.recvSync()).toEqual(v);
      b.send('back');
      expect(await a.recv()).toBe('back');
      expect(a.readable && a.writable && b.readable && b.writable).toBe(true);
    }));

  it('sendBytes sends buf[offset..offset+size) as one message; recvBytes returns it', () =>
    withPipe(true, async (a, b) => {
      a.sendBytes(Buffer.from('hello world'), 6);
      a.sendBytes(new Uint8Array([1, 2, 3, 4, 5]), 1, 3);
      a.sendBytes(Buffer.alloc(0));
      expect((await b.recvBytes()).toString()).toBe('world');
      expect([...b.recvBytesSync()]).toEqual([2, 3, 4]);
      expect((await b.recvBytes()).length).toBe(0);
      expect(() => a.sendBytes(Buffer.alloc(4), 5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      expect(() => a.sendBytes('text' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    }));

  it("frames like Python's multiprocessing.connection: 4-byte big-endian length, or -1 and an 8-byte length", () =>
    withPipe(false, (reader, writer) => {
      writer.sendBytes(Buffer.from('abc'));
      const raw = Buffer.alloc(16);
      expect(readSync(reader.fileno(), raw)).toBe(7);
      expect([...raw.subarray(0, 7)]).toEqual([0, 0, 0, 3, 0x61, 0x62, 0x63]);

      // The long header, as Python writes it for messages over 0x7fffffff bytes, is understood too.
      const long = Buffer.alloc(12 + 2);
      long.writeInt32BE(-1, 0);
      long.writeBigUInt64BE(2n, 4);
      long.write('hi', 12);
      writeSync(writer.fileno(), long);
      expect(reader.recvBytesSync().toString()).toBe('hi');
    }));

  it('recvBytes({ maxLength }) refuses a longer message without consuming it', () =>
    withPipe(true, async (a, b) => {
      a.sendBytes(Buffer.alloc(300));
      await expect(b.recvBytes({ maxLength: 256 })).rejects.toMatchObject({ code: 'ERR_MP_MESSAGE_TOO_LONG' });
      expect(b.recvBytesSync().length).toBe(300);
    }));

  it('a 64 MiB message goes through in one process, as bytes and as an object, without deadlock', () =>
    withPipe(true, async (a, b) => {
      const big = Buffer.alloc(64 * MiB, 0x33);
      big[big.length - 1] = 9;
      a.sendBytes(big);
      a.send(big);
      const bytes = await b.recvBytes();
      const object = (await b.recv()) as Buffer;
      for (const got of [bytes, object]) {
        expect(got.length).toBe(64 * MiB);
        expect(got[0]).toBe(0x33);
        expect(got[got.length - 1]).toBe(9);
      }
    }));

  it("sendBytes copies what has to wait: changing the buffer after the call does not change the message", () =>
    withPipe(true, async (a, b) => {
      const buf = Buffer.alloc(4 * MiB, 1);
      a.sendBytes(buf);
      buf.fill(2);
      const got = await b.recvBytes();
      expect(got.every((x) => x === 1)).toBe(true);
    }));

  it('a message with shared objects that has to wait keeps them: the sender may close its handles at once', () =>
    withPipe(true, async (a, b) => {
      a.sendBytes(Buffer.alloc(4 * MiB)); // fills the socket: what follows waits in this process
      const value = new Value('i', 41);
      a.send({ value });
      value.close();
      expect((await b.recvBytes()).length).toBe(4 * MiB);
      const { value: received } = (await b.recv()) as { value: Value<number> };
      received.value += 1;
      expect(received.value).toBe(42);
      received.close();
    }));

  it('a worker_thread with a pending recv and unwritten output terminates cleanly', async () => {
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { Worker } from 'node:worker_threads';
         const w = new Worker(\`
           import { Pipe } from 'posix-mp';
           import { parentPort } from 'node:worker_threads';
           const [a, b] = Pipe();
           b.recv().catch(() => {});
           a.sendBytes(Buffer.alloc(8 * 1024 * 1024));
           parentPort.postMessage('ready');\`, { eval: true });
         w.on('message', async () => { await w.terminate(); console.log('terminated'); });`,
      ],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const result = await within(child, LONG);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('terminated\n');
  });

  it('poll and pollAsync: false while nothing is there (after the timeout), true once a message is', () =>
    withPipe(true, async (a, b) => {
      expect(b.poll()).toBe(false);
      expect(b.poll(20)).toBe(false);
      expect(await b.pollAsync({ timeout: 20 })).toBe(false);
      const pending = b.pollAsync();
      a.send('x');
      expect(await pending).toBe(true);
      expect(b.poll()).toBe(true);
      expect(b.poll(Infinity)).toBe(true);
      expect(await b.recv()).toBe('x');
      expect(b.poll(0)).toBe(false);
      const aborted = AbortSignal.abort();
      await expect(b.pollAsync({ signal: aborted })).rejects.toBe(aborted.reason);
      await expect(b.recv({ signal: aborted })).rejects.toBe(aborted.reason);
    }));

  it('an aborted or timed-out recv consumes nothing: the message goes to the next recv', () =>
    withPipe(true, async (a, b) => {
      const controller = new AbortController();
      const aborted = b.recv({ signal: controller.signal });
      const next = b.recvBytes();
      controller.abort();
      await expect(aborted).rejects.toBe(controller.signal.reason);
      await expect(b.recv({ timeout: 10 })).rejects.toMatchObject({ code: 'ERR_MP_TIMEOUT' });
      expect(() => b.recvSync({ timeout: 0 })).toThrow(expect.objectContaining({ code: 'ERR_MP_TIMEOUT' }));
      // Half a message: a recv that gives up meanwhile leaves it in place.
      const frame = Buffer.from([0, 0, 0, 3, 0x61]);
      writeSync(a.fileno(), frame);
      await expect(b.recvBytes({ timeout: 10 })).rejects.toMatchObject({ code: 'ERR_MP_TIMEOUT' });
      writeSync(a.fileno(), Buffer.from('bc'));
      expect((await next).toString()).toBe('abc');
    }));

  it('EOF: once the other end is closed and its messages are read, recv and recvSync throw ERR_MP_EOF', async () => {
    const [a, b] = Pipe();
    a.send('last');
    const pending = b.recv();
    expect(await pending).toBe('last');
    const waiting = b.recv();
    a.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
    expect(() => b.recvSync()).toThrow(expect.objectContaining({ code: 'ERR_MP_EOF' }));
    expect(b.poll()).toBe(true);
    b.close();
  });

  it('close(): pending recvs reject with ERR_MP_CLOSED; every method then throws it', async () => {
    const [a, b] = Pipe();
    const pending = b.recv();
    b.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    expect(b.closed).toBe(true);
    expect(() => b.send(1)).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    expect(() => b.recvSync()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    await expect(b.recv()).rejects.toMatchObject({ code: 'ERR_MP_CLOSED' });
    expect(() => b.fileno()).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    b.close();
    // The other end sees EOF, and sending to it fails like Python's (EPIPE).
    await expect(a.recv()).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
    expect(() => a.send('x')).toThrow(expect.objectContaining({ code: 'EPIPE' }));
    a.close();
  });

  it('Pipe(false) is [reader, writer]: the reader cannot send, the writer cannot receive', () =>
    withPipe(false, async (reader, writer) => {
      expect([reader.readable, reader.writable, writer.readable, writer.writable]).toEqual([true, false, false, true]);
      expect(() => reader.send(1)).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_WRITABLE' }));
      expect(() => reader.sendBytes(Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_WRITABLE' }));
      await expect(writer.recv()).rejects.toMatchObject({ code: 'ERR_MP_NOT_READABLE' });
      expect(() => writer.poll()).toThrow(expect.objectContaining({ code: 'ERR_MP_NOT_READABLE' }));
      writer.send({ ok: true });
      expect(await reader.recv()).toEqual({ ok: true });
      // An anonymous object's memory cannot travel through a pipe: a clear error, nothing sent.
      const value = new Value('i', 1);
      expect(() => writer.send({ value })).toThrow(expect.objectContaining({ code: 'ERR_MP_TRANSFER' }));
      value.close();
      expect(reader.poll()).toBe(false);
    }));

  it('values travel as in Process args: class instances keep their class, functions go by reference, identity is kept', async () => {
    const { Point, work } = await tasksModule();
    const point = new Point(3, 4);
    const [a, b] = Pipe();
    const [reader, writer] = Pipe(false);
    try {
      for (const [from, to] of [[a, b], [writer, reader]] as const) {
        from.send({ point, again: point, fn: work });
        from.send({ point, again: point, fn: work });
        for (const got of [(await to.recv()) as Arrived, to.recvSync() as Arrived]) {
          expect(got.point.constructor.name).toBe('Point');
          expect(got.point.norm()).toBe(5);
          expect(got.again).toBe(got.point);
          expect(got.fn.name).toBe('work');
        }
      }
      // What cannot travel is refused before anything is sent, named by its path.
      expect(() => a.send({ list: [1, () => 2] })).toThrow(
        expect.objectContaining({ code: 'ERR_MP_NOT_CLONEABLE', message: expect.stringMatching(/^obj\.list\[1\] cannot be sent/) }),
      );
      expect(() => a.send({ map: new WeakMap() })).toThrow(
        expect.objectContaining({ code: 'ERR_MP_NOT_CLONEABLE', message: expect.stringMatching(/^obj\.map \(WeakMap\) cannot be sent/) }),
      );
      expect(b.poll()).toBe(false);
    } finally {
      for (const conn of [a, b, reader, writer]) conn.close();
    }
  });

  it('Pipe(duplex) validates its argument', () => {
    expect(() => Pipe('yes' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('Connections between processes', () => {
  it('a Connection passed in Process args works in the child: objects go back and forth', async () => {
    const [mine, theirs] = Pipe();
    const p = start('echo', [theirs]);
    theirs.close();
    try {
      for (let i = 0; i < 50; i++) {
        mine.send({ i });
        expect(await mine.recv({ timeout: LONG })).toEqual({ echo: { i } });
      }
    } finally {
      mine.close();
    }
    await joined(p);
  });

  it('a class instance and a function go to a child and come back: the child imports their module', async () => {
    const { Point, work } = await tasksModule();
    const [mine, theirs] = Pipe();
    const p = start('echo', [theirs]);
    theirs.close();
    try {
      const point = new Point(6, 8);
      mine.send({ point, again: point, fn: work });
      const { echo } = (await mine.recv({ timeout: LONG })) as { echo: Arrived };
      expect(echo.point.constructor.name).toBe('Point');
      expect(echo.point.norm()).toBe(10);
      expect(echo.again).toBe(echo.point);
      expect(echo.fn.name).toBe('work');
    } finally {
      mine.close();
    }
    await joined(p);
  });

  it('shared handles inside messages arrive working, both ways', async () => {
    const [mine, theirs] = Pipe();
    const counter = new Value('i', 0);
    const lock = new Lock();
    const p = start('useShared', [theirs]);
    theirs.close();
    try {
      mine.send({ counter, lock });
      const { reply } = (await mine.recv({ timeout: LONG })) as { reply: Value<number> };
      expect(reply).toBeInstanceOf(Value);
      expect(reply.value).toBe(7);
      expect(counter.value).toBe(1000);
      reply.close();
      await joined(p);
    } finally {
      mine.close();
      counter.close();
      lock.close();
    }
  });

  it('a child sends a 64 MiB object and exits before the parent reads it (join first: no deadlock)', async () => {
    const [mine, theirs] = Pipe();
    const p = start('sendLarge', [theirs, 64 * MiB, false]);
    theirs.close();
    try {
      await joined(p);
      const got = (await mine.recv({ timeout: LONG })) as Buffer;
      expect(got.length).toBe(64 * MiB);
      expect(got[0]).toBe(0x5a);
      expect(got[got.length - 1]).toBe(1);
    } finally {
      mine.close();
    }
  });

  it('a child whose sendBytes could not be written at once stays alive until the event loop wrote it all', async () => {
    const [mine, theirs] = Pipe();
    const p = start('sendBytesAndReturn', [theirs, 16 * MiB]);
    theirs.close();
    try {
      // Read only after a while: the child's target has long returned by then.
      await sleep(200);
      const got = await mine.recvBytes({ timeout: LONG });
      expect(got.length).toBe(16 * MiB);
      expect(got[got.length - 1]).toBe(2);
      await joined(p);
    } finally {
      mine.close();
    }
  });

  it('64 MiB of bytes both ways: to a child and back (Sync forms in the child)', async () => {
    const [mine, theirs] = Pipe();
    const p = start('echoBytesSync', [theirs]);
    theirs.close();
    try {
      const big = Buffer.alloc(64 * MiB, 0x11);
      big[12345] = 7;
      mine.sendBytes(big);
      const back = await mine.recvBytes({ timeout: LONG });
      expect(back.length).toBe(64 * MiB);
      expect(back.equals(big)).toBe(true);
    } finally {
      mine.close();
    }
    await joined(p);
  });

  it('a child killed with SIGKILL is EOF to a pending recv', async () => {
    const [mine, theirs] = Pipe();
    const p = start('echo', [theirs]);
    theirs.close();
    try {
      mine.send('ping');
      expect(await mine.recv({ timeout: LONG })).toEqual({ echo: 'ping' });
      const pending = mine.recv();
      p.kill();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
      await p.join(LONG);
    } finally {
      mine.close();
    }
  });

  it('a Connection travels through another Connection and works at the other end', async () => {
    const [mine, theirs] = Pipe();
    const [keep, give] = Pipe();
    const p = start('receiveConnection', [theirs]);
    theirs.close();
    try {
      mine.send(give);
      give.close();
      expect(await keep.recv({ timeout: LONG })).toBe('via-passed');
      await joined(p);
    } finally {
      mine.close();
      keep.close();
    }
  });

  it('the writer of Pipe(false) in a child: numbered messages arrive in order, then EOF', async () => {
    const [reader, writer] = Pipe(false);
    const p = start('writeNumbers', [writer, 200]);
    writer.close();
    try {
      for (let i = 0; i < 200; i++) expect(await reader.recv({ timeout: LONG })).toBe(i);
      await expect(reader.recv({ timeout: LONG })).rejects.toMatchObject({ code: 'ERR_MP_EOF' });
      await joined(p);
    } finally {
      reader.close();
    }
  });

  it('adopts a descriptor (new Connection(fd)), as Python\'s Connection(handle)', () => {
    const [reader, writer] = Pipe(false);
    // A second descriptor of the same pipe, opened anew: the adopting Connection owns and closes it.
    const adopted = new Connection(openSync(`/proc/self/fd/${reader.fileno()}`, 'r'), { writable: false });
    try {
      writer.send('via fd');
      expect(adopted.recvSync()).toBe('via fd');
      expect(() => new Connection(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    } finally {
      adopted.close();
      reader.close();
      writer.close();
    }
  });
});

describe('1,000 pending recvs', () => {
  it('leave fs and crypto working; aborting them consumes nothing', async () => {
    const pipes = Array.from({ length: 500 }, () => Pipe());
    const [a, b] = Pipe();
    const controller = new AbortController();
    setMaxListeners(2000, controller.signal);
    try {
      const recvs: Promise<unknown>[] = [];
      for (const [, end] of pipes) recvs.push(end.recv({ signal: controller.signal }));
      for (let i = 0; i < 500; i++) recvs.push(b.recv({ signal: controller.signal }));
      let settledEarly = 0;
      const outcomes = Promise.all(recvs.map((r) => outcome(r.finally(() => settledEarly++))));

      const work = await Promise.all([
        readFile(fileURLToPath(import.meta.url), 'utf8'),
        ...[1, 2, 3, 4, 5, 6].map((i) => promisify(pbkdf2)(`secret ${i}`, 'salt', 2000, 32, 'sha256')),
      ]);
      expect(work[0]).toContain('1,000 pending recvs');
      expect(settledEarly).toBe(0);

      controller.abort();
      for (const result of await outcomes) expect(result).toEqual({ error: controller.signal.reason });
      a.send('kept');
      expect(await b.recv()).toBe('kept');
    } finally {
      for (const [x, y] of pipes) {
        x.close();
        y.close();
      }
      a.close();
      b.close();
    }
  });
});

it('new Connection(fd) of a regular file is refused', () => {
  const fd = openSync(fileURLToPath(import.meta.url), 'r');
  try {
    expect(() => new Connection(fd)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  } finally {
    closeSync(fd);
  }
});
