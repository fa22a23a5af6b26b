// Event ping-pong partner: `node event-echo.mjs A B COUNT` opens two named Events and, COUNT times, waits for
// A (synchronously, the fastest way to answer), clears it and sets B. Prints "ready" once both are open.
// A 30 s timeout ends it if the benchmark process vanished without killing it.
import { Event } from 'posix-mp';

const [aName, bName, countArg] = process.argv.slice(2);
const a = Event.open(aName);
const b = Event.open(bName);
const count = Number(countArg);
console.log('ready');
try {
  for (let i = 0; i < count; i++) {
    if (!a.waitSync({ timeout: 30_000 })) throw new Error(`event echo: A not set after ${i} round trips`);
    // Cleared before B is set: the benchmark sets A again only after it has seen B.
    a.clear();
    b.set();
  }
} finally {
  a.close();
  b.close();
}
