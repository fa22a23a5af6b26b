#!/usr/bin/env node
// Soak test: many processes hammer Locks, RLocks, a Value, a Semaphore, a Condition, a Barrier, a Queue, Pools
// and Manager containers while this driver SIGKILLs random ones (and starts replacements) — Pool workers too —
// and checks invariants throughout: counts exact but for the declared in-flight losses, no wait stuck longer
// than a bound, no descriptor or memory growth in the survivors (one worker per role is never killed), and at
// the end nothing left in /dev/shm and no process left that a worker started. Not part of `npm test`.
//
//   npm run soak -- --minutes 10 [--kill-every 300] [--scale 1] [--rss-slack-mb 64] [--only semaphore,lock]
//
// Roles (what workers do and what is checked) are in soak-roles.mjs; a new kind of object is a new role.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { RawArray, SharedArray } from 'posix-mp';
import { closeAll, createAll, ROLES, SHARED, SLOT_WIDTH, Slots, unlinkIfThere } from './soak-roles.mjs';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    'kill-every': { type: 'string', default: '300' },
    only: { type: 'string' },
    scale: { type: 'string', default: '1' },
    // AddressSanitizer keeps freed memory in quarantine (256 MiB by default): the sanitized run allows for it.
    'rss-slack-mb': { type: 'string', default: '64' },
  },
});
const DURATION_MS = Number(args.minutes) * 60_000;
const KILL_EVERY_MS = Number(args['kill-every']);
/** Workers per role (times --scale); --only keeps some roles (a Queue needs both qput and qget). */
const ALL_WORKERS = { lock: 2, rlock: 2, value: 2, semaphore: 4, producer: 2, consumer: 2, barrier: 3, qput: 2, qget: 2, pool: 2, manager: 3 };
const WORKERS = Object.fromEntries(Object.entries(ALL_WORKERS).filter(([role]) => !args.only || args.only.split(',').includes(role)));
/** A lock the driver cannot take within this, or a worker without a heartbeat for this long, is a deadlock. */
const STUCK_MS = 20_000;
/** Survivors are measured from this age on (Node's own start-up growth is over by then). */
const WARM_MS = 15_000;
const FD_SLACK = 2;
/** The environment variable that marks every process of this run, to find those left behind. */
const MARK = 'POSIX_MP_SOAK';
const RSS_SLACK = Number(args['rss-slack-mb']) * 2 ** 20;

const prefix = `pmp-soak-${process.pid}-${randomBytes(3).toString('hex')}`;
const workerFile = fileURLToPath(new URL('./soak-worker.mjs', import.meta.url));
const roles = Object.entries(WORKERS).flatMap(([role, n]) => Array(n * Number(args.scale)).fill(role));
/** The first worker of each role is never killed: the survivors whose descriptors and memory are watched. */
const survivors = new Set(Object.keys(WORKERS).map((role) => roles.indexOf(role)));
const failures = [];
const stats = { kills: 0, inFlightLosses: 0, checks: 0, restarts: 0, driverOwnerDied: 0 };
/** Per role: invariant checks and failures. */
const checksByRole = {};
const failuresByRole = {};
/** How often each distinct failure was seen (a broken invariant fails every check after it). */
const seen = new Map();
const fail = (message, role = 'driver') => {
  if (!seen.has(message) && seen.size < 100) console.error(`FAIL ${new Date().toISOString()} ${message}`);
  seen.set(message, (seen.get(message) ?? 0) + 1);
  failures.push(message);
  failuresByRole[role] = (failuresByRole[role] ?? 0) + 1;
};
const checked = (role, n = 1) => {
  stats.checks += n;
  checksByRole[role] = (checksByRole[role] ?? 0) + n;
};

const created = createAll(prefix, roles);
const slotArray = RawArray('d', roles.length * SLOT_WIDTH, { name: `${prefix}.slots` });
const slots = new Slots(slotArray.view, roles);
const shared = SharedArray.open(`${prefix}.shared`, { lock: false });
/** The driver's own handles, per role. */
const handles = Object.fromEntries(Object.keys(WORKERS).map((role) => [role, (ROLES[role].driverOpen ?? ROLES[role].open)(prefix, roles)]));
const driverFds = () => readdirSync('/proc/self/fd').length;

/** Per slot: the running child, when it started, its resource baseline, whether the driver killed it. */
const workers = roles.map(() => ({ child: undefined, startedAt: 0, baseline: undefined, killing: false }));

function start(i) {
  const worker = workers[i];
  const slot = slots.slot(i);
  slot.phase = 0;
  slot.heartbeat = Date.now();
  slot.pid = 0;
  slot.generation += 1;
  const child = spawn(process.execPath, [workerFile, prefix, String(i), roles[i], roles.join(',')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, [MARK]: prefix },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  Object.assign(worker, { child, startedAt: Date.now(), baseline: undefined, killing: false });
  child.once('exit', (code, signal) => {
    if (worker.child !== child) return;
    worker.child = undefined;
    if (worker.killing || stopping) return;
    fail(`worker ${i} (${roles[i]}, pid ${child.pid}) exited by itself: code ${code} signal ${signal}\n${stderr}`, roles[i]);
    start(i);
  });
}

/** Kills a random worker, or a random process a worker started that its role lets the driver kill. */
async function killOne() {
  const live = workers.flatMap((w, i) => (w.child && !w.killing && !survivors.has(i) ? [{ i }] : []));
  for (const [i, w] of workers.entries()) {
    const role = ROLES[roles[i]];
    if (!w.child || w.killing || !role.subprocesses) continue;
    for (const pid of role.subprocesses(handles[roles[i]], i, w.child.pid)) live.push({ i, pid });
  }
  if (live.length === 0) return;
  const { i, pid } = live[Math.floor(Math.random() * live.length)];
  if (pid !== undefined) {
    ROLES[roles[i]].killing(handles[roles[i]], pid);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // it ended meanwhile
    }
    stats.kills += 1;
    slots.killed[`${roles[i]}-subprocess`] = slots.kills(`${roles[i]}-subprocess`) + 1;
    return;
  }
  const worker = workers[i];
  const child = worker.child;
  worker.killing = true;
  child.kill('SIGKILL');
  await once(child, 'exit');
  // The worker is gone: its slot is final. A kill inside a critical section is an in-flight loss.
  const role = roles[i];
  const slot = slots.slot(i);
  const phase = slot.phase;
  stats.kills += 1;
  slots.killed[role] = slots.kills(role) + 1;
  if (phase === 1) {
    stats.inFlightLosses += 1;
    slots.inFlight[role] = slots.losses(role) + 1;
  }
  slot.phase = 0;
  ROLES[role].onKilled?.(handles[role], phase, slot, handles);
  stats.restarts += 1;
  start(i);
}

/** Every invariant once: each role's check (under its lock), heartbeats, and the survivors' resources. */
async function checkAll(final = false) {
  for (const [name, role] of Object.entries(ROLES).filter(([r]) => r in WORKERS)) {
    role.tick?.(handles[name]);
    const check = final && role.final ? role.final : role.check;
    if (!check) continue;
    const lock = role.lockOf?.(handles[name]);
    if (lock && !(await lock.acquire({ timeout: STUCK_MS }))) {
      fail(`deadlock: the driver could not take ${name}'s lock within ${STUCK_MS} ms`, name);
      continue;
    }
    if (lock?.ownerDied) stats.driverOwnerDied += 1;
    try {
      const problem = check(handles[name], slots);
      checked(name);
      if (problem) fail(problem, name);
      if (final && role.final) {
        const also = role.check(handles[name], slots);
        checked(name);
        if (also) fail(also, name);
      }
    } finally {
      lock?.release();
    }
  }
  const now = Date.now();
  workers.forEach((worker, i) => {
    if (!worker.child || worker.killing) return;
    const slot = slots.slot(i);
    checked(roles[i]);
    if (now - slot.heartbeat > STUCK_MS) fail(`worker ${i} (${roles[i]}) has made no step for ${now - slot.heartbeat} ms`, roles[i]);
    if (!survivors.has(i) || now - worker.startedAt < WARM_MS || slot.fds === 0) return;
    if (!worker.baseline) {
      worker.baseline = { fds: slot.fds, rss: slot.rss };
      return;
    }
    checked(roles[i]);
    if (slot.fds > worker.baseline.fds + FD_SLACK) fail(`worker ${i} (${roles[i]}): descriptors grew from ${worker.baseline.fds} to ${slot.fds}`, roles[i]);
    if (slot.rss > worker.baseline.rss + RSS_SLACK) fail(`worker ${i} (${roles[i]}): RSS grew from ${worker.baseline.rss} to ${slot.rss}`, roles[i]);
  });
}

let stopping = false;
let summary;
const startedAt = Date.now();
const fdsAtStart = driverFds();
console.log(`soak: ${roles.length} workers (${Object.entries(WORKERS).map(([r, n]) => `${n * Number(args.scale)} ${r}`).join(', ')}), ${args.minutes} min, a SIGKILL every ~${KILL_EVERY_MS} ms, objects ${prefix}.*`);
roles.forEach((_, i) => start(i));
let killer;
let checker;
try {
  const killing = (async () => {
    while (!stopping) {
      await new Promise((resolve) => {
        killer = { timer: setTimeout(resolve, KILL_EVERY_MS * (0.5 + Math.random())), resolve };
      });
      if (!stopping) await killOne();
    }
  })();
  let lastReport = startedAt;
  while (Date.now() - startedAt < DURATION_MS) {
    await new Promise((resolve) => (checker = setTimeout(resolve, 1000)));
    await checkAll();
    if (Date.now() - lastReport >= 60_000) {
      lastReport = Date.now();
      console.log(`soak: ${Math.round((lastReport - startedAt) / 1000)} s, ${totalOps()} operations, ${stats.kills} kills, ${stats.checks} checks, ${failures.length} failures`);
    }
  }
  stopping = true;
  clearTimeout(killer?.timer);
  killer?.resolve();
  await killing;
  // Workers stop at their next step (each wait is bounded) and close everything: the `early` roles first.
  for (const level of [1, 2]) {
    shared.view[SHARED.stop] = level;
    for (const [i, worker] of workers.entries()) {
      const child = worker.child;
      if (!child || (level === 1 && !ROLES[roles[i]].early)) continue;
      const exited = once(child, 'exit');
      const timer = setTimeout(() => {
        fail(`worker ${i} (${roles[i]}) did not stop`, roles[i]);
        child.kill('SIGKILL');
      }, STUCK_MS);
      const [code, signal] = await exited;
      clearTimeout(timer);
      if (code !== 0 && signal !== 'SIGKILL') fail(`worker ${i} (${roles[i]}) stopped with code ${code} signal ${signal}`, roles[i]);
    }
  }
  await checkAll(true);
} finally {
  stopping = true;
  shared.view[SHARED.stop] = 2;
  for (const worker of workers) worker.child?.kill('SIGKILL');
  summary = summarise();
  for (const [name, objects] of Object.entries(handles)) (ROLES[name].close ?? closeAll)(objects);
  shared.close();
  for (const object of created) {
    unlinkIfThere(object);
    object.close();
  }
  slotArray.unlink();
  slotArray.close();
}

const strays = await leftProcesses();
if (strays.length > 0) fail(`processes left running: ${strays.join('; ')}`);
const left = readdirSync('/dev/shm').filter((file) => file.includes(prefix));
if (left.length > 0) fail(`left in /dev/shm: ${left.join(', ')}`);
const fdsAtEnd = driverFds();
if (fdsAtEnd > fdsAtStart + FD_SLACK) fail(`the driver's descriptors grew from ${fdsAtStart} to ${fdsAtEnd}`);

/**
 * Processes still running with this run's mark in their environment (which every process a worker starts
 * inherits), after giving orphans of killed workers a few seconds to notice; they are killed.
 */
async function leftProcesses() {
  const marked = () =>
    readdirSync('/proc').filter((pid) => {
      if (!/^\d+$/.test(pid)) return false;
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${MARK}=${prefix}`);
      } catch {
        return false;
      }
    });
  const until = Date.now() + 10_000;
  while (marked().length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 200));
  return marked().map((pid) => {
    let command = '?';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    return `${pid} ${command}`;
  });
}

function totalOps() {
  return Object.keys(WORKERS).reduce((sum, role) => sum + slots.sumOps(role), 0);
}

/** The figures, read from the shared bookkeeping before it is unmapped. */
function summarise() {
  return {
    minutes: Number(args.minutes),
    workers: roles.length,
    operations: Object.fromEntries(Object.keys(WORKERS).map((role) => [role, slots.sumOps(role)])),
    totalOperations: totalOps(),
    barrierRounds: shared.view[SHARED.rounds],
    ownerDiedTakeovers: roles.reduce((sum, _, i) => sum + slots.slot(i).ownerDied, 0),
    ...stats,
    survivors: [...survivors].map((i) => ({ role: roles[i], ...workers[i].baseline, fdsNow: slots.slot(i).fds, rssNow: slots.slot(i).rss })),
    killsByRole: slots.killed,
    inFlightLossesByRole: slots.inFlight,
    checksByRole,
    failuresByRole,
    roles: Object.fromEntries(Object.keys(WORKERS).flatMap((role) => (ROLES[role].summary ? [[role, ROLES[role].summary(handles[role], slots)]] : []))),
  };
}

console.log(JSON.stringify({ ...summary, failures: failures.length, distinctFailures: seen.size }, null, 2));
process.exitCode = failures.length > 0 ? 1 : 0;
