// The soak test's Pool role (see soak-roles.mjs for what a role is): each `pool` worker owns a Pool of two
// workers and keeps it busy with apply and starmap calls, while the driver SIGKILLs the pool's workers at
// random (and, the owner not being a survivor, sometimes the owner itself).
//
// Checked by the owner, which throws (and so fails the soak) otherwise: every task returns its own correct
// result or rejects with ERR_MP_WORKER_DIED naming a pid the driver killed; a call that never settles stops the
// owner's heartbeat, which the driver reports as a hang. The driver learns the pool's worker pids from the
// results (a task returns its pid) and kills only a live descendant of the owner with such a pid; it writes
// each pid into the shared `killed` ring before killing it.
import { readFileSync } from 'node:fs';

import { Pool, RawArray, SharedArray } from 'posix-mp';

const POOL_SIZE = 2;
const TASKS = 8;
/** Cells: [0] the next free entry of the killed ring, then the ring, then per slot the pids seen. */
const RING = 64;
const PIDS = 8;
const ringCell = (k) => 1 + (k % RING);
const pidCell = (slot, k) => 1 + RING + slot * PIDS + (k % PIDS);

/** The task the pool runs: x → 2x + 1, after `ms` milliseconds, with the pid of the worker that ran it. */
export function soakTask(x, ms) {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return { pid: process.pid, y: 2 * x + 1 };
}

const state = (p) => SharedArray.open(`${p}.pool`, { lock: false });

/** The parent pid of `pid` (0 once it is gone). */
function parentOf(pid) {
  try {
    // The command name, in parentheses, may hold spaces: fields after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Whether `pid` is a live descendant of `ancestor` (pool workers may be the fork server's children). */
function descends(pid, ancestor) {
  for (let p = pid, hops = 0; p > 1 && hops < 4; hops++) {
    p = parentOf(p);
    if (p === ancestor) return true;
  }
  return false;
}

export const pool = {
  create: (p, roles) => RawArray('d', 1 + RING + roles.length * PIDS, { name: `${p}.pool` }),
  open: (p) => ({ pool: new Pool(POOL_SIZE), state: state(p), round: 0, seen: 0 }),
  driverOpen: (p) => ({ state: state(p), subprocessKills: 0 }),
  async step(objects, slot) {
    const view = objects.state.view;
    const xs = Array.from({ length: TASKS }, (_, k) => objects.round * TASKS + k);
    const args = xs.map((x) => [x, x % 5]);
    const settled =
      objects.round++ % 2 === 0
        ? await Promise.allSettled(args.map((a) => objects.pool.apply(soakTask, a)))
        : await objects.pool.starmap(soakTask, args).then(
            (results) => results.map((value) => ({ status: 'fulfilled', value })),
            (reason) => [{ status: 'rejected', reason }],
          );
    let ok = 0;
    for (const [k, result] of settled.entries()) {
      if (result.status === 'rejected') {
        const error = result.reason;
        const killed = Array.from({ length: RING }, (_, r) => view[ringCell(r)]);
        if (error?.code !== 'ERR_MP_WORKER_DIED' || !killed.includes(error.pid)) {
          throw new Error(`pool: a task failed, not because the driver killed its worker: ${error?.stack ?? error}`);
        }
        slot.bump('detail'); // tasks lost to killed workers
        continue;
      }
      const { pid, y } = result.value;
      if (y !== 2 * xs[k] + 1) throw new Error(`pool: task ${xs[k]} returned ${y}`);
      view[pidCell(slot.index, objects.seen++)] = pid;
      ok += 1;
    }
    slot.ops += ok;
  },
  async leave(objects) {
    objects.pool.close();
    await objects.pool.join();
    objects.state.close();
  },
  /** Pool workers of the owner in slot `index` (pid `owner`) that the driver may kill. */
  subprocesses(objects, index, owner) {
    const view = objects.state.view;
    const pids = new Set(Array.from({ length: PIDS }, (_, k) => view[pidCell(index, k)]));
    return [...pids].filter((pid) => pid > 0 && descends(pid, owner));
  },
  /** Called just before the driver SIGKILLs pool worker `pid`. */
  killing(objects, pid) {
    const view = objects.state.view;
    view[ringCell(view[0])] = pid;
    view[0] += 1;
    objects.subprocessKills += 1;
  },
  summary: (objects, view) => ({ workerKills: objects.subprocessKills, tasksLostToKilledWorkers: view.sumColumn('pool', 'detail') }),
};
