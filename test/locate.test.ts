// Targets, functions and classes are found where they are defined (lib/comm/location.ts), as pickle finds
// them by module and name: imported targets, targets passed to a helper module, class instances and
// functions as arguments, a Barrier's action. What a child could not import is refused by start(), in the
// parent, saying what to export from which file. Each case is a fixture run as a real parent process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { finished } from './helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

function runScript(name: string) {
  return finished(spawn(process.execPath, [fixture(name)], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

describe('targets located where they are defined', () => {
  it('runs a target imported from another module (under another name, or an anonymous default), also when a helper module starts it', async () => {
    const { code, stdout, stderr } = await runScript('locate-imported.mjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        'anonymous default ran for d',
        'default exits 0',
        'direct exit 0',
        'helper exits 0,0',
        'work ran in Process-1 for direct',
        'work ran in Process-2 for a',
        'work ran in Process-3 for b',
      ].sort(),
    );
  });

  it('runs a target of a CommonJS module that exports it only after starting the process', async () => {
    const { code, stdout, stderr } = await runScript('locate-late.cjs');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe('late-exported worker ran for late\nexit 0\n');
  });

  it('refuses a local function that shadows an exported one of the same name, instead of running the export', async () => {
    const { code, stdout } = await runScript('locate-shadow.mjs');
    expect(code).toBe(0);
    expect(stdout).not.toContain('work ran');
    const [errorCode, message] = stdout.trim().split('\n');
    expect(errorCode).toBe('ERR_MP_TARGET_NOT_FOUND');
    expect(message).toContain(`The function 'work' is not exported by ${fixture('locate-shadow.mjs')}`);
    expect(message).toContain('not defined at the top level');
  });
});

describe('arguments keep their class', () => {
  it('an instance of an exported class arrives as an instance; a hidden class’s as a plain object, with a warning', async () => {
    const { code, stdout, stderr } = await runScript('locate-arguments.mjs');
    expect(code).toBe(0);
    const [report, exit] = stdout.trim().split('\n');
    expect(JSON.parse(report!)).toEqual({ point: 'Point 5', hidden: 'plain 7', sameInstance: true, fn: 'work' });
    expect(exit).toBe('exit 0');
    expect(stderr).toContain('[MP_SENT_AS_PLAIN_OBJECT] Warning: An instance of Hidden is sent to another process as a plain object');
    expect(stderr).toContain("The class 'Hidden' is not exported by");
  });
});

describe('Barrier action', () => {
  it('runs in the child when the child arrives last; a non-exported action is refused when passed', async () => {
    const { code, stdout } = await runScript('locate-barrier.mjs');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual(['action ran in Process-1', 'child exit 0', 'ERR_MP_NOT_CLONEABLE']);
    expect(lines[3]).toMatch(/^args\[0\] cannot be sent to another process: its Barrier\.action cannot travel: The function 'action' is not exported by /);
  });
});
