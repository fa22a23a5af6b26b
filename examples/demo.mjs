// `npm run demo` (`node examples/demo.mjs [FILTER...]`): runs every example of this directory in order, each
// as its own `node <file>`, under a one-line header naming the seed program (shared/seeds, Python
// multiprocessing tutorials) it ports; README.md has the full map. With FILTERs, only the examples whose
// file name contains one of them run.
//
// After each example it checks that the example cleaned up: no process it started is still running (every
// process started from an example carries a marker in its environment, which posix-mp passes on to Process
// children, posix.spawn'ed programs and daemons), and no shared object of an example is left in /dev/shm.
// It exits 1 if an example failed or left something behind.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const S000 = 'seed 000 "Python 进程及同步"';
const S001 = 'seed 001 "Python--进程"';
const S002 = 'seed 002 "python---基础知识回顾(十)进程和线程(进程)"';
const S003 = 'seed 003 "Process"';
const S004 = 'seed 004 "python 3.5 进程与线程"';

const EXAMPLES = [
  ['000-process.mjs', `${S000}, 进程模块 (例子): Process with args, pid/name/is_alive, cpu_count, active_children`],
  ['000-clock-process.mjs', `${S000}, 将进程定义为类: a Process subclass overriding run()`],
  ['000-lock-file.mjs', `${S000}, lock: two processes append to one file under a Lock`],
  ['000-semaphore.mjs', `${S000}, Semaphore: Semaphore(2) shared by 5 processes`],
  ['000-event-timeout.mjs', `${S000}, Event: wait with a timeout that expires`],
  ['001-create.cjs', `${S001}, 简单的创建进程: 5 processes (CommonJS)`],
  ['001-naming.mjs', `${S001}, 确定当前的进程: naming, current_process().name`],
  ['001-daemon.mjs', `${S001}, 守护进程: a daemon, join(timeout), is_alive()`],
  ['001-daemon-join.mjs', `${S001}, 守护进程 ("要加上join"): a daemon, joined`],
  ['001-terminate.mjs', `${S001}, 终止进程: terminate(), then join()`],
  ['001-exitcode.mjs', `${S001}, 进程的退出状态: exit codes`],
  ['001-subclass.cjs', `${S001}, 派生进程: a Process subclass (CommonJS)`],
  ['001-event.mjs', `${S001}, 进程间信号传递: Event with and without a timeout`],
  ['001-queue-object.mjs', `${S001}, 进程间传递消息: an instance of an exported class through a Queue, its method called in the worker`],
  ['001-joinable-queue.mjs', `${S001}, 进程间传递消息 (Consumer/Task): Task objects through a JoinableQueue, join(), results on a Queue`],
  ['002-subprocess-call.mjs', `${S002}, 二 subprocess: call(["ls", "-l"]) and its return code`],
  ['002-signal-returncode.mjs', `${S002}, 三 进程间的信号机制: os.kill(pid, SIGINT), return code -2`],
  ['002-process.mjs', `${S002}, 四 multiprocessing, 简单使用: 3 processes, join`],
  ['002-myprocess.mjs', `${S002}, 四 multiprocessing, MyProcess: pid, getpid, getppid`],
  ['002-semaphore.mjs', `${S002}, Semaphore信号量: Semaphore(2) shared by 10 processes`],
  ['002-event.mjs', `${S002}, Event 事件通信: 10 waiters, 5 with timeouts`],
  ['002-lock-none.mjs', `${S002}, Lock 未加锁: 10 processes, no lock`],
  ['002-lock.mjs', `${S002}, Lock 加锁: 10 processes take turns`],
  ['002-module-reimport.mjs', `${S002}, 不支持共享全局变量: print(66666) runs in every child`],
  ['002-global-lock.mjs', `${S002}, 使用全局变量保存锁,导致失败: a module-level Lock is not shared`],
  ['002-fork-daemon.mjs', `${S002}, 使用fork创建子进程(守护进程): posix.daemonize`],
  ['002-pipe-class.mjs', `${S002}, 进程间通讯 Pipe: a Process subclass sends through its end`],
  ['002-pipe-function.mjs', `${S002}, 进程间通讯 Pipe (类方法实现): a function sends through its end; Pipe(duplex=False)`],
  ['002-manager-list.mjs', `${S002}, Manager实现数据共享: manager.list() appended to by 3 processes`],
  ['002-pool-apply-async.mjs', `${S002}, Pool进程池 (apply_async, then apply): 10 tasks on Pool(processes=3), close, join`],
  ['002-pool-processes.mjs', `${S002}, Pool进程池 补充: Pool(processes=3) starts its 3 workers at once`],
  ['value-array.mjs', `${S002}, 四 note 3 (共享内存): a Value and an Array changed by a child`],
  ['002-queue.mjs', `${S002}, Queue实现数据传输: 3 processes put [n, pid], the main process gets them`],
  ['003-event-set-clear.mjs', `${S003}, Event: set()/clear() pause and resume a child's task`],
  ['003-queue.mjs', `${S003}, Queue: a writer puts without blocking, a reader gets without blocking`],
  ['004-run-proc.mjs', `${S004}, multiprocessing: one process, join`],
  ['004-lock-balance.mjs', `${S004}, Lock: balance changed under a Lock (threads -> processes)`],
  ['004-pool.mjs', `${S004}, pool: Pool(4) runs 5 tasks; task 4 waits for a free worker`],
  ['shared-counter.mjs', `not from a seed: posix-mp's SharedMemory + Semaphore by name, with plain Node workers`],
];

/** How long an example may run before it is considered hung. */
const EXAMPLE_TIMEOUT_MS = 120_000;
/** How long processes of a finished example get to disappear (daemons die with their parent, at once). */
const SETTLE_MS = 5_000;
/**
 * /dev/shm entries an example may create: the examples' named objects. (Anonymous objects never appear there;
 * `sem.mp-*` names are Python's, e.g. of a benchmark running beside the demo: not ours to remove.)
 */
const OWN_SHM = /^(?:sem\.)?posix-mp-example-/;
const MARKER = 'POSIX_MP_EXAMPLE_RUN';

const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const selected = EXAMPLES.filter(([file]) => filters.length === 0 || filters.some((f) => file.includes(f)));
if (selected.length === 0) {
  console.error(`no example matches ${filters.join(', ')}`);
  process.exit(1);
}

const run = randomBytes(4).toString('hex');
const problems = [];
const started = Date.now();

for (const [index, [file, seed]] of selected.entries()) {
  console.log(`\n=== ${file} | ${seed} ===`);
  const marker = `${run}-${index}`;
  const shmBefore = new Set(ownShm());
  const child = spawn(process.execPath, [path.join(here, file)], {
    stdio: 'inherit',
    env: { ...process.env, [MARKER]: marker },
  });
  const timer = setTimeout(() => {
    problems.push(`${file}: still running after ${EXAMPLE_TIMEOUT_MS / 1000} s, killed`);
    child.kill('SIGKILL');
  }, EXAMPLE_TIMEOUT_MS);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  if (code !== 0) problems.push(`${file}: exited with ${signal ?? `code ${code}`}`);

  const left = await processesLeft(marker);
  for (const { pid, command } of left) {
    problems.push(`${file}: left process ${pid} running (${command}); killed it`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (const name of ownShm().filter((n) => !shmBefore.has(n))) {
    problems.push(`${file}: left /dev/shm/${name}; removed it`);
    rmSync(path.join('/dev/shm', name), { force: true });
  }
}

console.log(`\n=== ${selected.length} examples in ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
if (problems.length === 0) {
  console.log('every example exited with 0, left no process running and nothing in /dev/shm');
} else {
  for (const problem of problems) console.log(`PROBLEM: ${problem}`);
  process.exitCode = 1;
}

function ownShm() {
  return readdirSync('/dev/shm').filter((name) => OWN_SHM.test(name));
}

/** The processes that carry `marker`, once they have had SETTLE_MS to go away. */
async function processesLeft(marker) {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const found = markedProcesses(marker);
    if (found.length === 0 || Date.now() >= deadline) return found;
    await sleep(50);
  }
}

function markedProcesses(marker) {
  const needle = `\0${MARKER}=${marker}\0`;
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      // A zombie (exited, not yet reaped by init) has an empty environment: it is not running.
      const environ = `\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`;
      if (!environ.includes(needle)) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0').join(' ').trim();
      found.push({ pid: Number(entry), command });
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}
