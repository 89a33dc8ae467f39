import type { FleetCache, LiveCamera, LiveTenant } from '../cache/fleet-cache.js';

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
  return { ...allocateSeats(tenant, cameras), ...licenseWindow(tenant, now) };
}

type Seats = Pick<LicenseAllocation, 'licensed' | 'over' | 'enabled' | 'limit'>;

/** Which enabled cameras fit the camera limit (the part of the allocation that needs them all). */
function allocateSeats(tenant: LiveTenant | undefined, cameras: readonly LiveCamera[]): Seats {
  const limit = tenant?.spec.license.cameraLimit ?? 0;
  const live = cameras.filter((c) => c.spec.enabled !== false && !c.metadata.deletionTimestamp);
  // Within the limit (the usual case) every camera is licensed and order does not matter.
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
  return { licensed, over, enabled: enabled.length, limit };
}

/** Days left and whether today is inside the license's validity window. */
function licenseWindow(
  tenant: LiveTenant | undefined,
  now: Date,
): Pick<LicenseAllocation, 'daysLeft' | 'window'> {
  let window: LicenseAllocation['window'] = 'valid';
  let daysLeft = 0;
  if (tenant) {
    const from = Date.parse(`${tenant.spec.license.validFrom}T00:00:00Z`);
    const until = Date.parse(`${tenant.spec.license.validUntil}T00:00:00Z`) + DAY_MS;
    daysLeft = Math.max(0, Math.ceil((until - now.getTime()) / DAY_MS));
    if (now.getTime() < from) window = 'not-yet-valid';
    else if (now.getTime() >= until) window = 'expired';
  }
  return { daysLeft, window };
}

const books = new WeakMap<FleetCache, Map<string, Seats>>();

/**
 * A tenant's license allocation from the cache. The seats are kept per tenant until one of
 * its cameras is added, removed, enabled or disabled, or the tenant changes: every site
 * reconcile needs them, and recounting 6,000 cameras for each of 700 sites is what made a
 * full-fleet pass slow.
 */
export function tenantLicense(cache: FleetCache, namespace: string, now: Date): LicenseAllocation {
  let book = books.get(cache);
  if (!book) {
    const seats = new Map<string, Seats>();
    book = seats;
    books.set(cache, seats);
    const forget = (c: LiveCamera) => seats.delete(c.metadata.namespace!);
    cache.cameras.on({
      add: forget,
      delete: forget,
      update: (a, b) => {
        if (
          a.spec.enabled !== b.spec.enabled ||
          a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp
        )
          forget(b);
      },
    });
    cache.tenants.on({
      add: (t) => seats.delete(t.metadata.name),
      update: (_, t) => seats.delete(t.metadata.name),
      delete: (t) => seats.delete(t.metadata.name),
    });
  }
  const tenant = cache.tenants.get(namespace);
  let seats = book.get(namespace);
  if (!seats) {
    seats = allocateSeats(tenant, cache.cameras.byIndex('namespace', namespace));
    book.set(namespace, seats);
  }
  return { ...seats, ...licenseWindow(tenant, now) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
