import type { Condition } from '../../resources/index.js';

export type ConditionStatus = Condition['status'];

/** A condition to set; lastTransitionTime and observedGeneration are filled in. */
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/**
 * Sets conditions the Kubernetes way: a condition keeps its lastTransitionTime unless its
 * status flips, and every condition carries the generation it was computed for. Conditions
 * not in `next` are dropped, so stale kind-specific ones disappear.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  generation: number | undefined,
  now: Date = new Date(),
): Condition[] {
  const before = new Map((previous ?? []).map((c) => [c.type, c]));
  return next.map((c) => {
    const old = before.get(c.type);
    return {
      type: c.type,
      status: c.status,
      observedGeneration: generation ?? 0,
      lastTransitionTime:
        old && old.status === c.status
          ? old.lastTransitionTime
          : now.toISOString().replace(/\.\d+Z$/, 'Z'),
      reason: c.reason,
      message: truncate(c.message),
    };
  });
}

/**
 * True when two condition lists say the same thing (ignoring transition times and order);
 * no conditions at all is the same as an empty list.
 */
export function sameConditions(
  a: readonly Condition[] | undefined,
  b: readonly Condition[],
): boolean {
  if ((a ?? []).length !== b.length) return false;
  if (!a) return true;
  const byType = new Map(a.map((c) => [c.type, c]));
  return b.every((c) => {
    const o = byType.get(c.type);
    return (
      o !== undefined &&
      o.status === c.status &&
      o.reason === c.reason &&
      o.message === c.message &&
      (o.observedGeneration ?? 0) === (c.observedGeneration ?? 0)
    );
  });
}

/** The condition of a type, if present. */
export function findCondition(list: readonly Condition[] | undefined, type: string) {
  return list?.find((c) => c.type === type);
}

/** True when the object's Ready condition is True for its current generation. */
export function isReady(obj: {
  metadata: { generation?: number };
  status?: { conditions?: Condition[] };
}): boolean {
  const c = findCondition(obj.status?.conditions, 'Ready');
  return c?.status === 'True' && (c.observedGeneration ?? 0) >= (obj.metadata.generation ?? 0);
}

/**
 * Ready plus the kstatus "abnormal-true" conditions: Reconciling while work is still in flight
 * (the outcome is not final yet) and Stalled when retrying cannot help until the input
 * changes. Both are left out in the normal case, as Flux does.
 */
export function outcome(
  ready: boolean,
  reason: string,
  message: string,
  state: 'done' | 'progressing' | 'stalled' = 'done',
): ConditionInput[] {
  const out: ConditionInput[] = [
    { type: 'Ready', status: ready ? 'True' : 'False', reason, message },
  ];
  if (state === 'progressing') out.push({ type: 'Reconciling', status: 'True', reason, message });
  if (state === 'stalled') out.push({ type: 'Stalled', status: 'True', reason, message });
  return out;
}

function truncate(message: string): string {
  return message.length > 32_000 ? `${message.slice(0, 31_990)}… (cut)` : message;
}
