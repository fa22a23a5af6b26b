import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { Semaphore, SharedMemory } from 'posix-mp';
import { runNode, uniqueName } from './helpers.js';

describe('two unrelated Node processes', () => {
  it('share a SharedMemory and a Semaphore by name', async () => {
    const name = uniqueName('smoke');
    const shm = new SharedMemory({ name, size: 64 });
    const sem = new Semaphore(0, { name });
    try {
      const child = await runNode(
        `import { Semaphore, SharedMemory } from 'posix-mp';
         const [name] = process.argv.slice(1);
         const shm = SharedMemory.open(name);
         shm.buf.write('hello from the child');
         Semaphore.open(name).release();`,
        [name],
      );
      expect(child.stderr).toBe('');
      expect(await sem.acquire({ timeout: 10_000 })).toBe(true);
      expect(shm.buf.toString('utf8', 0, 20)).toBe('hello from the child');
    } finally {
      shm.close();
      shm.unlink();
      sem.close();
      sem.unlink();
    }
    expect(existsSync(`/dev/shm/${name}`)).toBe(false);
  });
});
