// Seed 003 "Process", section Queue: a writer puts 1 without blocking (put(1, block=False): putNowait), a
// reader gets without blocking (get(block=False): getNowait) and prints what it got. As in the seed, the
// reader may look before the writer has put anything: then it finds the queue empty (Empty, ignored) and
// prints nothing. This port starts the reader once the writer is done, so that it prints 1.
import { isMainProcess, Process, Queue } from 'posix-mp';

export function writerProc(q) {
  try {
    q.putNowait(1);
  } catch {
    // Full: ignored, as in the seed
  }
}

export function readerProc(q) {
  try {
    console.log(q.getNowait());
  } catch {
    // Empty: ignored, as in the seed
  }
}

if (isMainProcess()) {
  const q = new Queue();
  const writer = new Process({ target: writerProc, args: [q] });
  writer.start();
  await writer.join();

  const reader = new Process({ target: readerProc, args: [q] });
  reader.start();

  await reader.join();
  q.close();
}
