import { describe, expect, it } from 'vitest';
import type { Condition } from '../../resources/index.js';
import {
  findCondition,
  isReady,
  mergeConditions,
  outcome,
  sameConditions,
  type ConditionInput,
} from './conditions.js';

const t0 = new Date('2026-03-01T10:00:00.123Z');
const t1 = new Date('2026-03-01T11:30:00.999Z');

const ready = (
  status: 'True' | 'False',
  reason = 'Reconciled',
  message = 'ok',
): ConditionInput => ({
  type: 'Ready',
  status,
  reason,
  message,
});

describe('mergeConditions', () => {
  it('stamps new conditions with the time (whole seconds, RFC 3339) and the generation', () => {
    const out = mergeConditions(undefined, [ready('True')], 3, t0);
    expect(out).toEqual([
      {
        type: 'Ready',
        status: 'True',
        observedGeneration: 3,
        lastTransitionTime: '2026-03-01T10:00:00Z',
        reason: 'Reconciled',
        message: 'ok',
      },
    ]);
  });

  it('keeps lastTransitionTime while the status stays, even if reason, message and generation change', () => {
    const before = mergeConditions(undefined, [ready('True')], 1, t0);
    const after = mergeConditions(before, [ready('True', 'StillFine', 'changed message')], 2, t1);
    expect(after[0]).toMatchObject({
      status: 'True',
      reason: 'StillFine',
      message: 'changed message',
      observedGeneration: 2,
      lastTransitionTime: '2026-03-01T10:00:00Z',
    });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const before = mergeConditions(undefined, [ready('True')], 1, t0);
    const flipped = mergeConditions(before, [ready('False', 'Failed', 'boom')], 1, t1);
    expect(flipped[0]!.lastTransitionTime).toBe('2026-03-01T11:30:00Z');
    expect(flipped[0]!.status).toBe('False');
    const back = mergeConditions(flipped, [ready('True')], 1, new Date('2026-03-02T00:00:00Z'));
    expect(back[0]!.lastTransitionTime).toBe('2026-03-02T00:00:00Z');
  });

  it('tracks each type on its own and drops types no longer reported', () => {
    const before = mergeConditions(
      undefined,
      [
        ready('False', 'Working', 'w'),
        { type: 'Reconciling', status: 'True', reason: 'Working', message: 'w' },
      ],
      4,
      t0,
    );
    const after = mergeConditions(
      before,
      [
        ready('False', 'Blocked', 'b'),
        { type: 'Stalled', status: 'True', reason: 'Blocked', message: 'b' },
      ],
      4,
      t1,
    );
    expect(after.map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['Ready', '2026-03-01T10:00:00Z'],
      ['Stalled', '2026-03-01T11:30:00Z'],
    ]);
    expect(findCondition(after, 'Reconciling')).toBeUndefined();
  });

  it('uses observedGeneration 0 when the object has no generation', () => {
    expect(mergeConditions(undefined, [ready('True')], undefined, t0)[0]!.observedGeneration).toBe(
      0,
    );
  });

  it('cuts very long messages below the CRD limit', () => {
    const out = mergeConditions(undefined, [ready('False', 'Failed', 'x'.repeat(100_000))], 1, t0);
    expect(out[0]!.message.length).toBeLessThanOrEqual(32_768);
    expect(out[0]!.message.endsWith('(cut)')).toBe(true);
    const short = mergeConditions(undefined, [ready('False', 'Failed', 'y'.repeat(32_000))], 1, t0);
    expect(short[0]!.message).toBe('y'.repeat(32_000));
  });
});

describe('sameConditions', () => {
  const base = mergeConditions(
    undefined,
    outcome(false, 'Progressing', 'working', 'progressing'),
    2,
    t0,
  );

  it('ignores transition times and order', () => {
    const later = mergeConditions(
      undefined,
      outcome(false, 'Progressing', 'working', 'progressing'),
      2,
      t1,
    );
    expect(later[0]!.lastTransitionTime).not.toBe(base[0]!.lastTransitionTime);
    expect(sameConditions(base, later)).toBe(true);
    expect(sameConditions(base, [...later].reverse())).toBe(true);
  });

  it('sees a change of status, reason, message, observedGeneration or the set of types', () => {
    const variants: Condition[][] = [
      base.map((c, i) => (i === 0 ? { ...c, status: 'True' as const } : c)),
      base.map((c, i) => (i === 0 ? { ...c, reason: 'Other' } : c)),
      base.map((c, i) => (i === 0 ? { ...c, message: 'other' } : c)),
      base.map((c, i) => (i === 0 ? { ...c, observedGeneration: 3 } : c)),
      base.slice(0, 1),
      [...base, { ...base[0]!, type: 'Stalled' }],
      base.map((c, i) => (i === 1 ? { ...c, type: 'Stalled' } : c)),
    ];
    for (const v of variants) {
      expect(sameConditions(base, v)).toBe(false);
      expect(sameConditions(v, base)).toBe(false);
    }
  });

  it('treats a missing observedGeneration as 0 and no conditions as an empty list', () => {
    const noGen = base.map(({ observedGeneration: _, ...c }) => c);
    expect(
      sameConditions(
        noGen,
        base.map((c) => ({ ...c, observedGeneration: 0 })),
      ),
    ).toBe(true);
    expect(sameConditions(noGen, base)).toBe(false);
    expect(sameConditions(undefined, [])).toBe(true);
    expect(sameConditions([], [])).toBe(true);
    expect(sameConditions(undefined, base)).toBe(false);
  });
});

describe('outcome', () => {
  it('is just Ready when done', () => {
    expect(outcome(true, 'Reconciled', 'all good')).toEqual([
      { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'all good' },
    ]);
    expect(outcome(false, 'Invalid', 'bad')).toEqual([
      { type: 'Ready', status: 'False', reason: 'Invalid', message: 'bad' },
    ]);
  });

  it('adds Reconciling=True while progressing and Stalled=True when stalled', () => {
    expect(outcome(false, 'Rolling', 'r', 'progressing')).toEqual([
      { type: 'Ready', status: 'False', reason: 'Rolling', message: 'r' },
      { type: 'Reconciling', status: 'True', reason: 'Rolling', message: 'r' },
    ]);
    expect(outcome(false, 'LicenseExpired', 'l', 'stalled')).toEqual([
      { type: 'Ready', status: 'False', reason: 'LicenseExpired', message: 'l' },
      { type: 'Stalled', status: 'True', reason: 'LicenseExpired', message: 'l' },
    ]);
  });

  it('a transition from stalled to done drops Stalled through mergeConditions', () => {
    const stalled = mergeConditions(undefined, outcome(false, 'Bad', 'b', 'stalled'), 1, t0);
    const done = mergeConditions(stalled, outcome(true, 'Reconciled', 'ok'), 2, t1);
    expect(done.map((c) => c.type)).toEqual(['Ready']);
    expect(done[0]!.lastTransitionTime).toBe('2026-03-01T11:30:00Z');
  });
});

describe('isReady', () => {
  const conditions = (gen: number, status: 'True' | 'False') =>
    mergeConditions(undefined, [ready(status)], gen, t0);

  it('needs Ready=True computed for the current generation', () => {
    expect(
      isReady({ metadata: { generation: 2 }, status: { conditions: conditions(2, 'True') } }),
    ).toBe(true);
    expect(
      isReady({ metadata: { generation: 3 }, status: { conditions: conditions(2, 'True') } }),
    ).toBe(false);
    expect(
      isReady({ metadata: { generation: 2 }, status: { conditions: conditions(2, 'False') } }),
    ).toBe(false);
    expect(isReady({ metadata: { generation: 2 } })).toBe(false);
    expect(isReady({ metadata: {}, status: { conditions: conditions(0, 'True') } })).toBe(true);
  });
});
