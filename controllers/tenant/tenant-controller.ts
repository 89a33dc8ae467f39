import { TENANT_LABEL } from '../apply/apply-set.js';
import { fleetCache, type FleetCache, type LiveTenant } from '../cache/fleet-cache.js';
import { tenantLicense } from '../camera/license.js';
import {
  applyStatusIfChanged,
  Controller,
  controllerRef,
  CORE,
  mergeConditions,
  VMS,
  type ConditionInput,
  type KubeObject,
  type Manager,
  type ReconcileResult,
} from '../runtime/index.js';

export const TENANT_MANAGER = 'vmsctl-tenant';
export const TENANT_FINALIZER = 'vmsctl.io/tenant-cleanup';

/** The tenant roles and what each may do with the tenant's resources. */
const ROLES: Record<string, { resources: string[]; verbs: string[] }[]> = {
  admin: [
    { resources: ['sites', 'cameras', 'edgeservers', 'edgebundles', 'edgereleases'], verbs: ['*'] },
    {
      resources: ['secrets'],
      verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
    },
  ],
  supervisor: [
    { resources: ['sites', 'cameras', 'edgeservers'], verbs: ['get', 'list', 'watch'] },
    { resources: ['cameras'], verbs: ['patch', 'update'] },
  ],
  // Viewers never see Secrets, not even their names.
  viewer: [
    {
      resources: ['sites', 'cameras', 'edgeservers', 'edgebundles', 'edgereleases'],
      verbs: ['get', 'list', 'watch'],
    },
  ],
};

export interface TenantControllerOptions {
  now?: () => Date;
  systemNamespace?: string;
  workers?: number;
}

/**
 * The tenant controller: a namespace per tenant with a ResourceQuota, a default-deny
 * NetworkPolicy and Roles for Admin/Supervisor/Viewer bound to the tenant's groups; license
 * state in conditions (cameras used against the limit, naming the cameras left out, days to
 * expiry). A finalizer deletes the namespace, and so everything in it, before the Tenant goes.
 */
export class TenantReconciler {
  private readonly cache: FleetCache;
  constructor(
    private readonly mgr: Manager,
    private readonly options: TenantControllerOptions = {},
  ) {
    this.cache = fleetCache(mgr);
  }

  async reconcile(name: string): Promise<ReconcileResult | void> {
    const tenant = this.cache.tenants.get(name);
    if (!tenant) return;
    const client = this.mgr.client;
    if (tenant.metadata.deletionTimestamp) return this.finalize(tenant);
    if (!tenant.metadata.finalizers?.includes(TENANT_FINALIZER)) {
      await client.jsonPatch(VMS['Tenant']!, { name }, [
        { op: 'test', path: '/metadata/resourceVersion', value: tenant.metadata.resourceVersion },
        tenant.metadata.finalizers
          ? { op: 'add', path: '/metadata/finalizers/-', value: TENANT_FINALIZER }
          : { op: 'add', path: '/metadata/finalizers', value: [TENANT_FINALIZER] },
      ]);
      return; // the update event brings us back with the finalizer in place
    }
    await this.applyNamespaceObjects(tenant);

    const now = this.options.now?.() ?? new Date();
    const license = tenantLicense(this.cache, name, now);
    const conds: ConditionInput[] = [];
    const used = Math.min(license.enabled, license.limit);
    if (license.over.length > 0) {
      const shown =
        license.over.slice(0, 20).join(', ') +
        (license.over.length > 20 ? ` and ${license.over.length - 20} more` : '');
      conds.push({
        type: 'WithinCameraLimit',
        status: 'False',
        reason: 'OverCameraLimit',
        message: `${license.enabled} enabled cameras for a limit of ${license.limit}; not deployed: ${shown}`,
      });
    } else {
      conds.push({
        type: 'WithinCameraLimit',
        status: 'True',
        reason: 'WithinLimit',
        message: `${license.enabled} of ${license.limit} cameras`,
      });
    }
    if (license.window === 'expired') {
      conds.push({
        type: 'LicenseValid',
        status: 'False',
        reason: 'Expired',
        message: `license ended ${tenant.spec.license.validUntil}; cameras keep running, renew it`,
      });
    } else if (license.window === 'not-yet-valid') {
      conds.push({
        type: 'LicenseValid',
        status: 'False',
        reason: 'NotYetValid',
        message: `license starts ${tenant.spec.license.validFrom}`,
      });
    } else {
      conds.push({
        type: 'LicenseValid',
        status: 'True',
        reason: 'Valid',
        message: `${license.daysLeft} day(s) left`,
      });
    }
    const ok = license.over.length === 0 && license.window === 'valid';
    const ready: ConditionInput = ok
      ? {
          type: 'Ready',
          status: 'True',
          reason: 'Provisioned',
          message: `namespace ${name} ready; ${license.enabled} of ${license.limit} cameras licensed`,
        }
      : {
          type: 'Ready',
          status: 'False',
          reason: conds.find((c) => c.status === 'False')!.reason,
          message: conds.find((c) => c.status === 'False')!.message,
        };
    await applyStatusIfChanged(
      client,
      VMS['Tenant']!,
      tenant,
      {
        observedGeneration: tenant.metadata.generation,
        conditions: mergeConditions(
          tenant.status?.conditions,
          [ready, ...conds],
          tenant.metadata.generation,
          now,
        ),
        namespace: name,
        camerasUsed: used,
        licenseDaysLeft: license.daysLeft,
      },
      TENANT_MANAGER,
    );
    // Days left changes at midnight UTC: visit again then.
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    return { requeueAfterMs: midnight - now.getTime() + 1_000 };
  }

  private async applyNamespaceObjects(tenant: LiveTenant): Promise<void> {
    const name = tenant.metadata.name;
    const client = this.mgr.client;
    const owner = [controllerRef(VMS['Tenant']!, tenant)];
    const opts = { fieldManager: TENANT_MANAGER, force: true };
    const labels = { [TENANT_LABEL]: name, 'app.kubernetes.io/part-of': 'vmsctl' };
    const ns = this.cache.namespaces.get(name);
    const wanted: { type: (typeof CORE)[keyof typeof CORE]; obj: KubeObject }[] = [
      { type: CORE.Namespace, obj: { metadata: { name, labels, ownerReferences: owner } } },
      {
        type: CORE.ResourceQuota,
        obj: {
          metadata: { name: 'vmsctl-tenant', namespace: name, labels, ownerReferences: owner },
          // The license is enforced by the controllers (extra cameras are reported, not refused).
          // No count/cameras quota: admission refuses every camera until the quota controller
          // has discovered the CRD ("status unknown"), which stalls a fresh install. The quota
          // caps what a tenant admin can create directly (credentials, config).
          spec: { hard: { 'count/secrets': '2000', 'count/configmaps': '2000' } },
        },
      },
      {
        type: CORE.NetworkPolicy,
        obj: {
          metadata: {
            name: 'vmsctl-tenant-isolation',
            namespace: name,
            labels,
            ownerReferences: owner,
          },
          spec: {
            podSelector: {},
            policyTypes: ['Ingress'],
            ingress: [
              { from: [{ podSelector: {} }] },
              {
                from: [
                  {
                    namespaceSelector: {
                      matchLabels: {
                        'kubernetes.io/metadata.name':
                          this.options.systemNamespace ?? 'vmsctl-system',
                      },
                    },
                  },
                ],
              },
            ],
          },
        },
      },
    ];
    for (const [role, rules] of Object.entries(ROLES)) {
      const roleName = `vmsctl-${role}`;
      wanted.push({
        type: CORE.Role,
        obj: {
          metadata: { name: roleName, namespace: name, labels, ownerReferences: owner },
          rules: rules.map((r) => ({
            apiGroups: r.resources.includes('secrets') ? [''] : ['vmsctl.io'],
            resources: r.resources,
            verbs: r.verbs,
          })),
        },
      });
      wanted.push({
        type: CORE.RoleBinding,
        obj: {
          metadata: { name: roleName, namespace: name, labels, ownerReferences: owner },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
          subjects: [
            {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'Group',
              name: `vmsctl:${name}:${role}s`,
            },
          ],
        },
      });
    }
    // Written once per tenant generation: the annotation on the namespace says which one.
    const stamp = `${tenant.metadata.uid}/${tenant.metadata.generation}`;
    if (ns?.metadata.annotations?.['vmsctl.io/tenant-objects'] === stamp) return;
    for (const { type, obj } of wanted) await client.apply(type, obj, opts);
    await client.apply(
      CORE.Namespace,
      { metadata: { name, annotations: { 'vmsctl.io/tenant-objects': stamp } } },
      { fieldManager: `${TENANT_MANAGER}-stamp`, force: true },
    );
  }

  private async finalize(tenant: LiveTenant): Promise<ReconcileResult | void> {
    const name = tenant.metadata.name;
    const client = this.mgr.client;
    const ns = await client.get(CORE.Namespace, { name });
    if (ns) {
      if (!ns.metadata.deletionTimestamp) await client.delete(CORE.Namespace, { name });
      // Namespace deletion takes a while (every object in it goes first): look again soon.
      return { requeueAfterMs: 1_000 };
    }
    const finalizers = (tenant.metadata.finalizers ?? []).filter((f) => f !== TENANT_FINALIZER);
    await client.jsonPatch(VMS['Tenant']!, { name }, [
      { op: 'test', path: '/metadata/resourceVersion', value: tenant.metadata.resourceVersion },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers },
    ]);
  }
}

/** Wires the tenant controller into a manager. */
export function setupTenantController(
  mgr: Manager,
  options: TenantControllerOptions = {},
): Controller {
  const cache = fleetCache(mgr);
  const controller = new Controller(
    { name: 'tenant', workers: options.workers ?? 2, log: mgr.log, barrier: mgr.barrier },
    new TenantReconciler(mgr, options),
  );
  controller.watch(cache.tenants);
  controller.watch(
    cache.cameras,
    (c) => [c.metadata.namespace!],
    (a, b) =>
      a.spec.enabled !== b.spec.enabled ||
      a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp,
    2_000,
  );
  controller.watch(cache.namespaces, (n) => [n.metadata.name]);
  mgr.add(controller);
  return controller;
}
