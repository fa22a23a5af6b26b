// Appender: `node list-append.mjs LIST GATE0 GATE1 BASE COUNT ROUNDS` opens a named SharedList and two named
// Events and prints "ready". Then, ROUNDS times, waits for its round's gate (round r: GATE<r % 2>), appends
// BASE..BASE+COUNT-1, and prints "<start> <end>": process.hrtime.bigint() (CLOCK_MONOTONIC, the same clock in
// every process) around the loop. A 30 s timeout ends it if the benchmark process vanished without killing it.
import { Event, SharedList } from 'posix-mp';

const [listName, gate0, gate1, baseArg, countArg, roundsArg] = process.argv.slice(2);
const list = SharedList.open(listName);
const gates = [Event.open(gate0), Event.open(gate1)];
const [base, count, rounds] = [baseArg, countArg, roundsArg].map(Number);
console.log('ready');
try {
  for (let r = 0; r < rounds; r++) {
    if (!gates[r % 2].waitSync({ timeout: 30_000 })) throw new Error(`appender: no start signal for round ${r}`);
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) list.append(base + i);
    console.log(`${start} ${process.hrtime.bigint()}`);
  }
} finally {
  for (const gate of gates) gate.close();
  list.close();
}
