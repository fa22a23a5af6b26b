// One source for layouts (issue 8, item 4): the addon reports sizeof/offsetof of posix_mp.h as compiled, and
// lib/internal/layout.ts refuses to load when its copy differs.
import { describe, expect, it } from 'vitest';

import { checkLayout, LAYOUT, layoutMismatches, type Layout } from '../lib/internal/layout.js';
import { loadAddon } from './helpers.js';

const addon = loadAddon<{ layout: Layout }>();

/** A deep copy of the addon's layout to doctor. */
function copy(): Record<string, Record<string, number>> {
  return structuredClone(addon.layout) as Record<string, Record<string, number>>;
}

describe('struct layouts', () => {
  it("the addon's layout of posix_mp.h is exactly the TypeScript's", () => {
    expect(layoutMismatches(LAYOUT, addon.layout)).toEqual([]);
    expect(() => checkLayout(addon.layout)).not.toThrow();
    expect(addon.layout.pmp_lock).toEqual({ sizeof: 16, word: 0, owner_thread: 8, count: 12 });
  });

  it('a moved field, a new field, a changed size or a missing constant is caught with a clear error', () => {
    const doctored = copy();
    doctored.pmp_lock!.count = 16;
    doctored.pmp_event!.extra = 8;
    doctored.pmp_condition!.sizeof = 312;
    delete doctored.constants!.PMP_KIND_QUEUE;
    expect(layoutMismatches(LAYOUT, doctored as Layout)).toEqual([
      'pmp_lock.count: TypeScript 12, native 16',
      'pmp_event.extra: TypeScript has none, native 8',
      'pmp_condition.sizeof: TypeScript 304, native 312',
      'constants.PMP_KIND_QUEUE: TypeScript 8, native has none',
    ]);
    expect(() => checkLayout(doctored as Layout)).toThrow(/pmp_lock\.count: TypeScript 12, native 16.*npm run build:native/);
  });

  it('a struct the TypeScript does not know is caught too', () => {
    const doctored = copy();
    doctored.pmp_pool = { sizeof: 64, head: 0 };
    expect(layoutMismatches(LAYOUT, doctored as Layout)).toEqual([
      'pmp_pool.sizeof: TypeScript has none, native 64',
      'pmp_pool.head: TypeScript has none, native 0',
    ]);
  });
});
