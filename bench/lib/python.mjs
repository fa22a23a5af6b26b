// Runs bench/python/<case>.py, which prints one JSON object on stdout.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PYTHON = process.env.PYTHON ?? 'python3';
/** A Python benchmark that takes longer than this is killed (it would blow the ~2 minute budget anyway). */
const TIMEOUT_MS = 90_000;

const running = new Set();

/**
 * Kills the Python benchmarks still running (when run.mjs is interrupted), with the processes they forked:
 * each runs in its own process group.
 */
export function killPython() {
  for (const child of running) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** The path of a case's Python script, or undefined if the case has none. */
export function pythonScript(caseName) {
  const file = fileURLToPath(new URL(`../python/${caseName}.py`, import.meta.url));
  return existsSync(file) ? file : undefined;
}

/** Runs a Python benchmark script and returns its parsed JSON output. */
export function runPython(file) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // No __pycache__ in the source tree.
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      detached: true,
      timeout: TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running.delete(child);
      if (code !== 0) {
        reject(new Error(`${PYTHON} ${file} failed (${signal ?? `exit ${code}`}):\n${stderr.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`${PYTHON} ${file} printed no JSON:\n${stdout}${stderr}`));
      }
    });
  });
}

/** `python3 --version`-like string of the interpreter used. */
export async function pythonVersion() {
  const file = fileURLToPath(new URL('../python/benchutil.py', import.meta.url));
  return (await runPython(file)).python;
}
