// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 使用fork创建子进程(守护进程) (a daemon made with
// fork): posix.daemonize does the seed's recipe — fork, setsid, fork again, chdir('/'), umask(0), stdin
// from /dev/null, stdout to a file — with fork+exec, since Node cannot go on running JavaScript in a forked
// copy of itself. The daemon is this same file, started with `--daemon`.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { posix } from 'posix-mp';

// One of the seed's seconds (shortened for the demo).
const SECOND = 50;

if (process.argv[2] === '--daemon') {
  // The daemon: its stdout is the file given to daemonize (the seed's /home/test3.txt).
  const workFile = process.argv[3]; // the seed's /home/test2.txt
  console.log(process.pid); // its pid, for `kill -9 pid`
  for (let i = 0; i < 10; i++) console.log(i);
  // while True: time.sleep(10); append "hello " to the file
  for (;;) {
    await sleep(10 * SECOND);
    appendFileSync(workFile, 'hello ');
  }
} else {
  // The seed writes to /home (as root); the demo uses a temporary directory.
  const dir = mkdtempSync(path.join(tmpdir(), 'posix-mp-example-daemon-'));
  const outFile = path.join(dir, 'test3.txt');
  const workFile = path.join(dir, 'test2.txt');
  const pid = posix.daemonize(process.execPath, [fileURLToPath(import.meta.url), '--daemon', workFile], { stdout: outFile });
  console.log('daemon started, pid', pid);

  // Not in the seed, whose parent just exits: watch the daemon do its work once, then stop it (`kill -9`)
  // and remove its files.
  try {
    const deadline = Date.now() + 30_000;
    while (!(existsSync(workFile) && readFileSync(workFile, 'utf8')) && Date.now() < deadline) await sleep(50);
    console.log('its stdout, one line each:', readFileSync(outFile, 'utf8').trim().split('\n').join(' '));
    console.log('its work file:', JSON.stringify(readFileSync(workFile, 'utf8')));
  } finally {
    posix.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true });
  }
  console.log('daemon killed');
}
