// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 四, note 3 ("此时我们可以通过共享内存...来共享资源":
// processes share data through shared memory), made concrete: a Value and an Array passed to a child, which
// changes them in place — the canonical example of Python's documentation (no seed has a Value/Array
// program).
import { Array, isMainProcess, Process, Value } from 'posix-mp';

export function f(n, a) {
  n.value = 3.1415927;
  for (let i = 0; i < a.length; i++) a.set(i, -a.get(i));
}

if (isMainProcess()) {
  const num = new Value('d', 0.0);
  const arr = new Array('i', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]); // range(10)

  const p = new Process({ target: f, args: [num, arr] });
  p.start();
  await p.join();

  console.log(num.value);
  console.log(`[${arr.toArray().join(', ')}]`); // print(arr[:])
}
