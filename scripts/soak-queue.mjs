// The soak test's Queue roles (see soak-roles.mjs for what a role is): `qput` workers put numbered items on one
// named Queue, `qget` workers take them, and the driver SIGKILLs both at random.
//
// Accounting. Item ids are per producer slot: `nextSeq` (shared, so it survives restarts) hands out each id
// once, so an id can legitimately appear at most once. A producer shows the id it is putting in its slot's
// `detail` with phase 1 from before it reserves the id until its put has returned: a producer killed then may
// or may not have put it (declared). A consumer is in phase 1 from before its get until it has recorded what
// it got in the shared `taken` table (cell `n % WINDOW` of its producer's row holds n + 1, an int32): killed then, it may
// have taken an item and lost it — the one loss the Queue allows; its `detail` names the item once get has
// returned, else the loss is anonymous. Checked: no id taken twice (consumers check the table as they record),
// FIFO per producer as each consumer sees it, large (streamed) payloads intact, and — settled by the driver
// once the producer's newest recorded id is far ahead, and for everything at the end after draining the queue —
// every id handed out was taken, except the declared ones and at most one per anonymous consumer loss.
import { Empty, Full, Queue, RawArray, SharedArray } from 'posix-mp';

/** Ids per producer the `taken` table keeps; the driver settles an id once the newest is SETTLE ahead. */
const WINDOW = 1 << 20;
const SETTLE = WINDOW / 2;
/** Every 50th item carries a buffer larger than half the ring, so it is streamed in parts. */
const RING_BYTES = 256 * 1024;
const BIG = 300 * 1024;
const WAIT_MS = 2000;
/** Per slot: the next id a producer hands out, and the newest id recorded. */
const STATE = { nextSeq: 0, high: 1 };
const STATE_WIDTH = 2;

const producers = (roles) => roles.flatMap((role, i) => (role === 'qput' ? [i] : []));
const id = (producer, n) => producer * 2 ** 32 + n;
const payload = (n) => Buffer.alloc(BIG, n % 251);
const streamed = (n) => n % 50 === 7;

function open(p, roles) {
  const state = SharedArray.open(`${p}.qstate`, { lock: false });
  const taken = SharedArray.open(`${p}.qtaken`, { lock: false });
  const rows = new Map(producers(roles).map((slot, row) => [slot, row * WINDOW]));
  return { queue: Queue.open(`${p}.queue`), state, taken, rows, last: new Map() };
}

/** Records that item (producer, n) was taken; throws on a second taking, FIFO order broken, or a bad payload. */
function record(objects, item) {
  const [producer, n, buffer] = item;
  const row = objects.rows.get(producer);
  if (row === undefined || !Number.isInteger(n)) throw new Error(`queue: an item that was never put: ${JSON.stringify(item.slice(0, 2))}`);
  const cell = row + (n % WINDOW);
  const taken = objects.taken.view;
  if (taken[cell] === n + 1) throw new Error(`queue: item ${producer}/${n} taken twice`);
  if (taken[cell] > n + 1) throw new Error(`queue: item ${producer}/${n} arrived after item ${taken[cell] - 1}`);
  const last = objects.last.get(producer);
  if (last !== undefined && n <= last) throw new Error(`queue: item ${producer}/${n} after ${producer}/${last}: not FIFO`);
  if (streamed(n) && !(Buffer.isBuffer(buffer) && buffer.length === BIG && buffer[0] === n % 251 && buffer[BIG - 1] === n % 251)) {
    throw new Error(`queue: item ${producer}/${n}'s ${BIG}-byte buffer arrived damaged`);
  }
  objects.last.set(producer, n);
  taken[cell] = n + 1;
  const state = objects.state.view;
  const high = producer * STATE_WIDTH + STATE.high;
  // Two consumers may race here: a lower value only makes the driver settle later.
  if (n > state[high]) state[high] = n;
}

export const qput = {
  create: (p, roles) => [
    new Queue(500, { name: `${p}.queue`, capacityBytes: RING_BYTES }),
    RawArray('d', roles.length * STATE_WIDTH, { name: `${p}.qstate` }),
    RawArray('i', Math.max(1, producers(roles).length) * WINDOW, { name: `${p}.qtaken` }),
  ],
  open,
  async step(objects, slot) {
    const state = objects.state.view;
    const next = slot.index * STATE_WIDTH + STATE.nextSeq;
    if (objects.pending === undefined) {
      const n = state[next];
      slot.detail = id(slot.index, n) + 1;
      slot.phase = 1;
      state[next] = n + 1;
      objects.pending = n;
    }
    const n = objects.pending;
    const item = streamed(n) ? [slot.index, n, payload(n)] : [slot.index, n];
    try {
      if (slot.ops % 2 === 0) objects.queue.putSync(item, { timeout: WAIT_MS });
      else await objects.queue.put(item, { timeout: WAIT_MS });
    } catch (error) {
      if (error instanceof Full) return; // the same id again next step
      throw error;
    }
    objects.pending = undefined;
    slot.ops += 1;
    slot.phase = 0;
    slot.detail = 0;
  },
  /** Producers stop first, so that no streamed put waits for consumers that are gone. */
  early: true,
  driverOpen: (p, roles) => ({
    ...open(p, roles),
    /** Per producer: the ids below this are settled. */
    settled: new Map(),
    /** Ids a killed producer or consumer held. */
    declared: new Set(),
    /** Consumers killed in phase 1 before their get returned. */
    anonymous: 0,
    missing: 0,
    excused: 0,
    unexplained: 0,
    unexplainedStreamed: 0,
  }),
  onKilled(objects, phase, slot) {
    if (phase === 1) objects.declared.add(slot.detail - 1);
  },
  check: (objects, view) => settle(objects, view, false),
  /** With every worker stopped: takes what is left in the queue, then settles every id handed out. */
  final(objects, view) {
    objects.last.clear();
    for (;;) {
      let item;
      try {
        item = objects.queue.getNowait();
      } catch (error) {
        if (error instanceof Empty) break;
        throw error;
      }
      try {
        record(objects, item);
      } catch (error) {
        return error.message;
      }
    }
    return settle(objects, view, true);
  },
  summary: (objects) => ({
    settled: [...objects.settled.values()].reduce((a, b) => a + b, 0),
    missing: objects.missing,
    declaredLosses: objects.excused,
    anonymousLossesAllowed: objects.anonymous,
    anonymousLosses: objects.unexplained,
    anonymousLossesOfStreamedItems: objects.unexplainedStreamed,
  }),
};

export const qget = {
  open,
  async step(objects, slot) {
    slot.detail = 0;
    slot.phase = 1;
    let item;
    try {
      item = slot.ops % 2 === 0 ? objects.queue.getSync({ timeout: 200 }) : await objects.queue.get({ timeout: 200 });
    } catch (error) {
      slot.phase = 0;
      if (error instanceof Empty) return;
      throw error;
    }
    slot.detail = id(item[0], item[1]) + 1;
    record(objects, item);
    slot.ops += 1;
    slot.phase = 0;
    slot.detail = 0;
  },
  driverOpen: () => ({}),
  /** A consumer killed in phase 1 may have lost the item it names, or (none named) one item unknown. */
  onKilled(_objects, phase, slot, all) {
    if (phase !== 1) return;
    if (slot.detail > 0) all.qput.declared.add(slot.detail - 1);
    else all.qput.anonymous += 1;
  },
};

/**
 * Settles ids: each producer's ids up to SETTLE below its newest recorded one (`final`: all ids handed out)
 * must have been taken, or be declared, or be covered by an anonymous consumer loss.
 */
function settle(objects, view, final) {
  const state = objects.state.view;
  const taken = objects.taken.view;
  const held = new Set();
  for (let i = 0; i < view.roles.length; i++) {
    const slot = view.slot(i);
    if (view.roles[i] === 'qget' && slot.phase === 1 && slot.detail > 0) held.add(slot.detail - 1);
  }
  for (const [producer, row] of objects.rows) {
    const nextSeq = state[producer * STATE_WIDTH + STATE.nextSeq];
    const end = final ? nextSeq : Math.min(nextSeq, state[producer * STATE_WIDTH + STATE.high] - SETTLE);
    let n = objects.settled.get(producer) ?? 0;
    for (; n < end; n++) {
      if (taken[row + (n % WINDOW)] === n + 1) continue;
      const which = id(producer, n);
      if (held.has(which) && !final) break; // a live consumer is recording it
      objects.missing += 1;
      if (objects.declared.delete(which)) objects.excused += 1;
      else {
        objects.unexplained += 1;
        // A consumer killed while a streamed item arrives in parts has taken its first part.
        if (streamed(n)) objects.unexplainedStreamed += 1;
      }
    }
    objects.settled.set(producer, n);
  }
  if (objects.unexplained > objects.anonymous) {
    return `queue: ${objects.unexplained} items lost beyond the declared ones, with ${objects.anonymous} consumers killed holding an unknown item`;
  }
  return undefined;
}
