/**
 * Passing shared objects to child processes. A Process's arguments travel by structured clone
 * (`v8.serialize`), except the shared objects among them — at any depth of plain objects, arrays, Maps and
 * Sets — which arrive in the child as working handles to the same object:
 *
 * - a named object travels by name and the child opens it;
 * - an anonymous one lives in memfd memory (arena.ts) that has no name anywhere, so the file's descriptor
 *   travels with the job (SCM_RIGHTS, native/comm/fd_passing.cc) and the child maps it. A block passed this way is
 *   never reused by either side's arena (`markPassed`): the other process may use it as long as it lives.
 *
 * A class takes part by registering itself once, in a `static {}` block (which may read its #private
 * fields):
 *
 * ```ts
 * static {
 *   registerTransfer<Lock>({
 *     kind: 'Lock',
 *     type: Lock,
 *     describe: (lock) => ({ name: lock.name, memory: lock.#segment.block }),   // memory only if anonymous
 *     revive: (d) => (d.memory ? new Lock({ [RECEIVED]: d }) : Lock.open(d.name)),
 *   });
 * }
 * ```
 * `describe` throws if the handle is closed; `revive` runs in the child with `memory` mapped there.
 * @internal
 */
import { readFileSync, writeSync } from 'node:fs';
import { deserialize } from 'node:v8';

import { markPassed, type Block, type MemoryFile } from '../shared/arena.js';
import { mpError } from '../internal/errors.js';
import { binding } from '../internal/native.js';

/** What a shared object's class says about one instance so that another process can open it. */
export interface SharedDescription {
  /** The object's name (the generated one for anonymous objects). */
  name: string;
  /** Anonymous objects: where they live. The file's descriptor is passed; the block is never reused. */
  memory?: Block | undefined;
  /**
   * A descriptor that travels as it is (a Connection's socket): the receiver gets its own copy, owned by the
   * revived object.
   */
  descriptor?: number | undefined;
  /**
   * Anything else the class needs to rebuild the handle (structured-cloneable), e.g. a bound. Shared objects
   * in it (a Condition's lock) travel too, and are revived before this object.
   */
  params?: unknown;
}

/** How one class of shared objects crosses into a child. */
export interface TransferType<T extends object> {
  /** Unique among classes: identifies the class in the child. */
  kind: string;
  /** The class; subclasses that register nothing themselves travel as it. */
  type: abstract new (...args: never[]) => T;
  /** Called in the sending process. Throws (ERR_MP_CLOSED) for a closed handle. */
  describe(object: T): SharedDescription;
  /** Called in the receiving process, with `memory` mapped in it. */
  revive(description: SharedDescription): T;
}

/**
 * Option key with which `revive` asks a class's constructor to adopt a received object instead of creating
 * one: `new X(..., { [RECEIVED]: description })`. Not exported from the package.
 */
export const RECEIVED: unique symbol = Symbol('posix-mp.received');

/** The options a constructor that supports {@link RECEIVED} accepts. */
export interface ReceivedOptions {
  [RECEIVED]?: SharedDescription;
}

/** The description received by a constructor, if it was called by `revive`. */
export function receivedDescription(options: unknown): SharedDescription | undefined {
  return typeof options === 'object' && options !== null ? (options as ReceivedOptions)[RECEIVED] : undefined;
}

const byPrototype = new Map<object, TransferType<object>>();
const byKind = new Map<string, TransferType<object>>();

/** Registers a class of shared objects (see the module comment). */
export function registerTransfer<T extends object>(type: TransferType<T>): void {
  const entry = type as unknown as TransferType<object>;
  byPrototype.set(type.type.prototype as object, entry);
  byKind.set(type.kind, entry);
}

function transferTypeOf(value: object): TransferType<object> | undefined {
  for (let proto = Object.getPrototypeOf(value); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const entry = byPrototype.get(proto);
    if (entry) return entry;
  }
  return undefined;
}

/**
 * The key of the placeholder that stands for a shared object in the cloned data: `{ [MARK]: index }`. A NUL
 * in a property name keeps it apart from any key real data uses.
 */
const MARK = '\u0000posix-mp.shared';

/** A description as it travels: its memory file replaced by an index into the job's descriptor list. */
export interface WireDescription {
  kind: string;
  name: string;
  memory?: { file: number; offset: number; size: number };
  /** Index of a passed descriptor in the job's descriptor list. */
  descriptor?: number;
  params?: unknown;
}

/** A descriptor that goes with a job or message: a memory file's, or a Connection's socket. */
export interface PassedFile {
  /** Unique across processes (a file that arrives twice is mapped once). */
  readonly id: string;
  readonly fd: number;
}

/** Numbers the descriptors this process passes, for their ids. */
let passedDescriptors = 0;

/**
 * The shared objects of one outgoing job. `encode` returns a structured-cloneable copy of a value with every
 * shared object replaced by a placeholder; `descriptions` and `files` (whose descriptors go with the job)
 * are what the child needs to revive them.
 */
export class Outgoing {
  readonly descriptions: WireDescription[] = [];
  readonly files: PassedFile[] = [];
  readonly #indexes = new Map<object, number>();
  readonly #fileIndexes = new Map<string, number>();
  readonly #copies = new Map<object, unknown>();

  /** Copies `value` for `v8.serialize`, replacing shared objects (identity is kept: one object, one index). */
  encode(value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const done = this.#copies.get(value);
    if (done !== undefined) return done;
    const type = transferTypeOf(value);
    if (type) {
      const placeholder = { [MARK]: this.#add(value, type) };
      this.#copies.set(value, placeholder);
      return placeholder;
    }
    if (Array.isArray(value)) {
      const copy: unknown[] = new Array(value.length);
      this.#copies.set(value, copy);
      for (const key of Object.keys(value)) (copy as unknown as Record<string, unknown>)[key] = this.encode((value as unknown as Record<string, unknown>)[key]);
      return copy;
    }
    if (value instanceof Map) {
      const copy = new Map();
      this.#copies.set(value, copy);
      for (const [k, v] of value) copy.set(this.encode(k), this.encode(v));
      return copy;
    }
    if (value instanceof Set) {
      const copy = new Set();
      this.#copies.set(value, copy);
      for (const v of value) copy.add(this.encode(v));
      return copy;
    }
    // Ordinary objects, class instances included: structured clone keeps their own enumerable properties and
    // drops the prototype, and so does this copy. Dates, typed arrays, errors and the like go as they are.
    if (Object.prototype.toString.call(value) !== '[object Object]') return value;
    const copy: Record<string, unknown> = {};
    this.#copies.set(value, copy);
    for (const key of Object.keys(value)) copy[key] = this.encode((value as Record<string, unknown>)[key]);
    return copy;
  }

  #add(object: object, type: TransferType<object>): number {
    const known = this.#indexes.get(object);
    if (known !== undefined) return known;
    const { name, memory, descriptor, params } = type.describe(object);
    // Encoding the params adds the shared objects among them first: the child revives them before this one.
    const wire: WireDescription = { kind: type.kind, name, params: this.encode(params) };
    if (memory) {
      markPassed(memory);
      let file = this.#fileIndexes.get(memory.file.id);
      if (file === undefined) {
        file = this.files.push(memory.file) - 1;
        this.#fileIndexes.set(memory.file.id, file);
      }
      wire.memory = { file, offset: memory.offset, size: memory.size };
    }
    if (descriptor !== undefined) {
      wire.descriptor = this.files.push({ id: `fd.${process.pid}.${passedDescriptors++}`, fd: descriptor }) - 1;
    }
    const index = this.descriptions.push(wire) - 1;
    this.#indexes.set(object, index);
    return index;
  }
}

/** A memory file another process passed to this one, mapped here. */
class ReceivedFile implements MemoryFile {
  readonly size: number;
  readonly buffer: ArrayBuffer;

  constructor(
    readonly id: string,
    readonly fd: number,
  ) {
    this.size = binding.fdSize(fd);
    this.buffer = binding.map(fd, this.size);
  }

  close(): void {
    receivedFiles.delete(this.id);
    binding.unmap(this.buffer);
    binding.closeFd(this.fd);
  }
}

/** Received files by id: a file that arrives twice is mapped once. */
const receivedFiles = new Map<string, ReceivedFile>();

/**
 * Revives the shared objects a parent described. `fileIds[i]` is the id of the file whose descriptor is
 * `fds[i]`; this takes ownership of the descriptors.
 */
export function reviveShared(descriptions: WireDescription[], fileIds: string[], fds: number[]): object[] {
  const passedAsIs = new Set(descriptions.map((wire) => wire.descriptor));
  const files = fileIds.map((id, i) => {
    if (passedAsIs.has(i)) return undefined;
    const known = receivedFiles.get(id);
    if (known) {
      binding.closeFd(fds[i]!);
      return known;
    }
    const file = new ReceivedFile(id, fds[i]!);
    receivedFiles.set(id, file);
    return file;
  });
  const objects: object[] = [];
  for (const wire of descriptions) {
    const type = byKind.get(wire.kind);
    if (!type) throw mpError('ERR_MP_TRANSFER', `a ${wire.kind} was passed, but this process's posix-mp cannot open one`);
    let memory: Block | undefined;
    if (wire.memory) {
      memory = { file: files[wire.memory.file]!, offset: wire.memory.offset, size: wire.memory.size };
      markPassed(memory);
    }
    // Shared objects in the params precede this one in the list (Outgoing.#add), so they exist already.
    const descriptor = wire.descriptor === undefined ? undefined : fds[wire.descriptor];
    objects.push(type.revive({ name: wire.name, memory, descriptor, params: decode(wire.params, objects) }));
  }
  return objects;
}

/**
 * Replaces the placeholders in deserialized data with the revived objects, in place (the data is fresh
 * from `v8.deserialize`), and returns the result.
 */
export function decode(value: unknown, objects: readonly object[]): unknown {
  if (objects.length === 0) return value;
  const seen = new Set<object>();
  const visit = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (isPlaceholder(v)) return objects[(v as Record<string, number>)[MARK]!];
    if (seen.has(v)) return v;
    seen.add(v);
    if (v instanceof Map) {
      const entries = [...v].map(([k, x]) => [visit(k), visit(x)] as const);
      v.clear();
      for (const [k, x] of entries) v.set(k, x);
    } else if (v instanceof Set) {
      const items = [...v].map(visit);
      v.clear();
      for (const x of items) v.add(x);
    } else if (Array.isArray(v) || Object.prototype.toString.call(v) === '[object Object]') {
      const record = v as Record<string, unknown>;
      for (const key of Object.keys(record)) record[key] = visit(record[key]);
    }
    return v;
  };
  return visit(value);
}

function isPlaceholder(value: object): boolean {
  return Object.prototype.hasOwnProperty.call(value, MARK) && Object.keys(value).length === 1;
}

/** Where the child finds a function or class: an export of a module. */
export interface Locator {
  /** The module's file: URL. */
  module: string;
  /** The export's name, when the parent knows it. */
  export?: string;
  /** Otherwise the function's name and source text, matched against the module's exports in the child. */
  name?: string;
  source?: string;
}

/** Everything a child needs to become a Process. Travels as one `v8.serialize`d message. */
export interface Job {
  /** The function to call (or the target a subclass's inherited run() calls). */
  target: Locator | undefined;
  /** A Process subclass to instantiate (without running its constructor) and `run()`. */
  processClass: (Locator & { fields: unknown }) | undefined;
  /** The encoded argument list (see Outgoing). */
  args: unknown;
  shared: WireDescription[];
  /** Ids of the memory files whose descriptors follow the job, in order. */
  fileIds: string[];
  name: string;
  daemon: boolean;
  /** Python's `_identity`: the child names its own children `Process-<identity>:<n>`. */
  identity: number[];
  parentPid: number;
  env: Record<string, string>;
  cwd: string;
  argv: string[];
}

/** Largest message sent inline: SOCK_SEQPACKET messages must fit in the socket buffer (~208 KiB). */
const INLINE_LIMIT = 60 * 1024;
const TAG_INLINE = 1;
const TAG_IN_FILE = 2;
const TAG_FDS = 3;

/**
 * Sends a serialized job (and the descriptors of `files`) over a channel. Never blocks for long: a job too
 * large for one message goes in a memfd whose descriptor is sent instead, so a child still booting does not
 * hold the parent up.
 */
export function sendJob(channel: number, body: Buffer, files: readonly PassedFile[]): void {
  const fds = files.map((f) => f.fd);
  const max = binding.maxFdsPerMessage;
  if (body.length < INLINE_LIMIT) {
    const message = Buffer.allocUnsafe(body.length + 1);
    message[0] = TAG_INLINE;
    body.copy(message, 1);
    binding.sendMessage(channel, message, fds.splice(0, max));
  } else {
    const memfd = binding.memfdCreate('posix-mp-job');
    try {
      for (let done = 0; done < body.length; ) done += writeSync(memfd, body, done, body.length - done, done);
      binding.sendMessage(channel, Uint8Array.of(TAG_IN_FILE), [memfd, ...fds.splice(0, max - 1)]);
    } finally {
      binding.closeFd(memfd);
    }
  }
  while (fds.length > 0) binding.sendMessage(channel, Uint8Array.of(TAG_FDS), fds.splice(0, max));
}

/** Receives a job: blocks until it arrives. `null` when the channel was closed without one (EOF). */
export function receiveJob(channel: number): { job: Job; fds: number[] } | null {
  const first = binding.receiveMessage(channel, INLINE_LIMIT + 1);
  if (first === null) return null;
  const fds = first.fds;
  let body: Buffer;
  if (first.bytes[0] === TAG_INLINE) {
    body = first.bytes.subarray(1);
  } else if (first.bytes[0] === TAG_IN_FILE && fds.length > 0) {
    const memfd = fds.shift()!;
    try {
      body = readFileSync(memfd);
    } finally {
      binding.closeFd(memfd);
    }
  } else {
    for (const fd of fds) binding.closeFd(fd);
    throw mpError('ERR_MP_PROTOCOL', 'malformed job message');
  }
  const job = deserialize(body) as Job;
  while (fds.length < job.fileIds.length) {
    const more = binding.receiveMessage(channel, 1);
    if (more === null) throw mpError('ERR_MP_PROTOCOL', 'the job channel closed before all descriptors arrived');
    fds.push(...more.fds);
  }
  return { job, fds };
}
