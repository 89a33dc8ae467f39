import { childName } from '../camera/names.js';
import { CORE, VMS, controllerRef, type KubeClient, type KubeObject } from '../runtime/index.js';

/** Label on the identity objects of an edge's agent in the cloud cluster. */
export const EDGE_AGENT_LABEL = 'vmsctl.io/edge-agent';
export const REGISTRATION_MANAGER = 'vmsctl-edge-registration';

/** Name of the ServiceAccount an edge's agent authenticates as in the cloud cluster. */
export function agentServiceAccount(edge: string): string {
  return childName('edge-agent', edge);
}

/** Heartbeat grace when the EdgeServer does not set one. */
export const DEFAULT_HEARTBEAT_GRACE_S = 90;

/** Name of the Lease an edge's agent heartbeats on: the same as its ServiceAccount. */
export function heartbeatLeaseName(edge: string): string {
  return agentServiceAccount(edge);
}

/** What an edge agent needs to reach the cloud: server, CA and a token bound to its identity. */
export interface EdgeCredentials {
  server: string;
  caData?: string;
  token: string;
  namespace: string;
  edge: string;
}

/**
 * Registers an edge server's agent: a ServiceAccount owned by the EdgeServer, the Lease it
 * heartbeats on, and a Role that lets it read only its own EdgeBundle and EdgeRelease and write
 * only its own EdgeRelease and EdgeServer status and its Lease (Fleet-style least privilege: a
 * stolen edge token reveals nothing about other edges). Returns a token from the TokenRequest
 * API, valid for `ttlSeconds`.
 */
export async function registerEdgeAgent(
  client: KubeClient,
  namespace: string,
  edgeName: string,
  ttlSeconds = 365 * 86_400,
): Promise<EdgeCredentials> {
  const edge = await client.get<KubeObject>(VMS['EdgeServer']!, { namespace, name: edgeName });
  if (!edge) {
    throw new Error(
      `EdgeServer ${namespace}/${edgeName} does not exist in the cloud cluster; apply it first`,
    );
  }
  const sa = agentServiceAccount(edgeName);
  const metadata = {
    name: sa,
    namespace,
    labels: { [EDGE_AGENT_LABEL]: edgeName },
    ownerReferences: [controllerRef(VMS['EdgeServer']!, edge)],
  };
  const opts = { fieldManager: REGISTRATION_MANAGER, force: true };
  await client.apply(CORE.ServiceAccount, { metadata }, opts);
  // Made here, not by the agent, so the agent's token needs no `create` (which RBAC cannot
  // narrow to one name). Applying it again keeps the agent's renewTime.
  const grace =
    (edge.spec as { registration?: { heartbeatGraceSeconds?: number } } | undefined)?.registration
      ?.heartbeatGraceSeconds ?? DEFAULT_HEARTBEAT_GRACE_S;
  await client.apply(
    CORE.Lease,
    {
      metadata: { ...metadata, name: heartbeatLeaseName(edgeName) },
      spec: { holderIdentity: edgeName, leaseDurationSeconds: grace },
    },
    opts,
  );
  await client.apply(
    CORE.Role,
    {
      metadata,
      rules: [
        {
          apiGroups: ['vmsctl.io'],
          resources: ['edgereleases', 'edgebundles'],
          resourceNames: [edgeName],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: ['vmsctl.io'],
          resources: ['edgereleases/status'],
          resourceNames: [edgeName],
          verbs: ['get', 'patch'],
        },
        {
          apiGroups: ['vmsctl.io'],
          resources: ['edgeservers/status'],
          resourceNames: [edgeName],
          verbs: ['get', 'patch'],
        },
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          resourceNames: [heartbeatLeaseName(edgeName)],
          verbs: ['get', 'patch'],
        },
      ],
    },
    opts,
  );
  await client.apply(
    CORE.RoleBinding,
    {
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
    },
    opts,
  );
  const tokenRequest = await client.create<KubeObject & { status: { token: string } }>(
    CORE.ServiceAccount,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name: sa, namespace },
      spec: { expirationSeconds: ttlSeconds },
    },
    '/token',
  );
  const cluster = client.config.getCurrentCluster();
  return {
    server: client.serverUrl.replace(/\/$/, ''),
    caData: cluster?.caData,
    token: tokenRequest.status.token,
    namespace,
    edge: edgeName,
  };
}
