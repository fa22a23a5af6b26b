/**
 * Reading a shm object's pmp_header from outside: the CLI inspects objects without mapping them (a read of
 * the file's first bytes), so that looking never changes what it looks at, and without loading the addon,
 * so that it starts fast and works where the addon does not load.
 */
import { closeSync, openSync, readSync } from 'node:fs';

// Kind is a const enum: its values are inlined, so this import loads nothing at run time.
import { Kind } from '../shared/segment.js';

/** `sizeof(pmp_header)` (`PMP_PAYLOAD_OFFSET`) of native/include/posix_mp.h. */
const HEADER_SIZE = 32;
/** `PMP_MAGIC` ("PMP1" in a little-endian word). */
const MAGIC = 0x31504d50;
/** `PMP_STATE_READY`: the creator finished initialising. */
const STATE_READY = 1;

/** The name users give each `pmp_kind`. A kind added to the C header (Pool, Manager, ...) gets its entry here. */
const KIND_NAMES: Readonly<Record<Kind, string>> = {
  [Kind.Lock]: 'Lock',
  [Kind.RLock]: 'RLock',
  [Kind.Event]: 'Event',
  [Kind.Condition]: 'Condition',
  [Kind.Barrier]: 'Barrier',
  [Kind.Value]: 'Value',
  [Kind.Array]: 'Array',
  [Kind.Queue]: 'Queue',
};

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
  // pmp_header: magic, kind, state, version, creator_pid, payload_size, param[2]; native byte order.
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, HEADER_SIZE / 4);
  if (words[0] !== MAGIC) return undefined;
  const kind = words[1]!;
  return {
    kind: KIND_NAMES[kind as Kind] ?? `unknown kind ${kind}`,
    ready: words[2] === STATE_READY,
    version: words[3]!,
    creatorPid: words[4]!,
    payloadSize: words[5]!,
    params: [words[6]!, words[7]!],
  };
}
