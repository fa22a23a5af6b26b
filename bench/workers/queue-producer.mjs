// Queue benchmark producer: `node queue-producer.mjs CONTROL DATA` opens two named queues and, for every
// job { kind, count } taken from CONTROL, puts `count` items of that kind on DATA; 'stop' ends it. Prints
// "ready" once both are open. Items: 'int' small integers, 'kb' objects of about 1 KB, 'big' 64 MiB Buffers.
import { Queue } from 'posix-mp';

const [controlName, dataName] = process.argv.slice(2);
const control = Queue.open(controlName);
const data = Queue.open(dataName);
const big = Buffer.alloc(64 << 20, 1);
console.log('ready');
try {
  for (;;) {
    const job = control.getSync({ timeout: 60_000 });
    if (job === 'stop') break;
    const { kind, count } = job;
    if (kind === 'int') for (let i = 0; i < count; i++) data.putSync(i);
    else if (kind === 'kb') for (let i = 0; i < count; i++) data.putSync({ id: i, name: 'item', payload: 'x'.repeat(1000) });
    else for (let i = 0; i < count; i++) data.putSync(big);
  }
} finally {
  control.close();
  data.close();
}
