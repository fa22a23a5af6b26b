/**
 * The fork server's own addon (native/forkserver/, built as build/Release/posix_mp_forkserver.so, shipped in
 * the package as a prebuild for one Node ABI), and the self-check that decides whether this Node can run a
 * fork server.
 *
 * Unlike the main addon it uses Node internals (the platform's worker threads, the environment's exit
 * handler), so it is built for one Node ABI and checks at load that the internals are where it expects them.
 * When it is missing, was built for another Node, or the check fails, the 'forkserver' start method is
 * unavailable and processes start with 'spawn': never a crash because the Node version differs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { packageRoot } from '../internal/native.js';

/** What native/forkserver/zygote.cc exports. */
export interface ForkServerAddon {
  /** The NODE_MODULE_VERSION (Node ABI) it was built for. */
  moduleVersion: number;
  /** '' when this Node can run a fork server, else why not. */
  check(): string;
  /** Routes V8's worker tasks to the addon's own pool (the first step of a zygote). */
  hook(workerThreads: number): void;
  /**
   * Makes this hooked process a zygote serving forks on the control socket `controlFd`, each waiting at most
   * `quiesceMs` for V8's worker tasks to pause. Returns in the zygote; `onSpare(socket)` is called in each
   * spare child forked ahead of a request, with its socket to the zygote, on which its request comes.
   */
  serve(controlFd: number, quiesceMs: number, onSpare: (socket: number) => void): void;
  /** In a spare: makes its request's job channel, stdout and stderr descriptors 3, 1 and 2. */
  place(channel: number, stdout: number, stderr: number): void;
  setExitCode(code: number): void;
  getpid(): number;
  getppid(): number;
  waitReadable(fd: number, timeoutMs: number): boolean;
}

/** The addon, or why it cannot be used. */
type Loaded = { addon: ForkServerAddon; problem: '' } | { addon: undefined; problem: string };

const LOADED = Symbol.for('posix-mp.forkserver-addon');

/**
 * Where the addon may be, in order: a source build (build/Release, made by node-gyp for the Node that built
 * it), then the prebuild the package ships for one Node ABI (prebuilds/<platform>-<arch>/, named by that
 * ABI, see scripts/prebuild-forkserver.mjs), so that another Node finds no file and uses 'spawn'.
 */
function addonFiles(): string[] {
  return [
    path.join(packageRoot, 'build', 'Release', 'posix_mp_forkserver.so'),
    path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, `posix_mp_forkserver.abi${process.versions.modules}.so`),
  ];
}

function load(): Loaded {
  // POSIX_MP_FORKSERVER_ADDON names another build; an empty value turns the fork server off.
  const override = process.env.POSIX_MP_FORKSERVER_ADDON;
  if (override === '') return { addon: undefined, problem: 'turned off by POSIX_MP_FORKSERVER_ADDON' };
  const files = override ? [path.resolve(override)] : addonFiles().filter((file) => existsSync(file));
  if (files.length === 0) return { addon: undefined, problem: `no fork-server addon for Node ABI ${process.versions.modules} (${addonFiles().join(', ')})` };
  const problems: string[] = [];
  for (const file of files) {
    const module = { exports: {} as ForkServerAddon };
    try {
      process.dlopen(module, file);
    } catch (error) {
      problems.push(`cannot load ${file}: ${(error as Error).message}`);
      continue;
    }
    // Built for another Node: its use of Node's C++ classes would be undefined behaviour, not just a failure.
    if (String(module.exports.moduleVersion) !== process.versions.modules) {
      problems.push(`${file} was built for Node ABI ${module.exports.moduleVersion}, this is ${process.versions.modules}`);
      continue;
    }
    const problem = module.exports.check();
    return problem === '' ? { addon: module.exports, problem } : { addon: undefined, problem };
  }
  return { addon: undefined, problem: problems.join('; ') };
}

function loaded(): Loaded {
  const g = globalThis as { [LOADED]?: Loaded };
  return (g[LOADED] ??= load());
}

/** The fork server's addon if this Node passes the self-check, else undefined. */
export function forkServerAddon(): ForkServerAddon | undefined {
  return loaded().addon;
}

/** Why the fork server is unavailable on this Node ('' when it is available). */
export function forkServerProblem(): string {
  return loaded().problem;
}
