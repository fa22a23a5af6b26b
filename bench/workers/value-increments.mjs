// Contending incrementer: `node value-increments.mjs VALUE GATE0 GATE1 N ROUNDS` opens a named Value('i') and
// two named Events and prints "ready". Then, ROUNDS times, waits for its round's gate (round r: GATE<r % 2>;
// the benchmark clears a gate once every worker is past it, two rounds before it is used again), does N times
// `v.getLock().withLockSync(() => { v.value += 1; })`, and prints "<start> <end> <sleeps>": the
// process.hrtime.bigint() (CLOCK_MONOTONIC, the same clock in every process) around the loop, and the voluntary
// context switches during it (each one a sleep on the lock: what contention cost this process). A 30 s
// timeout ends it if the benchmark process vanished without killing it.
import { Event, Value } from 'posix-mp';

const [valueName, gate0, gate1, countArg, roundsArg] = process.argv.slice(2);
const v = Value.open(valueName);
const gates = [Event.open(gate0), Event.open(gate1)];
const count = Number(countArg);
const rounds = Number(roundsArg);
console.log('ready');
try {
  for (let r = 0; r < rounds; r++) {
    if (!gates[r % 2].waitSync({ timeout: 30_000 })) throw new Error(`incrementer: no start signal for round ${r}`);
    const switches = process.resourceUsage().voluntaryContextSwitches;
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      v.getLock().withLockSync(() => {
        v.value += 1;
      });
    }
    const end = process.hrtime.bigint();
    console.log(`${start} ${end} ${process.resourceUsage().voluntaryContextSwitches - switches}`);
  }
} finally {
  for (const gate of gates) gate.close();
  v.close();
}
