// Ping-pong partner: `node echo.mjs PING PONG COUNT` opens two named semaphores and, COUNT times, waits for
// PING and posts PONG (synchronously, the fastest way to answer). Prints "ready" once both are open.
// A 30 s timeout ends it if the benchmark process vanished without killing it.
import { Semaphore } from 'posix-mp';

const [pingName, pongName, countArg] = process.argv.slice(2);
const ping = Semaphore.open(pingName);
const pong = Semaphore.open(pongName);
const count = Number(countArg);
console.log('ready');
try {
  for (let i = 0; i < count; i++) {
    if (!ping.acquireSync({ timeout: 30_000 })) throw new Error(`echo: no ping after ${i} round trips`);
    pong.release();
  }
} finally {
  ping.close();
  pong.close();
}
