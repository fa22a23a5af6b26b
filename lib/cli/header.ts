/**
 * Reading a shm object's pmp_header from outside: the CLI inspects objects without mapping them (a read of
 * the file's first bytes), so that looking never changes what it looks at, and without loading the addon,
 * so that it starts fast and works where the addon does not load.
 */
import { closeSync, openSync, readSync } from 'node:fs';

// layout.ts loads nothing (the addon checks it against the header when it loads): the CLI never loads the addon.
import { KIND_NAMES, LAYOUT, type Kind } from '../internal/layout.js';

const HEADER_SIZE = LAYOUT.pmp_header.sizeof;
const { PMP_MAGIC: MAGIC, PMP_STATE_READY: STATE_READY } = LAYOUT.constants;

/** What a pmp_header says. */
export interface PmpHeader {
  /** The kind's name, or `unknown kind N` for a kind this version does not know. */
  kind: string;
  version: number;
  /** Whether the creator finished initialising (false: it is still at it, or died doing so). */
  ready: boolean;
  creatorPid: number;
  payloadSize: number;
  params: [number, number];
}

/**
 * The header of the shm object at `path`, or undefined if the file does not start with one (too short, another
 * program's bytes, or a creator that has not written it yet). Throws what `open` throws (EACCES, ENOENT).
 */
export function readHeader(path: string): PmpHeader | undefined {
  const bytes = Buffer.alloc(HEADER_SIZE);
  const fd = openSync(path, 'r');
  let length: number;
  try {
    length = readSync(fd, bytes, 0, HEADER_SIZE, 0);
  } finally {
    closeSync(fd);
  }
  if (length < HEADER_SIZE) return undefined;
  // Native byte order, as the creator wrote it.
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, HEADER_SIZE / 4);
  const word = (offset: number): number => words[offset / 4]!;
  const h = LAYOUT.pmp_header;
  if (word(h.magic) !== MAGIC) return undefined;
  const kind = word(h.kind);
  return {
    kind: KIND_NAMES[kind as Kind] ?? `unknown kind ${kind}`,
    ready: word(h.state) === STATE_READY,
    version: word(h.version),
    creatorPid: word(h.creator_pid),
    payloadSize: word(h.payload_size),
    params: [word(h.param), word(h.param + 4)],
  };
}
