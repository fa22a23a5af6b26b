// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 三 进程间的信号机制引入 (signals between
// processes): `os.kill(pingP.pid, signal.SIGINT)` kills a child; `wait()` then gives the signal's negated
// number as its return code ("当子进程被信号中断的时候,将返回信号的负值").
import { constants } from 'node:os';

import { posix } from 'posix-mp';

/** This process's SIGINT handler (signal.signal(signal.SIGINT, signal_handler)); the child does not inherit it. */
function signalHandler() {
  console.log('sigint func execute');
}
process.on('SIGINT', signalHandler);

// The seed runs "ping www.baidu.com"; `sleep 30` stands in for it (no network needed).
const pid = posix.spawn('sleep', ['30']);

posix.kill(pid, 'SIGINT'); // kills the child directly: it prints nothing

const status = await posix.waitpid(pid);
const returncode = status.exitCode ?? -constants.signals[status.signal];
console.log(pid);
console.log(returncode);
if (returncode < 0) console.log('the child was interrupted by a signal');
else console.log('normal return');
process.off('SIGINT', signalHandler);
