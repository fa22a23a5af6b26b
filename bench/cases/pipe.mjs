// Issue #10, Pipe rows: a 64-byte round trip through Pipe() with an echo child (a Process given one end in
// its args; workers/pipe-echo.mjs answers with the Sync forms), as raw bytes (sendBytes/recvBytes, Python's
// send_bytes/recv_bytes) and as an object (send/recv), waiting synchronously and from the event loop; and a
// 64 MiB message to the child, answered by a 2-byte acknowledgement. Python: the same with mp.Pipe() and a
// forked mp.Process.
// Target: the round trip no slower than Python's.
import { Pipe, Process } from 'posix-mp';

import { sample, scaled } from '../lib/measure.mjs';

export const title = 'Pipe';
export const order = 40;

const TRIPS = 3000;
const SMALL = Buffer.alloc(64, 0x78);
const BIG = 64 * 1024 * 1024;
const BIG_RUNS = 5;
const TIMEOUT_MS = 30_000;
const workers = new URL('../workers/pipe-echo.mjs', import.meta.url);

/** Starts the echo child `name` with one end of a new Pipe; returns the other end and the child. */
function echoChild(name) {
  const [mine, theirs] = Pipe();
  const child = new Process({ target: { module: workers, export: name }, args: [theirs] });
  child.start();
  theirs.close();
  return { mine, child };
}

async function measure(name, send, recvSync, recvAsync) {
  const { mine, child } = echoChild(name);
  try {
    const sync = await sample(() => {
      for (let i = 0; i < TRIPS; i++) {
        send(mine, SMALL);
        recvSync(mine);
      }
    }, { ops: TRIPS });
    const async = await sample(async () => {
      for (let i = 0; i < TRIPS; i++) {
        send(mine, SMALL);
        await recvAsync(mine);
      }
    }, { ops: TRIPS });
    const big = Buffer.alloc(BIG, 1);
    const large = await sample(async () => {
      send(mine, big);
      await recvAsync(mine);
    }, { ops: 1, runs: BIG_RUNS, warmup: 1 });
    mine.close();
    await child.join(TIMEOUT_MS);
    if (child.exitCode !== 0) throw new Error(`echo child failed (exit ${child.exitCode})`);
    return { sync: scaled(sync, 1e3), async: scaled(async, 1e3), large: scaled(large, 1e6) };
  } finally {
    if (!mine.closed) mine.close();
    if (child.exitCode === null) child.kill();
  }
}

export async function run({ python }) {
  const bytes = await measure(
    'echoBytes',
    (c, m) => c.sendBytes(m),
    (c) => c.recvBytesSync({ timeout: TIMEOUT_MS }),
    (c) => c.recvBytes({ timeout: TIMEOUT_MS }),
  );
  const objects = await measure(
    'echoObjects',
    (c, m) => c.send(m),
    (c) => c.recvSync({ timeout: TIMEOUT_MS }),
    (c) => c.recv({ timeout: TIMEOUT_MS }),
  );
  const roundTrip = (metric, node, py) => ({
    metric,
    unit: 'µs',
    node,
    python: py,
    target: '≤ Python',
    met: node.median <= py.median,
  });
  return {
    rows: [
      roundTrip('64 B round trip, sendBytes + recvBytesSync()', bytes.sync, python.smallBytes),
      roundTrip('64 B round trip, sendBytes + await recvBytes()', bytes.async, python.smallBytes),
      roundTrip('64 B round trip, send + recvSync()', objects.sync, python.smallObjects),
      roundTrip('64 B round trip, send + await recv()', objects.async, python.smallObjects),
      { metric: '64 MiB to the child and ack, sendBytes', unit: 'ms', node: bytes.large, python: python.bigBytes },
      { metric: '64 MiB to the child and ack, send (object)', unit: 'ms', node: objects.large, python: python.bigObjects },
    ],
    notes: [
      `Python: mp.Pipe() and a forked mp.Process echoing with send_bytes/recv_bytes or send/recv; ${TRIPS} round ` +
        'trips per run. The async rows are compared with the same Python (blocking) round trip.',
      'posix-mp: the echo child is a Process (it got its end in its args) answering with the Sync forms. ' +
        'send() of an object over 64 KiB puts it in a memory file whose descriptor travels instead (the sender never ' +
        'waits for the reader); sendBytes streams the bytes, as Python does.',
    ],
  };
}
