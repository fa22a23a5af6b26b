// SharedMemory: named POSIX shared memory (/dev/shm/<name>) and anonymous memfd memory.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { SharedMemory } from 'posix-mp';
import { runNode, spawnNode, uniqueName, within } from './helpers.js';

/** This process's umask, without the deprecated no-argument process.umask(). */
function umask(): number {
  const line = readFileSync('/proc/self/status', 'utf8').match(/^Umask:\s*([0-7]+)/m);
  return line ? parseInt(line[1]!, 8) : 0o022;
}

describe('SharedMemory', () => {
  it('creates /dev/shm/<name> of the given size, zero-filled, mode 0o600; the name has no leading /', () => {
    const name = uniqueName('shm-create');
    const shm = new SharedMemory({ name: `/${name}`, size: 5000 });
    try {
      expect(shm.name).toBe(name);
      expect(shm.size).toBe(5000);
      expect(shm.buf.length).toBe(5000);
      expect(shm.buf.every((b) => b === 0)).toBe(true);
      const st = statSync(`/dev/shm/${name}`);
      expect(st.size).toBe(5000);
      expect(st.mode & 0o777).toBe(0o600 & ~umask());
    } finally {
      shm.close();
      shm.unlink();
    }
    expect(existsSync(`/dev/shm/${name}`)).toBe(false);
  });

  it('honours { mode }', () => {
    const shm = new SharedMemory({ name: uniqueName('shm-mode'), size: 16, mode: 0o640 });
    try {
      expect(statSync(`/dev/shm/${shm.name}`).mode & 0o777).toBe(0o640 & ~umask());
    } finally {
      shm.close();
      shm.unlink();
    }
  });

  it('a second handle maps the same bytes and keeps the object size whatever size it asks for', () => {
    const name = uniqueName('shm-two');
    const a = new SharedMemory({ name, size: 4096 });
    const b = new SharedMemory({ name, size: 10 });
    const c = SharedMemory.open(name);
    const d = new SharedMemory({ name, create: false });
    try {
      expect([b.size, c.size, d.size]).toEqual([4096, 4096, 4096]);
      a.buf.write('zero-copy', 100);
      expect(b.buf.toString('utf8', 100, 109)).toBe('zero-copy');
      d.buf[4095] = 42;
      expect(c.buf[4095]).toBe(42);
      // Typed views over buf.buffer are the shared memory too.
      new Uint32Array(c.buf.buffer, 0, 1)[0] = 0xdeadbeef;
      expect(a.buf.readUInt32LE(0)).toBe(0xdeadbeef);
    } finally {
      for (const shm of [a, b, c, d]) shm.close();
      a.unlink();
    }
  });

  it('create: true and exclusive only create; create: false and open only open', () => {
    const name = uniqueName('shm-modes');
    const shm = new SharedMemory({ name, create: true, size: 64 });
    try {
      for (const options of [
        { name, create: true, size: 64 },
        { name, exclusive: true, size: 64 },
      ]) {
        expect(() => new SharedMemory(options)).toThrow(
          expect.objectContaining({ code: 'EEXIST', errno: -17, syscall: 'shm_open' }),
        );
      }
    } finally {
      shm.close();
      shm.unlink();
    }
    for (const open of [() => SharedMemory.open(name), () => new SharedMemory({ name, create: false, size: 64 })]) {
      expect(open).toThrow(expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'shm_open' }));
    }
    // An exclusive create of a missing name works.
    const fresh = new SharedMemory({ name, exclusive: true, size: 8 });
    fresh.close();
    fresh.unlink();
    expect(existsSync(`/dev/shm/${name}`)).toBe(false);
  });

  it('close() detaches every Buffer over the memory; buf then throws; unlink still works; unlink twice is ENOENT', () => {
    const shm = new SharedMemory({ name: uniqueName('shm-close'), size: 128 });
    const buf = shm.buf;
    const view = new Int32Array(buf.buffer);
    shm.close();
    expect(shm.closed).toBe(true);
    expect(buf.buffer.byteLength).toBe(0);
    expect(view.length).toBe(0);
    expect(() => shm.buf).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
    shm.close(); // idempotent
    shm.unlink();
    expect(() => shm.unlink()).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'shm_unlink' }));
  });

  it('[Symbol.dispose] closes', () => {
    const name = uniqueName('shm-dispose');
    let buf: Buffer;
    {
      using shm = new SharedMemory({ name, size: 32 });
      buf = shm.buf;
      buf[0] = 1;
    }
    expect(buf.buffer.byteLength).toBe(0);
    const again = SharedMemory.open(name);
    expect(again.buf[0]).toBe(1);
    again.close();
    again.unlink();
  });

  it('anonymous memory has a generated name, the requested size, and nothing in /dev/shm', () => {
    const shm = new SharedMemory({ size: 1000 });
    try {
      expect(shm.name).toMatch(/^mp-/);
      expect(shm.size).toBe(1000);
      expect(existsSync(`/dev/shm/${shm.name}`)).toBe(false);
      shm.buf.fill(7);
      expect(shm.buf[999]).toBe(7);
      shm.unlink(); // no-op
    } finally {
      shm.close();
    }
    expect(() => shm.buf).toThrow(expect.objectContaining({ code: 'ERR_MP_CLOSED' }));
  });

  it('an existing object of size 0 (made by someone else) is refused with a clear error', () => {
    const name = uniqueName('shm-empty');
    writeFileSync(`/dev/shm/${name}`, '');
    try {
      expect(() => SharedMemory.open(name)).toThrow(expect.objectContaining({ code: 'ERR_MP_ZERO_SIZE' }));
      expect(existsSync(`/dev/shm/${name}`)).toBe(true); // not ours to remove
    } finally {
      rmSync(`/dev/shm/${name}`, { force: true });
    }
  });

  it('a size the address space cannot hold fails cleanly and leaves no object behind', () => {
    const name = uniqueName('shm-huge');
    try {
      expect(() => new SharedMemory({ name, size: 2 ** 52 })).toThrow(expect.objectContaining({ code: expect.any(String) }));
      expect(existsSync(`/dev/shm/${name}`)).toBe(false);
    } finally {
      rmSync(`/dev/shm/${name}`, { force: true });
    }
  });
});

describe('between processes', () => {
  it('what a child writes and leaves (close without unlink) is there for the next process', async () => {
    const name = uniqueName('shm-persist');
    try {
      const child = await runNode(
        `import { SharedMemory } from 'posix-mp';
         const shm = new SharedMemory({ name: process.argv[1], size: 256 });
         shm.buf.write('left by ' + process.pid);
         shm.close();`,
        [name],
      );
      expect(child).toMatchObject({ code: 0, stderr: '' });
      const shm = SharedMemory.open(name);
      try {
        expect(shm.size).toBe(256);
        expect(shm.buf.toString('utf8', 0, 8)).toBe('left by ');
      } finally {
        shm.close();
        shm.unlink();
      }
    } finally {
      rmSync(`/dev/shm/${name}`, { force: true });
    }
  });

  it('Atomics on views of the memory are atomic across processes: two processes add 20,000 times each', async () => {
    const N = 20_000;
    const shm = new SharedMemory({ name: uniqueName('shm-atomics'), size: 64 });
    const child = spawnNode(
      `import { SharedMemory } from 'posix-mp';
       const [name, n] = process.argv.slice(1);
       const shm = SharedMemory.open(name);
       const view = new Int32Array(shm.buf.buffer, 0, 4);
       Atomics.add(view, 1, 1);                       // "started"
       while (Atomics.load(view, 2) === 0) {}         // wait for "go" so that both loops overlap
       for (let i = 0; i < Number(n); i++) Atomics.add(view, 0, 1);
       shm.close();`,
      [shm.name, String(N)],
    );
    try {
      const result = within(child);
      result.catch(() => {});
      const view = new Int32Array(shm.buf.buffer, 0, 4);
      const deadline = Date.now() + 30_000;
      while (Atomics.load(view, 1) === 0) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`child did not start: ${child.exitCode}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      Atomics.store(view, 2, 1);
      for (let i = 0; i < N; i++) Atomics.add(view, 0, 1);
      expect(await result).toMatchObject({ code: 0, stderr: '' });
      expect(Atomics.load(view, 0)).toBe(2 * N);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      shm.close();
      shm.unlink();
    }
  });
});
