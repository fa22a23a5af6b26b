// Seed 001 "Python--进程", section 派生进程 (subclassing Process) — as a CommonJS module: a Process subclass
// whose run() prints its name.
const { isMainProcess, Process } = require('posix-mp');

class Worker extends Process {
  run() {
    console.log(`In ${this.name}`);
  }
}

// Exported, so that the child can find the class.
module.exports = { Worker };

if (isMainProcess()) {
  (async () => {
    const jobs = [];
    for (let i = 0; i < 5; i++) {
      const p = new Worker();
      jobs.push(p);
      p.start();
    }
    for (const j of jobs) await j.join();
  })();
}
