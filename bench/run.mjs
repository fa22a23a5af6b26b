#!/usr/bin/env node
// `npm run bench`: every benchmark, posix-mp and Python's multiprocessing measured in the same run, printed as
// one table. `--json` prints machine-readable results instead; `--only a,b` runs only those cases.
//
// A benchmark is one module bench/cases/<name>.mjs exporting
//   title: string, order?: number (sort key, default 100),
//   run({ python }) => { rows, notes? }
// plus, optionally, bench/python/<name>.py printing one JSON object, which run.mjs runs first and hands to
// run() as `python`. A row is { metric, unit, node, python?, better? ('lower' default | 'higher'),
// target?, met?, note? }, where node/python are { median, min, max, runs } as lib/measure.mjs returns them.
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { killPython, pythonScript, pythonVersion, runPython } from './lib/python.mjs';
import { disposeAll, leftovers } from './lib/scope.mjs';

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const onlyIndex = argv.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((argv[onlyIndex + 1] ?? '').split(',')) : undefined;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killPython();
    disposeAll();
    process.exit(130);
  });
}

const casesDir = fileURLToPath(new URL('./cases/', import.meta.url));
const cases = [];
for (const file of readdirSync(casesDir).filter((f) => f.endsWith('.mjs'))) {
  const name = file.slice(0, -'.mjs'.length);
  if (only && !only.has(name)) continue;
  cases.push({ name, module: await import(pathToFileURL(casesDir + file).href) });
}
cases.sort((a, b) => (a.module.order ?? 100) - (b.module.order ?? 100) || a.name.localeCompare(b.name));

const started = Date.now();
const results = [];
let failed = false;
for (const { name, module } of cases) {
  if (!json && process.stderr.isTTY) process.stderr.write(`running ${name}…\n`);
  try {
    const script = pythonScript(name);
    const python = script ? await runPython(script) : undefined;
    const { rows, notes = [] } = await module.run({ python });
    results.push({ name, title: module.title, rows: rows.map(complete), notes });
  } catch (error) {
    failed = true;
    disposeAll();
    results.push({ name, title: module.title, error: error?.stack ?? String(error), rows: [], notes: [] });
  }
}

const leaked = leftovers();
const report = {
  machine: {
    node: process.version,
    python: await pythonVersion().catch(() => 'unavailable'),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadavg: os.loadavg(),
  },
  seconds: (Date.now() - started) / 1000,
  cases: results,
  leaked,
};
if (leaked.length > 0) failed = true;

if (json) console.log(JSON.stringify(report, null, 2));
else printReport(report);
process.exitCode = failed ? 1 : 0;

/** Adds the ratio: how many times better posix-mp is than Python (> 1 = posix-mp better). */
function complete(row) {
  const better = row.better ?? 'lower';
  let ratio;
  if (row.node && row.python) {
    ratio = better === 'lower' ? row.python.median / row.node.median : row.node.median / row.python.median;
  }
  return { ...row, better, ratio };
}

function printReport({ machine, seconds, cases: done, leaked: left }) {
  const header = ['metric', 'posix-mp', 'Python multiprocessing', 'ratio', 'target', 'met?'];
  const lines = [];
  for (const c of done) {
    lines.push({ section: c.title });
    if (c.error) lines.push({ cells: [`FAILED: ${c.error.split('\n')[0]}`, '', '', '', '', 'ERROR'] });
    for (const row of c.rows) {
      lines.push({
        cells: [
          row.metric,
          row.node ? `${fmt(row.node.median)} ${row.unit}` : '—',
          row.python ? `${fmt(row.python.median)} ${row.unit}` : '—',
          row.ratio === undefined ? '—' : `${fmt(row.ratio)}×`,
          row.target ?? '—',
          row.met === undefined ? '' : row.met ? 'yes' : 'NO',
        ],
      });
    }
  }
  const rows = lines.filter((l) => l.cells);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => l.cells[i].length)));
  const numeric = new Set([1, 2, 3]);
  const render = (cells) =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' │ ').trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');

  console.log(
    `posix-mp benchmarks — Node ${machine.node}, Python ${machine.python}, ${machine.cpus} CPUs ` +
      `(${machine.cpuModel}), load ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
  );
  console.log('');
  console.log(render(header));
  for (const line of lines) {
    if (line.section) console.log(`${rule}\n${line.section}`);
    else console.log(render(line.cells));
  }
  console.log('');
  console.log('Figures are medians of several timed runs after warm-up. ratio = how many times faster posix-mp is');
  console.log('than Python (Python time ÷ posix-mp time; > 1 means posix-mp is faster).');
  let n = 0;
  for (const c of done) {
    for (const note of c.notes) console.log(`${++n}. [${c.title}] ${note}`);
    if (c.error) console.log(`\n${c.title} failed:\n${c.error}`);
  }
  if (left.length > 0) console.log(`\nLEAK: left in /dev/shm: ${left.join(', ')}`);
  console.log(`\nTotal time ${seconds.toFixed(1)} s.`);
}

/** Three significant digits, no exponent. */
function fmt(x) {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
