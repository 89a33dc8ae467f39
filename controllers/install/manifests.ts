import { CONTROL_KINDS, formatBytes, KINDS, parseQuantity } from '../../resources/index.js';
import type { KubeObject } from '../runtime/index.js';
import { crdObjects } from './crds.js';

/**
 * What `vmsctl install` puts in the cloud cluster next to the CRDs: the system namespace,
 * the controllers' identity with least-privilege RBAC, and their Deployment. The same
 * objects are written to manifests/install/ by `npm run generate` for GitOps installs.
 */

/** Memory limit of a controllers container unless `vmsctl install --memory` says otherwise. */
export const DEFAULT_CONTROLLERS_MEMORY = '1Gi';
/** Smallest and largest `--memory` accepted: below, the caches of a small fleet do not fit. */
export const CONTROLLERS_MEMORY_RANGE = { min: 256 * 2 ** 20, max: 64 * 2 ** 30 };

/**
 * Old-space cap of the controllers' Node heap (MB) for a memory limit: a quarter of it. The
 * rest is young generation, buffers and the git processes fleet-sync runs. Without a cap V8
 * lets garbage from large watch events pile up to several times the live heap, which is
 * ~100 MB at 6,000 cameras (npm run bench:reconcile) and grows with the fleet.
 */
export function controllersHeapMB(memory: string = DEFAULT_CONTROLLERS_MEMORY): number {
  const problem = controllersMemoryProblem(memory);
  if (problem) throw new RangeError(`controllers memory "${memory}" ${problem}`);
  return Math.floor(parseQuantity(memory) / 4 / 2 ** 20);
}

/** Why `memory` cannot be the controllers' memory limit, or undefined when it can. */
export function controllersMemoryProblem(memory: string): string | undefined {
  let bytes: number;
  try {
    bytes = parseQuantity(memory);
  } catch {
    return 'is not a Kubernetes memory quantity';
  }
  if (!Number.isInteger(bytes)) return 'is not a whole number of bytes';
  const { min, max } = CONTROLLERS_MEMORY_RANGE;
  if (bytes < min) return `is below ${formatBytes(min)}: the controllers' caches would not fit`;
  if (bytes > max) return `is above ${formatBytes(max)}`;
  return undefined;
}

/**
 * Process environment of the controllers container that sizes their memory; the bench runs
 * the controllers with the same.
 */
export function controllersMemoryEnv(memory?: string): { name: string; value: string }[] {
  return [
    // A young generation of 8 MB semi-spaces instead of 16: scavenges run twice as often on
    // the same short-lived garbage, and the peak is ~20 MB lower (bench:reconcile 2026-12-04:
    // 280 and 277 MB against 266-307 MB in ten runs, four over 300, with the default).
    {
      name: 'NODE_OPTIONS',
      value: `--max-old-space-size=${controllersHeapMB(memory)} --max-semi-space-size=8`,
    },
    // glibc gives each thread that allocates its own malloc arena; Node's worker threads
    // (zlib, fs, TLS) then hold ~30 MB of RSS that is free but never returned
    // (npm run bench:reconcile: peak 285-312 MB in 8 runs with the default, 268-300 MB in 5
    // with 2).
    { name: 'MALLOC_ARENA_MAX', value: '2' },
  ];
}

/** Namespace of the controllers, their Lease and the Secrets FleetSyncs refer to. */
export const SYSTEM_NAMESPACE = 'vmsctl-system';
/** Name of the ServiceAccount, ClusterRole, bindings and Deployment of the controllers. */
export const CONTROLLERS_NAME = 'vmsctl-controllers';
/** Lease the controller replicas elect a leader with. */
export const CONTROLLERS_LEASE = 'vmsctl-controllers';
/** Where the controllers' image comes from; the tag is the vmsctl version. */
export const IMAGE_REPOSITORY = 'ghcr.io/vmsctl/vmsctl';
/** Port of /healthz and /readyz in the controllers' pod. */
export const HEALTH_PORT = 8081;
/** Port of the FleetSync push webhooks, behind the Service of the same name as the controllers. */
export const WEBHOOK_PORT = 9292;
/**
 * The Roles the tenant controller writes in each tenant namespace (`vmsctl-<role>`, see
 * controllers/tenant). The controllers may create and bind exactly these without holding
 * what they grant (the `escalate` and `bind` verbs, limited to these names).
 */
export const TENANT_ROLE_NAMES = ['vmsctl-admin', 'vmsctl-supervisor', 'vmsctl-viewer'];

const PART_OF = { 'app.kubernetes.io/part-of': 'vmsctl' };
const LABELS = { 'app.kubernetes.io/name': CONTROLLERS_NAME, ...PART_OF };

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface InstallManifestOptions {
  /** vmsctl version: the image tag unless `image` is given. */
  version: string;
  namespace?: string;
  /** Whole image reference, overriding ghcr.io/vmsctl/vmsctl:<version>. */
  image?: string;
  replicas?: number;
  /** Memory limit of each controllers container (Kubernetes quantity, default 1Gi). */
  memory?: string;
}

const ALL_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/**
 * Cluster-wide permissions of the controllers, each for something a controller does:
 * fleet-sync applies and prunes every vmsctl kind, the controllers write their status,
 * the tenant controller manages tenant namespaces with their quota, network policy and
 * roles, the edgeserver controller watches edge agents' ServiceAccounts, crd-guard keeps
 * the vmsctl CRDs installed.
 */
export function controllerClusterRules(): PolicyRule[] {
  const plurals = [...KINDS, ...CONTROL_KINDS].map((k) => k.plural);
  return [
    { apiGroups: ['vmsctl.io'], resources: plurals, verbs: ALL_VERBS },
    {
      apiGroups: ['vmsctl.io'],
      resources: plurals.map((p) => `${p}/status`),
      verbs: ['get', 'update', 'patch'],
    },
    // Owner references with blockOwnerDeletion (tenant namespaces, edge bundles).
    {
      apiGroups: ['vmsctl.io'],
      resources: plurals.map((p) => `${p}/finalizers`),
      verbs: ['update'],
    },
    { apiGroups: [''], resources: ['namespaces'], verbs: ALL_VERBS },
    { apiGroups: [''], resources: ['resourcequotas'], verbs: ALL_VERBS },
    { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ALL_VERBS },
    {
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['roles', 'rolebindings'],
      verbs: ALL_VERBS,
    },
    // Writing a Role needs the permissions it grants, binding one needs them too, unless
    // the writer may `escalate` / `bind` that Role: allowed for the tenant roles only, so
    // the controllers never hold tenant Secrets themselves.
    {
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['roles'],
      verbs: ['bind', 'escalate'],
      resourceNames: TENANT_ROLE_NAMES,
    },
    { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list', 'watch'] },
    // The edge agents' heartbeats (their Leases in the tenant namespaces), read only.
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch'] },
    // crd-guard puts back a vmsctl CRD that was deleted or edited, and only those. (A
    // server-side apply that creates is authorized as `create` of that name.)
    {
      apiGroups: ['apiextensions.k8s.io'],
      resources: ['customresourcedefinitions'],
      verbs: ['get', 'list', 'watch'],
    },
    {
      apiGroups: ['apiextensions.k8s.io'],
      resources: ['customresourcedefinitions'],
      verbs: ['create', 'patch', 'update'],
      resourceNames: crdObjects().map((c) => c.metadata.name),
    },
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  ];
}

/** Permissions in the system namespace only: FleetSync Git/webhook Secrets, the leader Lease. */
export function controllerNamespaceRules(): PolicyRule[] {
  return [
    { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
    {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
    },
  ];
}

/** The image the controllers run. */
export function controllersImage(o: InstallManifestOptions): string {
  return o.image ?? `${IMAGE_REPOSITORY}:${o.version}`;
}

/**
 * Every object of the installation except the CRDs, in apply order: Namespace,
 * ServiceAccount, ClusterRole, ClusterRoleBinding, Role, RoleBinding, Deployment, webhook Service.
 */
export function installManifests(o: InstallManifestOptions): KubeObject[] {
  const namespace = o.namespace ?? SYSTEM_NAMESPACE;
  const meta = (extra: Record<string, unknown> = {}) => ({
    name: CONTROLLERS_NAME,
    ...extra,
    labels: { ...LABELS },
  });
  const subjects = [{ kind: 'ServiceAccount', name: CONTROLLERS_NAME, namespace }];
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: namespace,
        labels: {
          ...PART_OF,
          'app.kubernetes.io/managed-by': 'vmsctl',
          'pod-security.kubernetes.io/enforce': 'restricted',
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta({ namespace }),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: meta(),
      rules: controllerClusterRules(),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta(),
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: CONTROLLERS_NAME,
      },
      subjects,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta({ namespace }),
      rules: controllerNamespaceRules(),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta({ namespace }),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONTROLLERS_NAME },
      subjects,
    },
    controllersDeployment(o, namespace),
    {
      // Git hosts post pushes here (`/hooks/fleetsync/<name>`, HMAC-signed); either replica
      // may take one: the standby passes it on to the leader through the FleetSync.
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta({ namespace }),
      spec: {
        type: 'ClusterIP',
        selector: { 'app.kubernetes.io/name': CONTROLLERS_NAME },
        ports: [{ name: 'webhook', port: 80, targetPort: 'webhook', protocol: 'TCP' }],
      },
    },
  ];
}

function controllersDeployment(o: InstallManifestOptions, namespace: string): KubeObject {
  const heapMB = controllersHeapMB(o.memory);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: CONTROLLERS_NAME, namespace, labels: { ...LABELS } },
    spec: {
      // Two replicas: the standby keeps warm caches and takes the Lease over within
      // seconds when the leader's node goes away; only the leader reconciles.
      replicas: o.replicas ?? 2,
      revisionHistoryLimit: 5,
      selector: { matchLabels: { 'app.kubernetes.io/name': CONTROLLERS_NAME } },
      template: {
        metadata: { labels: { ...LABELS } },
        spec: {
          serviceAccountName: CONTROLLERS_NAME,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: {
                      matchLabels: { 'app.kubernetes.io/name': CONTROLLERS_NAME },
                    },
                  },
                },
              ],
            },
          },
          containers: [
            {
              name: 'controllers',
              image: controllersImage(o),
              imagePullPolicy: 'IfNotPresent',
              command: ['vmsctl', 'controllers', 'run'],
              args: [
                '--namespace',
                namespace,
                '--lease',
                CONTROLLERS_LEASE,
                '--cache-dir',
                '/var/cache/vmsctl',
                '--health-port',
                String(HEALTH_PORT),
                '--webhook-port',
                String(WEBHOOK_PORT),
              ],
              env: [
                { name: 'VMSCTL_LOG_FORMAT', value: 'json' },
                // git (fleet-sync) writes its config under HOME; the root file system is read-only.
                { name: 'HOME', value: '/tmp' },
                ...controllersMemoryEnv(o.memory),
              ],
              ports: [
                { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
                { name: 'webhook', containerPort: WEBHOOK_PORT, protocol: 'TCP' },
              ],
              // Ready once the caches are synced, leader or standby.
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'health' },
                periodSeconds: 5,
                failureThreshold: 3,
              },
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'health' },
                initialDelaySeconds: 15,
                periodSeconds: 10,
                failureThreshold: 3,
              },
              resources: {
                // The request is what the heap may use; the limit leaves room for the rest.
                requests: { cpu: '100m', memory: `${heapMB}Mi` },
                limits: { cpu: '1', memory: o.memory ?? DEFAULT_CONTROLLERS_MEMORY },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'cache', mountPath: '/var/cache/vmsctl' },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            // Git checkouts of the FleetSyncs: rebuilt from the remotes after a restart.
            { name: 'cache', emptyDir: { sizeLimit: '2Gi' } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}
