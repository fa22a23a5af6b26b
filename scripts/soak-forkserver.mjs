#!/usr/bin/env node
// Soak test of the 'forkserver' start method (not part of npm test): thousands of children forked by the fork
// server, each running one of the scenarios of test/fixtures/forkserver-works.mjs (timers, fs, crypto, GC,
// wasm, worker_threads, child_process, net, dns, zlib, ...), plus children killed by SIGTERM/SIGKILL right
// after their start. A child that has not ended after the timeout is a hang: it is killed and counted.
//
//   node scripts/soak-forkserver.mjs [--per 100] [--parallel 4] [--timeout 10000] [--only sync,timer] [--gdb]
//
// --gdb prints the threads' stacks of a hung child (gdb -p) before killing it.
// Prints one line per scenario (ok, other exit codes, hangs, median and max start → join ms) and exits 1 if
// any child failed or hung. Build first: npm run build:native && npx tsup.
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

import { getAllStartMethods, isMainProcess, Process } from 'posix-mp';

const works = new URL('../test/fixtures/forkserver-works.mjs', import.meta.url);
const { scenarios } = await import(works.href);

const { values } = parseArgs({
  options: {
    per: { type: 'string', default: '100' },
    parallel: { type: 'string', default: '4' },
    timeout: { type: 'string', default: '10000' },
    only: { type: 'string' },
    gdb: { type: 'boolean', default: false },
  },
});
const per = Number(values.per);
const parallel = Number(values.parallel);
const timeoutMs = Number(values.timeout);
/** Scenario name → the exit code it must end with. */
const expected = new Map([...scenarios.map((name) => [name, 0]), ['sigterm', -15], ['sigkill', -9]]);
const chosen = values.only ? values.only.split(',') : [...expected.keys()];

async function one(name) {
  const started = performance.now();
  const p = new Process({ target: { module: works, export: name.startsWith('sig') ? 'sleep' : name }, startMethod: 'forkserver' });
  p.start();
  if (name === 'sigterm') p.terminate();
  if (name === 'sigkill') p.kill();
  await p.join(timeoutMs);
  if (p.exitCode === null) {
    if (values.gdb) {
      const { stdout } = spawnSync('gdb', ['-batch', '-p', String(p.pid), '-ex', 'thread apply all bt 20'], { encoding: 'utf8', timeout: 60_000 });
      console.log(`hung ${name} child ${p.pid}:\n${stdout.split('\n').filter((l) => /^(#|Thread)/.test(l)).join('\n')}`);
    }
    p.kill();
    await p.join();
    return { code: 'hang', ms: performance.now() - started };
  }
  const code = p.exitCode;
  p.close();
  return { code, ms: performance.now() - started };
}

async function soak(name) {
  const codes = new Map();
  const ms = [];
  let next = 0;
  const lane = async () => {
    while (next < per) {
      next++;
      const { code, ms: took } = await one(name);
      codes.set(code, (codes.get(code) ?? 0) + 1);
      ms.push(took);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  ms.sort((a, b) => a - b);
  return { codes, median: ms[ms.length >> 1], max: ms[ms.length - 1] };
}

if (isMainProcess()) {
  if (!getAllStartMethods().includes('forkserver')) {
    console.error('the fork server is unavailable on this Node');
    process.exit(2);
  }
  let failed = 0;
  let total = 0;
  const began = Date.now();
  for (const name of chosen) {
    const { codes, median, max } = await soak(name);
    const good = codes.get(expected.get(name)) ?? 0;
    failed += per - good;
    total += per;
    const other = [...codes].filter(([code]) => code !== expected.get(name)).map(([code, n]) => `${code}×${n}`);
    console.log(
      `${name.padEnd(14)} ok ${String(good).padStart(5)}/${per}  ${other.length ? `other: ${other.join(' ')}  ` : ''}` +
        `median ${median.toFixed(1)} ms  max ${max.toFixed(1)} ms`,
    );
  }
  console.log(`${total - failed}/${total} children as expected in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  process.exitCode = failed === 0 ? 0 : 1;
}
