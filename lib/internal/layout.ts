/**
 * The byte layout of native/include/posix_mp.h, as the TypeScript side uses it: its one copy here, checked at
 * load against `binding.layout` — the sizeof/offsetof of every struct and field and the header's constants,
 * computed by the compiler from the header itself (native/core/layout.cc) — so a header change not made here
 * fails at import with a clear error instead of corrupting shared memory (the check runs in native.ts, as the
 * addon loads: this module loads nothing, so the CLI reads headers with it without loading the addon).
 */

/** `enum pmp_kind` of the C header: what kind of object a header describes. */
export const enum Kind {
  Lock = 1,
  RLock = 2,
  Event = 3,
  Condition = 4,
  Barrier = 5,
  Value = 6,
  Array = 7,
  Queue = 8,
  List = 9,
  Dict = 10,
}

/** The name users know each kind by (for messages and the CLI). */
export const KIND_NAMES: Readonly<Record<Kind, string>> = {
  [Kind.Lock]: 'Lock',
  [Kind.RLock]: 'RLock',
  [Kind.Event]: 'Event',
  [Kind.Condition]: 'Condition',
  [Kind.Barrier]: 'Barrier',
  [Kind.Value]: 'Value',
  [Kind.Array]: 'Array',
  [Kind.Queue]: 'Queue',
  [Kind.List]: 'SharedList',
  [Kind.Dict]: 'SharedDict',
};

/** A struct's size (`sizeof`) and its fields' byte offsets. */
type StructLayout = { readonly sizeof: number } & { readonly [field: string]: number };

/** What `binding.layout` holds: every struct of the header by name, and its constants. */
export interface Layout {
  readonly [struct: string]: StructLayout | Readonly<Record<string, number>>;
  readonly constants: Readonly<Record<string, number>>;
}

/** posix_mp.h as this package's TypeScript reads and writes it. */
export const LAYOUT = {
  pmp_header: { sizeof: 32, magic: 0, kind: 4, state: 8, version: 12, creator_pid: 16, payload_size: 20, param: 24 },
  pmp_lock: { sizeof: 16, word: 0, owner_thread: 8, count: 12 },
  pmp_event: { sizeof: 8, flag: 0, reserved: 4 },
  pmp_condition: {
    sizeof: 304,
    lock: 0,
    state: 16,
    epoch: 24,
    lock_kind: 28,
    lock_holder: 32,
    lock_offset: 36,
    lock_anonymous: 40,
    lock_name_length: 44,
    lock_name: 48,
    lock_name_bytes: 256,
  },
  pmp_barrier: { sizeof: 40, lock: 0, cond_state: 16, cond_epoch: 24, state: 28, count: 32 },
  pmp_queue: {
    sizeof: 128,
    put_lock: 0,
    write: 16,
    putters_waiting: 24,
    passed: 28,
    get_lock: 64,
    read: 80,
    getters_waiting: 88,
    tasks_done: 92,
    joiners_waiting: 96,
  },
  constants: {
    PMP_MAGIC: 0x31504d50,
    PMP_VERSION: 1,
    PMP_STATE_READY: 1,
    PMP_PAYLOAD_OFFSET: 32,
    PMP_DATA_OFFSET: 16,
    PMP_LOCK_WAITERS: 0x80000000,
    PMP_LIVENESS_MS: 50,
    PMP_KIND_LOCK: Kind.Lock,
    PMP_KIND_RLOCK: Kind.RLock,
    PMP_KIND_EVENT: Kind.Event,
    PMP_KIND_CONDITION: Kind.Condition,
    PMP_KIND_BARRIER: Kind.Barrier,
    PMP_KIND_VALUE: Kind.Value,
    PMP_KIND_ARRAY: Kind.Array,
    PMP_KIND_QUEUE: Kind.Queue,
    PMP_KIND_LIST: Kind.List,
    PMP_KIND_DICT: Kind.Dict,
    PMP_QUEUE_RING_OFFSET: 128,
    PMP_QUEUE_FRAME_HEADER: 8,
    PMP_QUEUE_STREAM: 1,
    PMP_QUEUE_FIRST: 1,
    PMP_QUEUE_LAST: 2,
    PMP_QUEUE_ABORT: 4,
    PMP_QUEUE_TAG_VALUE: 1,
    PMP_QUEUE_TAG_BYTES: 2,
    PMP_QUEUE_TAG_REDUCED: 3,
    PMP_QUEUE_TAG_NUMBER: 4,
    PMP_QUEUE_TAG_STRING: 5,
    PMP_QUEUE_TAG_PASSED: 6,
    PMP_QUEUE_TAG_PLAIN: 7,
    PMP_QUEUE_SLICE_MS: 1000,
    PMP_QUEUE_LIVENESS_MS: 50,
  },
} as const satisfies Layout;

/** Every difference between `expected` and `actual`, one line each (`pmp_lock.count: ...`); empty if none. */
export function layoutMismatches(expected: Layout, actual: Layout): string[] {
  const mismatches: string[] = [];
  for (const group of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const ours: Readonly<Record<string, number>> = expected[group] ?? {};
    const theirs: Readonly<Record<string, number>> = actual[group] ?? {};
    for (const key of new Set([...Object.keys(ours), ...Object.keys(theirs)])) {
      if (ours[key] !== theirs[key]) {
        mismatches.push(`${group}.${key}: TypeScript ${ours[key] ?? 'has none'}, native ${theirs[key] ?? 'has none'}`);
      }
    }
  }
  return mismatches;
}

/** Throws, listing every difference, unless `actual` (the addon's layout) is exactly {@link LAYOUT}. */
export function checkLayout(actual: Layout): void {
  const mismatches = layoutMismatches(LAYOUT, actual);
  if (mismatches.length > 0) {
    throw new Error(
      `posix-mp: the addon was compiled with a different native/include/posix_mp.h than lib/internal/layout.ts ` +
        `describes (${mismatches.join('; ')}). Rebuild the addon (npm run build:native), or update layout.ts to the header.`,
    );
  }
}
