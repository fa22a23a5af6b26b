// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", 进程间通讯 — Pipe, the function form ("类方法实现"): one
// end of a Pipe goes to the child in args; the child sends a list and closes it. Then the seed's note on
// Pipe(duplex=False): the first end only receives, the second only sends.
import { isMainProcess, Pipe, Process } from 'posix-mp';

export function func(childPipe) {
  childPipe.send(['fwafaw', 444]);
  childPipe.close();
}

/** Not in the seed's code, only in its note: a one-way pipe, written by the child. */
export function writeOnly(writer) {
  writer.send('one way');
  writer.close();
}

if (isMainProcess()) {
  const [parentConn, childConn] = Pipe();
  const p = new Process({ target: func, args: [childConn] });
  p.start();
  childConn.close(); // the child has its own copy

  console.log(await parentConn.recv());
  await p.join();
  parentConn.close();

  console.log('end');

  // Pipe(false): [reader, writer].
  const [reader, writer] = Pipe(false);
  const q = new Process({ target: writeOnly, args: [writer] });
  q.start();
  writer.close();
  console.log(await reader.recv(), '| reader.writable:', reader.writable, '| writer.readable:', writer.readable);
  await q.join();
  reader.close();
}
