import { API_GROUP_VERSION, CONTROL_KINDS, KINDS, type Condition } from '../../resources/index.js';

/** What the runtime needs to know about any Kubernetes object. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: {
    manager?: string;
    operation?: string;
    subresource?: string;
    fieldsV1?: unknown;
  }[];
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** A kind the runtime can address: API group/version, kind, plural and scope. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export interface ObjectRef {
  name: string;
  namespace?: string;
}

/** Conditions carried by vmsctl kinds' status. */
export interface WithConditions {
  observedGeneration?: number;
  conditions?: Condition[];
}

function type(apiVersion: string, kind: string, plural: string, namespaced: boolean): ResourceType {
  return { apiVersion, kind, plural, namespaced };
}

/** Built-in kinds the controllers and the edge agent touch. */
export const CORE = {
  Namespace: type('v1', 'Namespace', 'namespaces', false),
  ConfigMap: type('v1', 'ConfigMap', 'configmaps', true),
  Secret: type('v1', 'Secret', 'secrets', true),
  ServiceAccount: type('v1', 'ServiceAccount', 'serviceaccounts', true),
  Service: type('v1', 'Service', 'services', true),
  ResourceQuota: type('v1', 'ResourceQuota', 'resourcequotas', true),
  LimitRange: type('v1', 'LimitRange', 'limitranges', true),
  Deployment: type('apps/v1', 'Deployment', 'deployments', true),
  NetworkPolicy: type('networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true),
  Role: type('rbac.authorization.k8s.io/v1', 'Role', 'roles', true),
  RoleBinding: type('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', true),
  ClusterRole: type('rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false),
  ClusterRoleBinding: type(
    'rbac.authorization.k8s.io/v1',
    'ClusterRoleBinding',
    'clusterrolebindings',
    false,
  ),
  PriorityClass: type('scheduling.k8s.io/v1', 'PriorityClass', 'priorityclasses', false),
  Lease: type('coordination.k8s.io/v1', 'Lease', 'leases', true),
  CustomResourceDefinition: type(
    'apiextensions.k8s.io/v1',
    'CustomResourceDefinition',
    'customresourcedefinitions',
    false,
  ),
} as const;

/** The vmsctl.io kinds (fleet kinds and the control kinds), by kind name. */
export const VMS: Record<string, ResourceType> = {};
for (const k of [...KINDS, ...CONTROL_KINDS])
  VMS[k.kind] = type(API_GROUP_VERSION, k.kind, k.plural, k.scope === 'Namespaced');

const BY_KIND = new Map<string, ResourceType>();
for (const t of [...Object.values(CORE), ...Object.values(VMS)]) {
  BY_KIND.set(`${t.apiVersion}/${t.kind}`, t);
}

/** Adds a kind the runtime does not know yet (e.g. the control kinds). */
export function registerType(t: ResourceType): ResourceType {
  BY_KIND.set(`${t.apiVersion}/${t.kind}`, t);
  if (t.apiVersion === API_GROUP_VERSION) VMS[t.kind] = t;
  return t;
}

/** The resource type of an object by its apiVersion and kind, if known. */
export function typeOf(obj: { apiVersion?: string; kind?: string }): ResourceType | undefined {
  return BY_KIND.get(`${obj.apiVersion}/${obj.kind}`);
}

function groupPrefix(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** URL path of a collection (all namespaces when a namespaced type gets no namespace). */
export function collectionPath(t: ResourceType, namespace?: string): string {
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${groupPrefix(t.apiVersion)}${ns}/${t.plural}`;
}

/** URL path of one object. */
export function objectPath(t: ResourceType, ref: ObjectRef): string {
  if (t.namespaced && !ref.namespace) {
    throw new Error(`${t.kind} "${ref.name}" needs a namespace`);
  }
  return `${collectionPath(t, ref.namespace)}/${encodeURIComponent(ref.name)}`;
}

/** `namespace/name` or `name`: the work-queue and cache key of an object. */
export function keyOf(obj: { metadata: ObjectRef }): string {
  return obj.metadata.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name}`
    : obj.metadata.name;
}

/** The reference a key stands for. */
export function refOf(key: string): ObjectRef {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** An owner reference to `owner` marking it as the controller of the dependent. */
export function controllerRef(t: ResourceType, owner: KubeObject): OwnerReference {
  return {
    apiVersion: t.apiVersion,
    kind: t.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}
