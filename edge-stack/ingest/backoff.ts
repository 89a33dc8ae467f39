/** Reconnect timing: exponential growth, capped, with full jitter. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2 };

/**
 * Delay before reconnect attempt `attempt` (0-based). Full jitter (a uniform draw up to
 * the exponential bound) keeps hundreds of cameras behind one failed switch from
 * reconnecting in lockstep. Hand-written: it is one line of arithmetic, not a retry loop.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const bound = Math.min(policy.maxMs, policy.initialMs * policy.factor ** attempt);
  // Never less than half the bound so a flapping camera cannot spin.
  return Math.round(bound / 2 + (random() * bound) / 2);
}
