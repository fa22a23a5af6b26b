// The soak test's Manager role (see soak-roles.mjs for what a role is): `manager` workers update a SharedList
// and two SharedDicts while the driver SIGKILLs them at random, often in the middle of a container operation.
//
// Under a named Lock (phase 1 inside), writer w appends [w, n] to `log`, where n is its counter in `counts`,
// then stores n + 1 there; when the log is long it pops the oldest entry and counts that in `counts.popped`.
// So, with k in-flight losses (a writer killed between those operations): each writer's entries in the log are
// consecutive numbers, each repeated at most once per loss (a killed writer's successor appends n again);
// its last entry is its counter − 1 (or, after a loss, the counter); and the counters' sum equals the log's
// length plus `popped` within ± k. Outside the Lock, writers also set and delete random keys of `scratch`
// (values of random size, so blocks are allocated and freed), racing on the container's own lock: every
// value read back must be the one stored for its key. Any operation interrupted by a kill must have been
// either undone or completed by the next process to take the container's lock.
import { Lock, SharedDict, SharedList } from 'posix-mp';

const LOG_MAX = 500;
const SCRATCH_KEYS = 16;
const WAIT_MS = 2000;

const open = (p) => ({
  lock: Lock.open(`${p}.mlock`),
  log: SharedList.open(`${p}.mlog`),
  counts: SharedDict.open(`${p}.mcounts`),
  scratch: SharedDict.open(`${p}.mscratch`),
});

const scratchValue = (key, size) => ({ key, body: 'x'.repeat(size) });

export const manager = {
  create: (p) => [
    new Lock({ name: `${p}.mlock` }),
    new SharedList([], { name: `${p}.mlog` }),
    new SharedDict(undefined, { name: `${p}.mcounts` }),
    new SharedDict(undefined, { name: `${p}.mscratch` }),
  ],
  open,
  async step(objects, slot) {
    const { lock, log, counts, scratch } = objects;
    const key = `s${slot.index}.${Math.floor(Math.random() * SCRATCH_KEYS)}`;
    if (Math.random() < 0.6) scratch.set(key, scratchValue(key, Math.floor(Math.random() ** 3 * 8000)));
    else scratch.delete(key);

    const got = slot.ops % 2 === 0 ? lock.acquireSync({ timeout: WAIT_MS }) : await lock.acquire({ timeout: WAIT_MS });
    if (!got) return;
    if (lock.ownerDied) slot.bump('ownerDied');
    slot.phase = 1;
    const writer = `w${slot.index}`;
    const n = counts.get(writer) ?? 0;
    log.append([slot.index, n]);
    counts.set(writer, n + 1);
    if (log.length > LOG_MAX) {
      log.pop(0);
      counts.set('popped', (counts.get('popped') ?? 0) + 1);
    }
    slot.ops += 1;
    slot.phase = 0;
    lock.release();
  },
  lockOf: (objects) => objects.lock,
  check({ log, counts, scratch }, view) {
    const losses = view.losses('manager');
    const entries = log.toArray();
    const counters = counts.toObject();
    const last = new Map();
    let repeats = 0;
    let sum = 0;
    for (const entry of entries) {
      if (!Array.isArray(entry) || entry.length !== 2) return `manager: a log entry is ${JSON.stringify(entry)}`;
      const [w, n] = entry;
      const before = last.get(w);
      if (before !== undefined && n !== before + 1) {
        if (n !== before) return `manager: writer ${w}'s entries go from ${before} to ${n}`;
        repeats += 1;
      }
      last.set(w, n);
    }
    for (const [key, count] of Object.entries(counters)) {
      if (key === 'popped') continue;
      sum += count;
      const w = Number(key.slice(1));
      const n = last.get(w);
      if (n !== undefined && n !== count - 1 && !(n === count && losses > 0)) {
        return `manager: writer ${w}'s counter is ${count}, its last entry ${n}`;
      }
    }
    if (repeats > losses) return `manager: ${repeats} repeated entries, ${losses} in-flight losses`;
    const logged = entries.length + (counters.popped ?? 0);
    if (Math.abs(sum - logged) > losses) {
      return `manager: counters sum to ${sum}, the log holds ${logged} entries, ${losses} in-flight losses`;
    }
    for (const [key, value] of scratch.entries()) {
      if (value?.key !== key || typeof value.body !== 'string' || /[^x]/.test(value.body)) {
        return `manager: scratch[${key}] is ${JSON.stringify(value).slice(0, 80)}`;
      }
    }
    return undefined;
  },
  summary: ({ log, counts }) => ({ logLength: log.length, popped: counts.get('popped') ?? 0 }),
};
