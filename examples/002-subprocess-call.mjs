// Seed 002 "python---基础知识回顾(十)进程和线程(进程)", section 二 使用subprocess模块管理进程 (subprocess):
// `retcode = subprocess.call(["ls", "-l"])` — start a program, let it print to the screen, wait for it and
// get its return code. (The seed's `os.system("dir")` is the same idea.)
import path from 'node:path';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

import { posix } from 'posix-mp';

/** Python's returncode: the exit status, or -N if signal N killed the program. */
function returncode(status) {
  return status.exitCode ?? -constants.signals[status.signal];
}

// `ls -l` of this file only, to keep the demo short.
const here = fileURLToPath(import.meta.url);
const pid = posix.spawn('ls', ['-l', path.basename(here)], { cwd: path.dirname(here) });
const retcode = returncode(await posix.waitpid(pid));
console.log(retcode); // 0 on success
