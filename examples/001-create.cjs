// Seed 001 "Python--进程", section 简单的创建进程 (creating processes) — as a CommonJS module: five
// processes, each given its number.
const { isMainProcess, Process } = require('posix-mp');

/** thread worker function */
function worker(num) {
  console.log('Worker:', num);
}

// Exported, so that the child can find it (as Python's child finds it by name).
module.exports = { worker };

if (isMainProcess()) {
  const jobs = [];
  for (let i = 0; i < 5; i++) {
    const p = new Process({ target: worker, args: [i] });
    jobs.push(p);
    p.start();
  }
}
