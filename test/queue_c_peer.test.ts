// A C program built against native/include/posix_mp.h (test/peers/queue_peer.c) puts and gets byte messages
// on a Queue shared with Node: the ring protocol is published in that header, streamed messages included.
import { describe, expect, it } from 'vitest';

import { Queue } from 'posix-mp';
import { cPeer, uniqueName } from './helpers.js';

const runPeer = cPeer('queue_peer').run;

function fnv1a(data: Uint8Array): string {
  let hash = 2166136261;
  for (const byte of data) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

describe('a C peer', () => {
  it('puts byte messages that Node gets as Buffers, in order, while Node waits', async () => {
    const name = uniqueName('q-c-put');
    // A small ring: the C producer waits for room, the Node consumer for items.
    using q = new Queue(0, { name, capacityBytes: 4096 });
    try {
      const running = runPeer([name, 'put', 5000]);
      for (let i = 0; i < 5000; i++) expect(((await q.get({ timeout: 30_000 })) as Buffer).toString()).toBe(`c-${i}`);
      const result = await running;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    } finally {
      q.unlink();
    }
  });

  it('gets what Node puts: Buffers as raw bytes (also larger than the ring, streamed), values with their tag', async () => {
    const name = uniqueName('q-c-get');
    using q = new Queue(3, { name, capacityBytes: 64 * 1024 });
    try {
      const big = Buffer.alloc(3 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
      const messages = [Buffer.from('hello C'), Buffer.alloc(0), big, Buffer.alloc(40_000, 7)];
      const running = runPeer([name, 'get', messages.length + 2]);
      for (const m of messages) await q.put(m);
      await q.put({ not: 'bytes' });
      await q.put(new Map([[1, 'v8']]));
      const result = await running;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.trim().split('\n');
      expect(lines.slice(0, messages.length)).toEqual(messages.map((m) => `2 ${m.length} ${fnv1a(m)}`));
      // Plain data in posix-mp's own format (tag 7), anything else serialized by V8 (tag 1).
      expect(lines[messages.length]!.startsWith('7 ')).toBe(true);
      expect(lines[messages.length + 1]!.startsWith('1 ')).toBe(true);
      expect(q.qsize()).toBe(0);
    } finally {
      q.unlink();
    }
  });
});
