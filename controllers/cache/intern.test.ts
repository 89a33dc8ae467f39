import { describe, expect, it } from 'vitest';
import { StringInterner } from './intern.js';

describe('string interner', () => {
  it('shares repeated short values in place, keeps every value equal, and skips ids and long strings', () => {
    const interner = new StringInterner(16, 100);
    const parse = () =>
      JSON.parse(
        JSON.stringify({
          apiVersion: 'vmsctl.io/v1',
          metadata: { name: 'cam-1', uid: 'u-1', resourceVersion: '7', labels: { a: 'x' } },
          status: { conditions: [{ type: 'Ready', reason: 'Deployed' }], models: ['m1', 'm2'] },
          spec: { payload: 'a string longer than sixteen characters' },
        }),
      ) as Record<string, unknown>;
    const a = interner.intern(parse());
    const b = parse();
    const before = JSON.stringify(b);
    interner.intern(b);
    expect(JSON.stringify(b)).toBe(before);
    expect(b).toEqual(a);
    // uid and resourceVersion are never stored; the long payload neither.
    expect(interner.size).toBe(7);
  });

  it('starts its table over past the bound', () => {
    const interner = new StringInterner(64, 3);
    interner.intern(['a', 'b', 'c']);
    expect(interner.size).toBe(3);
    interner.intern(['d']);
    expect(interner.size).toBe(1);
    expect(interner.intern(['a', 'd'])).toEqual(['a', 'd']);
  });
});
