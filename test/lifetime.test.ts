// Lifetime of Values and Arrays: named ones persist like files until unlink; anonymous ones live in memfd
// arenas, never appear in /dev/shm (also when their creator is SIGKILLed), and cost neither a descriptor nor
// a mapping each.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { SharedArray, Value } from 'posix-mp';
import { finished, runNode, spawnNode, uniqueName, waitForLine } from './helpers.js';

const PMP_MAGIC = 0x31504d50;

/** The posix-mp objects in /dev/shm that process `pid` created (their header records the creator). */
function shmObjectsCreatedBy(pid: number, among: Iterable<string>): string[] {
  const found: string[] = [];
  const header = Buffer.alloc(32);
  for (const entry of among) {
    let fd: number;
    try {
      fd = openSync(`/dev/shm/${entry}`, 'r');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    try {
      if (readSync(fd, header, 0, 32, 0) === 32 && header.readUInt32LE(0) === PMP_MAGIC && header.readUInt32LE(16) === pid) {
        found.push(entry);
      }
    } finally {
      closeSync(fd);
    }
  }
  return found;
}

describe('named Values and Arrays', () => {
  it('persist after their creator exits, until unlink', async () => {
    const valueName = uniqueName('life-value');
    const arrayName = uniqueName('life-array');
    try {
      const child = await runNode(
        `import { Array, Value } from 'posix-mp';
         const [valueName, arrayName] = process.argv.slice(1);
         new Value('q', 1234567890123n, { name: valueName, exclusive: true });
         new Array('c', 'persist', { name: arrayName, exclusive: true });`,
        [valueName, arrayName],
      );
      expect(child).toMatchObject({ code: 0, stderr: '' });
      using v = Value.open(valueName);
      using a = SharedArray.open(arrayName);
      expect(v.value).toBe(1234567890123n);
      expect(a.toArray().join('')).toBe('persist');
    } finally {
      for (const name of [valueName, arrayName]) {
        try {
          Value.open(name).unlink();
        } catch {
          SharedArray.open(name).unlink();
        }
      }
    }
    expect(() => Value.open(valueName)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => SharedArray.open(arrayName)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('anonymous Values and Arrays', () => {
  it('never appear in /dev/shm, also when their creator is SIGKILLed', async () => {
    const before = new Set(readdirSync('/dev/shm'));
    const child = spawnNode(
      `import { Array, RawArray, RawValue, Value } from 'posix-mp';
       import { readFileSync } from 'node:fs';
       const keep = [];
       for (let i = 0; i < 200; i++) keep.push(new Value('i', i), new Array('d', 8), RawValue('q'), RawArray('c', 'x'));
       keep.push(new Array('d', 100_000), RawArray('B', 300_000)); // large: memory files of their own
       const memfds = readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('/memfd:posix-mp'));
       console.log(JSON.stringify({ names: keep.map((o) => o.name), memfds: memfds.length, ok: keep[0].value === 0 }));
       setInterval(() => {}, 1000);`,
    );
    const exited = finished(child);
    try {
      const report = JSON.parse(await waitForLine(child, /^\{/)) as { names: string[]; memfds: number; ok: boolean };
      expect(report.ok).toBe(true);
      // 800 small objects in one arena file, plus the two large objects' own files.
      expect(report.memfds).toBeGreaterThanOrEqual(3);
      const listed = readdirSync('/dev/shm');
      expect(listed.filter((entry) => report.names.some((name) => entry.includes(name)))).toEqual([]);
      expect(shmObjectsCreatedBy(child.pid!, listed.filter((entry) => !before.has(entry)))).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
    expect((await exited).signal).toBe('SIGKILL');
    const added = readdirSync('/dev/shm').filter((entry) => !before.has(entry));
    expect(added.filter((entry) => entry.includes(`mp-${child.pid}-`))).toEqual([]);
    expect(shmObjectsCreatedBy(child.pid!, added)).toEqual([]);
  });

  it('100,000 of them cost a handful of descriptors and shared mappings, not 100,000', async () => {
    // A fresh process, so that nothing else changes its descriptors. Its JS heap grows by ~100 MB, which V8
    // maps in private 256 KiB pages: the check counts *shared* mappings (all shared memory is MAP_SHARED).
    const child = await runNode(
      `import { Value } from 'posix-mp';
       import { readdirSync, readFileSync } from 'node:fs';
       const count = () => {
         const maps = readFileSync('/proc/self/maps', 'utf8').trim().split('\\n');
         return {
           fds: readdirSync('/proc/self/fd').length,
           sharedMaps: maps.filter((line) => line.split(/\\s+/)[1][3] === 's').length,
           maps: maps.length,
         };
       };
       new Value('i').close(); // load everything once
       const before = count();
       const values = [];
       for (let i = 0; i < 100_000; i++) values.push(new Value('i', i));
       const after = count();
       const distinct = new Set(values.map((v) => v.name)).size;
       const intact = values.every((v, i) => v.value === i);
       for (const v of values) v.close();
       const reused = [];
       for (let i = 0; i < 100_000; i++) reused.push(new Value('q', BigInt(i)));
       const afterReuse = count();
       const reusedIntact = reused.every((v, i) => v.value === BigInt(i));
       console.log(JSON.stringify({ before, after, afterReuse, distinct, intact, reusedIntact }));`,
    );
    expect(child.stderr).toBe('');
    const r = JSON.parse(child.stdout) as Record<string, { fds: number; sharedMaps: number; maps: number }> & {
      distinct: number;
      intact: boolean;
      reusedIntact: boolean;
    };
    expect(r.distinct).toBe(100_000);
    expect(r.intact).toBe(true);
    expect(r.reusedIntact).toBe(true);
    expect(r.after!.fds - r.before!.fds).toBeLessThanOrEqual(24);
    expect(r.after!.sharedMaps - r.before!.sharedMaps).toBeLessThanOrEqual(24);
    // Closed Values' blocks are reused: a second 100,000 needs no new memory files.
    expect(r.afterReuse!.fds).toBe(r.after!.fds);
    expect(r.afterReuse!.sharedMaps).toBe(r.after!.sharedMaps);
  });

  it('never reuse memory whose view was handed out', () => {
    const a = new SharedArray('i', [1, 2, 3, 4]);
    const view = a.view;
    a.close();
    // Later objects of the same size must not land on the memory the kept view still shows.
    const later = Array.from({ length: 8 }, () => new SharedArray('i', [-1, -1, -1, -1]));
    expect(Array.from(view)).toEqual([1, 2, 3, 4]);
    for (const b of later) b.close();
  });
});
