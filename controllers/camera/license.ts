import type { LiveCamera, LiveTenant } from '../cache/fleet-cache.js';

export interface LicenseAllocation {
  /** Enabled cameras that fit the license's camera limit (by age, oldest first). */
  licensed: Set<string>;
  /** Enabled cameras beyond the limit: not deployed. */
  over: string[];
  enabled: number;
  limit: number;
  daysLeft: number;
  /** valid | expired | not-yet-valid */
  window: 'valid' | 'expired' | 'not-yet-valid';
}

const DAY_MS = 86_400_000;

/**
 * Which of a tenant's cameras the license covers. The limit counts enabled cameras; when
 * there are more, the oldest (creation time, then name) keep running, so adding a camera
 * never takes a running one down. An expired license is reported but does not switch
 * cameras off: a security system going dark over a billing date is worse than the breach.
 */
export function allocateLicense(
  tenant: LiveTenant | undefined,
  cameras: readonly LiveCamera[],
  now: Date,
): LicenseAllocation {
  const limit = tenant?.spec.license.cameraLimit ?? 0;
  const live = cameras.filter((c) => c.spec.enabled !== false && !c.metadata.deletionTimestamp);
  // Within the limit (the usual case) every camera is licensed and order does not matter:
  // skipping the sort keeps a per-site reconcile linear in the tenant's cameras.
  const enabled =
    live.length <= limit
      ? live
      : live.sort(
          (a, b) =>
            cmp(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? '') ||
            cmp(a.metadata.name, b.metadata.name),
        );
  const licensed = new Set(enabled.slice(0, limit).map((c) => c.metadata.name));
  const over = enabled.slice(limit).map((c) => c.metadata.name);
  let window: LicenseAllocation['window'] = 'valid';
  let daysLeft = 0;
  if (tenant) {
    const from = Date.parse(`${tenant.spec.license.validFrom}T00:00:00Z`);
    const until = Date.parse(`${tenant.spec.license.validUntil}T00:00:00Z`) + DAY_MS;
    daysLeft = Math.max(0, Math.ceil((until - now.getTime()) / DAY_MS));
    if (now.getTime() < from) window = 'not-yet-valid';
    else if (now.getTime() >= until) window = 'expired';
  }
  return { licensed, over, enabled: enabled.length, limit, daysLeft, window };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
