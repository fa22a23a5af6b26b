// One soak worker: runs its role's step until the driver sets the stop cell, reporting a heartbeat, its open
// descriptors and its RSS in its slot. Usage: node soak-worker.mjs PREFIX SLOT ROLE ROLES(comma-separated)
import { readdirSync } from 'node:fs';

import { SharedArray } from 'posix-mp';
import { closeAll, ROLES, SHARED, Slots } from './soak-roles.mjs';

const [prefix, index, roleName, roleList] = process.argv.slice(2);
const role = ROLES[roleName];
const roles = roleList.split(',');
const slots = new Slots(SharedArray.open(`${prefix}.slots`, { lock: false }).view, roles);
const shared = SharedArray.open(`${prefix}.shared`, { lock: false }).view;
const slot = slots.slot(Number(index));
const objects = role.open(prefix, roles);
const stopAt = role.early ? 1 : 2;

slot.pid = process.pid;
let reported = 0;
while (shared[SHARED.stop] < stopAt) {
  await role.step(objects, slot, slots);
  const now = Date.now();
  slot.heartbeat = now;
  if (now - reported >= 1000) {
    reported = now;
    slot.fds = readdirSync('/proc/self/fd').length;
    slot.rss = process.memoryUsage.rss();
  }
  // Let the event loop run (async waits' completions, timers) between steps.
  if (slot.ops % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
}
if (role.leave) await role.leave(objects);
else closeAll(objects);
