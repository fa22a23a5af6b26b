// The published package: `npm pack` (its prepack script runs prebuildify) makes a tarball that installs on
// linux-x64 with no compiler on PATH, loads the prebuilt addon, and runs an example and the posix-mp command;
// it also carries the fork server's addon, built for this Node's ABI, so that processes start with the
// 'forkserver' method (and with 'spawn' on a Node of another ABI); where no prebuild matches, the install
// script builds the addon from the sources in the tarball.
// The package is packed from a copy of the sources, so that prebuildify's build does not touch build/ here.
// Two native builds (prebuildify's and the source build) take 1-2 minutes on two cores: too slow for every
// `npm test`, so these tests run only with `npm run test:package` (PMP_TEST_PACKAGE=1).
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);
/** What the package is made of (package.json's "files", plus what packing needs). */
const SOURCES = ['lib', 'native', 'binding.gyp', 'CMakeLists.txt', 'package.json', 'tsconfig.json', 'tsup.config.ts', 'README.md', 'LICENSE', 'scripts/prebuild-forkserver.mjs'];
/** The fork server's prebuild for this Node. */
const FORKSERVER = `prebuilds/linux-x64/posix_mp_forkserver.abi${process.versions.modules}.so`;
/** Prints the start methods and whether a Process's real parent (not process.ppid, the requester) is the fork server. */
const FORKSERVER_APP = `import { readFileSync } from 'node:fs';
import { getAllStartMethods, getStartMethod, isMainProcess, Process, Value } from 'posix-mp';

export function report(forked) {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const parent = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
  forked.value = readFileSync(\`/proc/\${parent}/cmdline\`, 'utf8').includes('--posix-mp-zygote') ? 1 : 0;
}

if (isMainProcess()) {
  const forked = new Value('i', 0);
  const p = new Process({ target: report, args: [forked] });
  p.start();
  await p.join();
  console.log(JSON.stringify({ all: getAllStartMethods(), method: getStartMethod(), exitCode: p.exitCode, forked: forked.value === 1 }));
}
`;
/** All a user without build tools has: Node, npm and a shell. */
const ESSENTIALS = ['node', 'npm', 'npx', 'sh', 'env'];
const COMPILERS = ['cc', 'gcc', 'c++', 'g++', 'make', 'clang'];

let work: string;
let tarball: string;
let app: string;
/** A PATH of symlinks to ESSENTIALS only. */
let bareBin: string;

function which(command: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(path.join(dir, command))) return path.join(dir, command);
  }
  throw new Error(`${command} is not on PATH`);
}

/** Runs a command in `cwd` with only `bin` on PATH (and HOME, for npm's cache). */
function run(file: string, args: string[], cwd: string, bin: string) {
  return exec(file, args, { cwd, env: { HOME: process.env.HOME, PATH: bin }, maxBuffer: 16 << 20 });
}

describe.skipIf(!process.env.PMP_TEST_PACKAGE)('the packed package', () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'pmp-package-'));
    const source = path.join(work, 'source');
    for (const entry of SOURCES) cpSync(path.join(root, entry), path.join(source, entry), { recursive: true });
    symlinkSync(path.join(root, 'node_modules'), path.join(source, 'node_modules'));
    const packed = path.join(work, 'packed');
    mkdirSync(packed);
    await exec('npm', ['pack', '--pack-destination', packed], { cwd: source, maxBuffer: 16 << 20 });
    tarball = path.join(packed, readdirSync(packed)[0]!);

    bareBin = path.join(work, 'bin');
    mkdirSync(bareBin);
    for (const command of ESSENTIALS) symlinkSync(which(command), path.join(bareBin, command));
    app = path.join(work, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    for (const example of ['shared-counter.mjs', 'shared-counter-worker.mjs']) {
      cpSync(path.join(root, 'examples', example), path.join(app, example));
    }
    writeFileSync(path.join(app, 'forkserver.mjs'), FORKSERVER_APP);
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('contains the prebuilt addon, the built JavaScript and the sources for a source build', async () => {
    const { stdout } = await exec('tar', ['-tzf', tarball]);
    const files = stdout.split('\n');
    expect(files).toContain('package/prebuilds/linux-x64/posix-mp.node');
    expect(files).toContain(`package/${FORKSERVER}`);
    expect(files).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/cli.js', 'package/binding.gyp', 'package/native/include/posix_mp.h']));
  });

  it('installs without a compiler, loads the prebuild and runs an example and the CLI', async () => {
    for (const compiler of COMPILERS) expect(existsSync(path.join(bareBin, compiler))).toBe(false);
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app, bareBin);
    const installed = path.join(app, 'node_modules/posix-mp');
    // The install script (node-gyp-build) found the prebuild, so nothing was built.
    expect(existsSync(path.join(installed, 'build'))).toBe(false);
    const loaded = await run('node', ['-p', `require('node-gyp-build').path(${JSON.stringify(installed)})`], app, bareBin);
    expect(loaded.stdout.trim()).toBe(path.join(installed, 'prebuilds/linux-x64/posix-mp.node'));

    const example = await run('node', ['shared-counter.mjs'], app, bareBin);
    expect(example.stdout).toContain('20000');
    const cli = await run('npx', ['--no-install', 'posix-mp', 'ls', 'posix-mp-package-test-none'], app, bareBin);
    expect(cli.stdout.trim()).toBe('NAME  KIND  SIZE  MODE  CREATOR  USERS  NOTE');
  });

  it("starts processes with the 'forkserver' method from the prebuilt fork-server addon, with no compiler", async () => {
    const installed = path.join(app, 'node_modules/posix-mp');
    expect(existsSync(path.join(installed, FORKSERVER))).toBe(true);
    const { stdout, stderr } = await run('node', ['forkserver.mjs'], app, bareBin);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual({ all: ['forkserver', 'spawn'], method: 'forkserver', exitCode: 0, forked: true });
  });

  it("starts processes with 'spawn' on a Node of another ABI (no fork-server prebuild for it)", async () => {
    const installed = path.join(app, 'node_modules/posix-mp');
    // As a Node of another ABI sees the package: the only fork-server prebuild is for an ABI not its own.
    const other = path.join(installed, 'prebuilds/linux-x64/posix_mp_forkserver.abi1.so');
    renameSync(path.join(installed, FORKSERVER), other);
    try {
      const { stdout, stderr } = await run('node', ['forkserver.mjs'], app, bareBin);
      expect(stderr).toBe('');
      expect(JSON.parse(stdout)).toEqual({ all: ['spawn'], method: 'spawn', exitCode: 0, forked: false });
    } finally {
      renameSync(other, path.join(installed, FORKSERVER));
    }
  });

  it('builds the addon from source where no prebuild matches', async () => {
    const installed = path.join(app, 'node_modules/posix-mp');
    rmSync(path.join(installed, 'prebuilds'), { recursive: true });
    // With compilers on PATH again: the install script runs node-gyp, as it would on another platform.
    await exec('npm', ['rebuild', 'posix-mp'], { cwd: app, maxBuffer: 16 << 20 });
    expect(existsSync(path.join(installed, 'build/Release/posix_mp.node'))).toBe(true);
    const example = await run('node', ['shared-counter.mjs'], app, bareBin);
    expect(example.stdout).toContain('20000');
    // The source build made the fork server's addon too.
    const started = await run('node', ['forkserver.mjs'], app, bareBin);
    expect(JSON.parse(started.stdout)).toMatchObject({ method: 'forkserver', forked: true });
  }, 600_000);
});
