/**
 * The job: everything a child needs to become a Process, built by `start()` and read by the bootstrap
 * (child.ts). It is one `v8.serialize`d frame on the job channel (framing.ts), its values reduced
 * (reduction.ts) with the descriptors they pass attached.
 */
import { deserialize, serialize } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

import type { Locator } from '../comm/location.js';
import { mpError } from '../internal/errors.js';
import { binding } from '../internal/native.js';
import { readFrame, writeFrame } from '../comm/framing.js';
import { Outgoing, serializeEncoded, type PassedFile, type Reduced } from '../comm/reduction.js';

/** Everything a child needs to become a Process. */
export interface Job {
  /** The function to call (or the target a subclass's inherited run() calls). */
  target: Locator | undefined;
  /** A Process subclass to instantiate (without running its constructor) and `run()`, with its fields. */
  processClass: { locator: Locator; fields: unknown } | undefined;
  /** The encoded argument list. */
  args: unknown;
  /** What decoding `args` and `processClass.fields` needs. */
  reduced: Reduced;
  name: string;
  daemon: boolean;
  /** Python's `_identity`: the child names its own children `Process-<identity>:<n>`. */
  identity: number[];
  parentPid: number;
  /** The environment at `start()`, as {@link environmentBlock} writes it. */
  env: string;
  cwd: string;
  argv: string[];
}

/** What `start()` knows about the Process it starts. */
export interface JobSource {
  target: Locator | undefined;
  processClass: { locator: Locator; fields: Record<string, unknown> } | undefined;
  args: readonly unknown[];
  name: string;
  daemon: boolean;
  identity: number[];
}

/**
 * Builds and serializes a job. A part that cannot travel is named by its path (`args[1].sock`,
 * `fields.cache`) in an ERR_MP_NOT_CLONEABLE error.
 */
export function encodeJob(source: JobSource): { body: Buffer; files: PassedFile[] } {
  const out = new Outgoing();
  const args = out.encode(source.args, 'args');
  const fields = source.processClass ? out.encode(source.processClass.fields, 'this') : undefined;
  const job: Job = {
    target: source.target,
    processClass: source.processClass ? { locator: source.processClass.locator, fields } : undefined,
    args,
    reduced: out.reduced(),
    name: source.name,
    daemon: source.daemon,
    identity: source.identity,
    parentPid: process.pid,
    env: environmentBlock(),
    cwd: process.cwd(),
    argv: process.argv,
  };
  try {
    return { body: serialize(job), files: out.files };
  } catch (error) {
    // Only the values can hold what structured clone refuses: these throw, naming the part by its path.
    serializeEncoded(args, source.args, 'args');
    if (source.processClass) serializeEncoded(fields, source.processClass.fields, 'this');
    throw error;
  }
}

/**
 * This process's environment as one string: `KEY=value` entries, each ended by a NUL (which no variable can
 * hold). A child compares it with its own in one step: the same, as a rule, when nothing changed.
 */
export function environmentBlock(): string {
  // The process's own environment, read natively; a worker_thread's process.env is a copy of its own.
  if (isMainThread) return binding.environmentBlock();
  let block = '';
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) block += `${key}=${value}\0`;
  return block;
}

/** The variables of an {@link environmentBlock}. */
export function parseEnvironmentBlock(block: string): Map<string, string> {
  const variables = new Map<string, string>();
  for (const entry of block.split('\0')) {
    const equals = entry.indexOf('=');
    if (equals > 0) variables.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return variables;
}

/** Sends a serialized job and the descriptors of `files`; never blocks for the job's size. */
export function sendJob(channel: number, body: Buffer, files: readonly PassedFile[]): void {
  writeFrame(channel, body, files.map((f) => f.fd));
}

/** Receives a job: blocks until it arrives. `null` when the channel was closed without one (EOF). */
export function receiveJob(channel: number): { job: Job; fds: number[] } | null {
  const frame = readFrame(channel);
  if (frame === null) return null;
  const job = deserialize(frame.bytes) as Job;
  if (frame.fds.length !== job.reduced.fileIds.length) {
    for (const fd of frame.fds) binding.closeFd(fd);
    throw mpError('ERR_MP_PROTOCOL', 'a job arrived with the wrong number of descriptors');
  }
  return { job, fds: frame.fds };
}
