// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", 进程间通讯 — Pipe管道实现数据共享, the class form: a
// Process subclass keeps one end of a Pipe in a field; its run() sends a list through it. The parent
// receives it, joins, and prints "end".
import { isMainProcess, Pipe, Process } from 'posix-mp';

export class MyProcess extends Process {
  constructor(pipeChild) {
    super();
    this.pipeChild = pipeChild; // travels to the child with the object's other fields
  }

  run() {
    this.pipeChild.send(['fawfw', 57]);
    this.pipeChild.close();
  }
}

if (isMainProcess()) {
  const [parentConn, childConn] = Pipe();
  const p = new MyProcess(childConn);
  p.start();
  childConn.close(); // the child has its own copy; ours would keep the pipe open

  console.log(await parentConn.recv());
  await p.join();
  parentConn.close();

  console.log('end');
}
