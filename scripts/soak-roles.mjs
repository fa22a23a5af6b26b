// What the soak test's workers do, one role per kind of shared object, and how the driver checks each.
//
// A role has: `create(prefix, roles)` (the driver makes the named objects: one or an array), `open(prefix,
// roles)` (a worker opens them; the driver too, unless the role has `driverOpen`), `step(objects, slot, view)`
// (one operation in a worker, sync or async), and `check(objects, view)` (the driver's invariant, returning a
// string on violation). `slot` is the worker's row of shared bookkeeping: `slot.phase` is 1 while the worker
// is inside a critical section whose effect a SIGKILL could leave half done, `slot.ops` counts completed
// operations (written inside the same critical section as their effect), `slot.detail` is the role's own. The
// driver declares a kill while phase is 1 an in-flight loss, which the counting invariants allow for, and
// calls `onKilled(objects, phase, slot, allHandles)`. Optional: `lockOf` (the driver checks holding it),
// `final` (the check once every worker has stopped), `tick`, `close` (the driver's handles), `leave` (async,
// a worker's end), `early` (stops before the other roles), `subprocesses`/`killing` (processes a worker
// started that the driver may SIGKILL too), `summary` (figures for the report).
// The Queue, Pool and Manager roles are in soak-queue.mjs, soak-pool.mjs and soak-manager.mjs.
import { Barrier, BrokenBarrierError, Condition, Lock, RawArray, RLock, Semaphore, SharedArray, Value } from 'posix-mp';
import { manager } from './soak-manager.mjs';
import { pool } from './soak-pool.mjs';
import { qget, qput } from './soak-queue.mjs';

/** Columns of a slot (a row of the shared Float64 `slots` array). */
export const SLOT = { role: 0, pid: 1, phase: 2, ops: 3, heartbeat: 4, fds: 5, rss: 6, ownerDied: 7, generation: 8, detail: 9 };
export const SLOT_WIDTH = 10;
/** Cells of the shared `shared` array. */
/** `stop`: 1 stops the roles marked `early`, 2 every worker. */
export const SHARED = { stop: 0, lock: 1, rlock: 2, items: 3, violations: 4, rounds: 5, barrierGeneration: 6 };
export const SHARED_CELLS = 8;
/** Semaphore tokens. */
export const TOKENS = 3;
export const BARRIER_PARTIES = 3;
/** Every wait in a worker is bounded by this (a hung wait shows up as a stale heartbeat, not a stuck worker). */
export const WAIT_MS = 2000;

const sharedArray = (prefix) => SharedArray.open(`${prefix}.shared`, { lock: false });

/** Takes `lock`, sync or async, with a bounded wait; counts owner-died takeovers. */
async function take(lock, slot, sync) {
  const got = sync ? lock.acquireSync({ timeout: WAIT_MS }) : await lock.acquire({ timeout: WAIT_MS });
  if (got && lock.ownerDied) slot.bump('ownerDied');
  return got;
}

/** A counter guarded by a lock: sum of ops <= counter <= sum of ops + in-flight losses. */
function counted(cell, label) {
  return ({ shared }, view) => {
    const counter = shared.view[cell];
    const ops = view.sumOps(label);
    const losses = view.losses(label);
    if (counter < ops || counter > ops + losses) return `${label}: counter ${counter}, operations ${ops}, in-flight losses ${losses}`;
    return undefined;
  };
}

export const ROLES = {
  lock: {
    create: (p) => new Lock({ name: `${p}.lock` }),
    open: (p) => ({ lock: Lock.open(`${p}.lock`), shared: sharedArray(p) }),
    async step({ lock, shared }, slot) {
      if (!(await take(lock, slot, slot.ops % 2 === 0))) return;
      slot.phase = 1;
      shared.view[SHARED.lock] += 1;
      slot.ops += 1;
      slot.phase = 0;
      lock.release();
    },
    lockOf: (objects) => objects.lock,
    check: counted(SHARED.lock, 'lock'),
  },
  rlock: {
    create: (p) => new RLock({ name: `${p}.rlock` }),
    open: (p) => ({ lock: RLock.open(`${p}.rlock`), shared: sharedArray(p) }),
    async step({ lock, shared }, slot) {
      if (!(await take(lock, slot, slot.ops % 2 === 0))) return;
      lock.acquireSync(); // recursion
      slot.phase = 1;
      shared.view[SHARED.rlock] += 1;
      slot.ops += 1;
      slot.phase = 0;
      lock.release();
      lock.release();
    },
    lockOf: (objects) => objects.lock,
    check: counted(SHARED.rlock, 'rlock'),
  },
  value: {
    create: (p) => new Value('d', 0, { name: `${p}.value` }),
    open: (p) => ({ value: Value.open(`${p}.value`) }),
    async step({ value }, slot) {
      const lock = value.getLock();
      if (!(await take(lock, slot, slot.ops % 2 === 0))) return;
      slot.phase = 1;
      value.value += 1;
      slot.ops += 1;
      slot.phase = 0;
      lock.release();
    },
    lockOf: (objects) => objects.value.getLock(),
    check: (objects, view) => {
      const ops = view.sumOps('value');
      const losses = view.losses('value');
      const v = objects.value.value;
      return v < ops || v > ops + losses ? `value: ${v}, operations ${ops}, in-flight losses ${losses}` : undefined;
    },
  },
  semaphore: {
    create: (p) => [new Semaphore(TOKENS, { name: `${p}.sem` }), RawArray('i', 1, { name: `${p}.holders` })],
    open: (p) => ({
      sem: Semaphore.open(`${p}.sem`),
      shared: sharedArray(p),
      holders: SharedArray.open(`${p}.holders`, { lock: false }),
    }),
    // phase 1 = holds a token. At most TOKENS workers may be inside at once: `holders` counts them with atomic
    // adds (a count of the slots in phase 1, read one by one while they change, could see one holder leave and
    // the next arrive, and so more holders than there are). A kill between setting the phase and the add (or
    // between the subtraction and clearing the phase) makes the count one too low, never too high.
    async step({ sem, shared, holders }, slot) {
      const got = slot.ops % 2 === 0 ? sem.acquireSync({ timeout: WAIT_MS }) : await sem.acquire({ timeout: WAIT_MS });
      if (!got) return;
      slot.phase = 1;
      if (Atomics.add(holders.view, 0, 1) + 1 > TOKENS) shared.view[SHARED.violations] += 1;
      slot.ops += 1;
      Atomics.sub(holders.view, 0, 1);
      slot.phase = 0;
      sem.release();
    },
    // The driver gives back the token of a worker killed holding it (what a supervisor would do).
    onKilled({ sem, holders }, phase) {
      if (phase !== 1) return;
      Atomics.sub(holders.view, 0, 1);
      sem.release();
    },
    check: ({ sem, shared }) => {
      if (shared.view[SHARED.violations] > 0) return `semaphore: ${shared.view[SHARED.violations]} times more than ${TOKENS} holders`;
      const value = sem.getValue();
      if (value > TOKENS) return `semaphore: value ${value} > ${TOKENS}`;
      return undefined;
    },
    /** At the end, with every worker stopped: tokens lost in the instants between taking a token and saying so. */
    final: ({ sem }, view) => {
      const lost = TOKENS - sem.getValue();
      return lost < 0 || lost > view.kills('semaphore') ? `semaphore: ${lost} tokens lost, ${view.kills('semaphore')} kills` : undefined;
    },
  },
  producer: {
    create: (p) => new Condition(undefined, { name: `${p}.cond` }),
    open: (p) => ({ cond: Condition.open(`${p}.cond`), shared: sharedArray(p) }),
    async step({ cond, shared }, slot) {
      if (!(await take(cond, slot, slot.ops % 2 === 0))) return;
      if (shared.view[SHARED.items] < 1000) {
        slot.phase = 1;
        shared.view[SHARED.items] += 1;
        slot.ops += 1;
        slot.phase = 0;
        cond.notify();
      }
      cond.release();
    },
    lockOf: (objects) => objects.cond,
    check: ({ shared }, view) => {
      const items = shared.view[SHARED.items];
      const expected = view.sumOps('producer') - view.sumOps('consumer');
      const slack = view.losses('producer') + view.losses('consumer');
      return Math.abs(items - expected) > slack ? `condition: ${items} items, expected ${expected} ± ${slack}` : undefined;
    },
  },
  consumer: {
    open: (p) => ({ cond: Condition.open(`${p}.cond`), shared: sharedArray(p) }),
    async step({ cond, shared }, slot) {
      const sync = slot.ops % 2 === 0;
      if (!(await take(cond, slot, sync))) return;
      const ready = () => shared.view[SHARED.items] > 0;
      const got = sync ? cond.waitForSync(ready, { timeout: 200 }) : await cond.waitFor(ready, { timeout: 200 });
      if (got) {
        slot.phase = 1;
        shared.view[SHARED.items] -= 1;
        slot.ops += 1;
        slot.phase = 0;
      }
      cond.release();
    },
  },
  barrier: {
    create: (p) => new Barrier(BARRIER_PARTIES, { name: `${p}.barrier.0` }),
    open: (p) => {
      const shared = sharedArray(p);
      const generation = shared.view[SHARED.barrierGeneration];
      return { barrier: Barrier.open(`${p}.barrier.${generation}`), shared, generation, prefix: p };
    },
    // phase 1 = inside wait(). A party killed there stays counted in the barrier for ever (as with Python's
    // multiprocessing.Barrier), so that barrier drains or resets for ever: the driver replaces it (onKilled).
    async step(objects, slot) {
      const { shared } = objects;
      const generation = shared.view[SHARED.barrierGeneration];
      if (generation !== objects.generation) {
        objects.barrier.close();
        objects.barrier = Barrier.open(`${objects.prefix}.barrier.${generation}`);
        objects.generation = generation;
      }
      try {
        slot.phase = 1;
        const index = slot.ops % 2 === 0 ? objects.barrier.waitSync({ timeout: WAIT_MS }) : await objects.barrier.wait({ timeout: WAIT_MS });
        if (index === 0) shared.view[SHARED.rounds] += 1;
        slot.ops += 1;
      } catch (error) {
        if (!(error instanceof BrokenBarrierError)) throw error;
        if (shared.view[SHARED.barrierGeneration] === objects.generation) objects.barrier.reset();
      } finally {
        slot.phase = 0;
      }
    },
    /** Replaces the barrier a killed party wedged; the old one is aborted until nobody waits on it any more. */
    onKilled(objects, phase) {
      if (phase !== 1) return;
      const generation = objects.shared.view[SHARED.barrierGeneration] + 1;
      const fresh = new Barrier(BARRIER_PARTIES, { name: `${objects.prefix}.barrier.${generation}` });
      objects.retired ??= [];
      objects.retired.push(objects.barrier);
      objects.barrier.unlink();
      objects.barrier = fresh;
      objects.shared.view[SHARED.barrierGeneration] = generation;
      objects.retired.at(-1).abort();
    },
    /** Each check: wakes stragglers still waiting on a replaced barrier (waits there have no timeout). */
    tick(objects) {
      for (const barrier of objects.retired ?? []) barrier.abort();
    },
    close(objects) {
      for (const barrier of objects.retired ?? []) barrier.close();
      unlinkIfThere(objects.barrier);
      objects.barrier.close();
      objects.shared.close();
    },
  },
  qput,
  qget,
  pool,
  manager,
};

/** The objects a driver makes and closes, per role (consumers share the producers' Condition). */
export function createAll(prefix, roles) {
  const made = [RawArray('d', SHARED_CELLS, { name: `${prefix}.shared` })];
  for (const role of Object.values(ROLES)) if (role.create) made.push(...[role.create(prefix, roles)].flat());
  return made;
}

/** The shared bookkeeping rows, as workers and the driver see them. */
export class Slots {
  /** @param roles the role name of each slot */
  constructor(view, roles) {
    this.view = view;
    this.roles = roles;
    /** Driver only: kills and kills with phase 1, per role. */
    this.killed = {};
    this.inFlight = {};
  }

  /** Slot `i` as an object with a property per SLOT column. */
  slot(i) {
    const view = this.view;
    const base = i * SLOT_WIDTH;
    const row = { index: i, bump: (column) => (view[base + SLOT[column]] += 1) };
    for (const [column, offset] of Object.entries(SLOT)) {
      Object.defineProperty(row, column, { get: () => view[base + offset], set: (v) => (view[base + offset] = v) });
    }
    return row;
  }

  #indexes(role) {
    return this.roles.flatMap((r, i) => (r === role ? [i] : []));
  }

  sumOps(role) {
    return this.sumColumn(role, 'ops');
  }

  sumColumn(role, column) {
    return this.#indexes(role).reduce((sum, i) => sum + this.view[i * SLOT_WIDTH + SLOT[column]], 0);
  }

  kills(role) {
    return this.killed[role] ?? 0;
  }

  losses(role) {
    return this.inFlight[role] ?? 0;
  }
}

/** Closes a role's handles (the `objects` its open() made). */
export function closeAll(objects) {
  for (const object of Object.values(objects)) if (typeof object?.close === 'function') object.close();
}

/** Unlinks a named object unless that was done already (the driver's replaced barriers). */
export function unlinkIfThere(object) {
  try {
    object.unlink();
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
}
