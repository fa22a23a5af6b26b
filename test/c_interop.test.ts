// A C program built against native/include/posix_mp.h shares Locks and Values with Node processes: it opens
// them by name (shm_open + mmap), takes the lock with pmp_lock_acquire, and increments the very same value.
import { describe, expect, it } from 'vitest';

import { Lock, RawArray, Value } from 'posix-mp';
import { cPeer, runNode, uniqueName } from './helpers.js';

const runPeer = cPeer('lock_value_peer').run;

/** Node's side of the start gate: count in, then wait for every party. */
const GATE = `
  import { SharedArray } from 'posix-mp';
  function passGate(name, parties) {
    const gate = SharedArray.open(name, { lock: false });
    Atomics.add(gate.view, 0, 1);
    while (Atomics.load(gate.view, 0) < parties) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    gate.close();
  }`;

describe('a C peer and Node processes', () => {
  it('increment a Value under a named Lock to the exact total', async () => {
    const lockName = uniqueName('c-lock');
    const valueName = uniqueName('c-value');
    const gateName = uniqueName('c-gate');
    using lock = new Lock({ name: lockName });
    using value = new Value('q', 0n, { name: valueName, lock });
    using gate = RawArray('i', 1, { name: gateName });
    const nodes = 3;
    const nodeIterations = 20_000;
    const cIterations = 50_000;
    try {
      const node = `${GATE}
        import { Lock, Value } from 'posix-mp';
        const [lockName, valueName, gateName, n, parties] = process.argv.slice(1);
        const lock = Lock.open(lockName);
        const value = Value.open(valueName, { lock: false }); // guarded by the separate Lock, as in Python
        passGate(gateName, Number(parties));
        for (let i = 0; i < Number(n); i++) {
          lock.acquireSync();
          value.value += 1n;
          lock.release();
        }`;
      const results = await Promise.all([
        runPeer([valueName, lockName, gateName, cIterations, nodes + 1]),
        ...Array.from({ length: nodes }, () =>
          runNode(node, [lockName, valueName, gateName, String(nodeIterations), String(nodes + 1)]),
        ),
      ]);
      expect(results[0]).toMatchObject({ code: 0, stderr: '', stdout: 'done\n' });
      for (const r of results.slice(1)) expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(value.value).toBe(BigInt(nodes * nodeIterations + cIterations));
      expect(lock.locked()).toBe(false);
    } finally {
      lock.unlink();
      value.unlink();
      gate.unlink();
    }
  });

  it("increment a Value under the Value's own lock (an RLock to Node) to the exact total", async () => {
    const valueName = uniqueName('c-own');
    const gateName = uniqueName('c-gate');
    using value = new Value('q', 0n, { name: valueName });
    using gate = RawArray('i', 1, { name: gateName });
    const nodes = 2;
    const nodeIterations = 20_000;
    const cIterations = 50_000;
    try {
      const node = `${GATE}
        import { Value } from 'posix-mp';
        const [valueName, gateName, n, parties] = process.argv.slice(1);
        const value = Value.open(valueName);
        const lock = value.getLock();
        passGate(gateName, Number(parties));
        for (let i = 0; i < Number(n); i++) lock.withLockSync(() => { value.value += 1n; });`;
      const results = await Promise.all([
        runPeer([valueName, '-', gateName, cIterations, nodes + 1]),
        ...Array.from({ length: nodes }, () =>
          runNode(node, [valueName, gateName, String(nodeIterations), String(nodes + 1)]),
        ),
      ]);
      expect(results[0]).toMatchObject({ code: 0, stderr: '', stdout: 'done\n' });
      for (const r of results.slice(1)) expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(value.value).toBe(BigInt(nodes * nodeIterations + cIterations));
      expect(value.getLock().locked()).toBe(false);
    } finally {
      value.unlink();
      gate.unlink();
    }
  });

  it('pmp_open reports a missing object (ENOENT) and one of another kind (EPROTO)', async () => {
    const valueName = uniqueName('c-kind');
    using value = new Value('q', 0n, { name: valueName });
    try {
      const missing = await runPeer([uniqueName('c-missing'), '-', valueName, 1, 1]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/pmp_open\(value\): No such file or directory/);
      // The Value is not a Lock.
      const wrongKind = await runPeer([valueName, valueName, valueName, 1, 1]);
      expect(wrongKind.code).toBe(1);
      expect(wrongKind.stderr).toMatch(/pmp_open\(lock\): Protocol error/);
    } finally {
      value.unlink();
    }
  });
});
