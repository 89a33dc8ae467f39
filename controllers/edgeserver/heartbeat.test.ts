import { describe, expect, it } from 'vitest';
import { microTime, type InformerHandlers } from '../runtime/index.js';
import { HeartbeatClock, type HeartbeatLease } from './heartbeat.js';
import { EDGE_AGENT_LABEL } from './registration.js';

/** Just enough of an informer to drive the clock: handlers and a synced flag. */
function fakeLeases() {
  let handlers: InformerHandlers<HeartbeatLease> = {};
  let synced = false;
  return {
    on: (h: InformerHandlers<HeartbeatLease>) => void (handlers = h),
    hasSynced: () => synced,
    sync: () => void (synced = true),
    handlers: () => handlers,
  };
}

function lease(edge: string, renewTime?: string): HeartbeatLease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: `edge-agent-${edge}`,
      namespace: 'acme',
      labels: { [EDGE_AGENT_LABEL]: edge },
    },
    spec: { holderIdentity: edge, renewTime },
  };
}

describe('HeartbeatClock', () => {
  const t0 = Date.parse('2026-12-03T12:00:00Z');

  it('dates a Lease found at start-up by its renewTime, never later than now', () => {
    const leases = fakeLeases();
    let now = t0;
    const clock = new HeartbeatClock(leases, () => now);
    leases.handlers().add!(lease('old', microTime(new Date(t0 - 120_000))));
    // An edge clock 30 days ahead cannot buy a longer grace.
    leases.handlers().add!(lease('ahead', microTime(new Date(t0 + 30 * 86_400_000))));
    leases.sync();
    now = t0 + 5_000;
    expect(clock.lastSeen('acme/old')).toBe(t0 - 120_000);
    expect(clock.lastSeen('acme/ahead')).toBe(t0);
  });

  it("dates later renewals by when they were seen, whatever the edge's clock says", () => {
    const leases = fakeLeases();
    let now = t0;
    const renewed: string[] = [];
    const clock = new HeartbeatClock(
      leases,
      () => now,
      (k) => renewed.push(k),
    );
    leases.sync();
    const first = lease('e1', microTime(new Date(t0 - 3_600_000)));
    leases.handlers().add!(first);
    expect(clock.lastSeen('acme/e1')).toBe(t0);
    now = t0 + 10_000;
    const second = lease('e1', microTime(new Date(t0 - 3_590_000)));
    leases.handlers().update!(first, second);
    expect(clock.lastSeen('acme/e1')).toBe(t0 + 10_000);
    // A re-delivery of the same renewal (resync, relist) is not a heartbeat.
    now = t0 + 20_000;
    leases.handlers().update!(second, second);
    expect(clock.lastSeen('acme/e1')).toBe(t0 + 10_000);
    expect(renewed).toEqual(['acme/e1', 'acme/e1']);
  });

  it('knows nothing of a Lease never renewed or deleted', () => {
    const leases = fakeLeases();
    const clock = new HeartbeatClock(leases, () => t0);
    leases.sync();
    leases.handlers().add!(lease('new'));
    expect(clock.lastSeen('acme/new')).toBeUndefined();
    const l = lease('gone', microTime(new Date(t0)));
    leases.handlers().add!(l);
    leases.handlers().delete!(l);
    expect(clock.lastSeen('acme/gone')).toBeUndefined();
  });

  it('writes renewTime as a MicroTime', () => {
    expect(microTime(new Date('2026-12-03T12:00:00.123Z'))).toBe('2026-12-03T12:00:00.123000Z');
  });
});
