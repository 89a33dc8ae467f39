import { readFile } from 'node:fs/promises';
import { InputError } from '../input-error.js';

/** An EdgeServer resource: its tenant namespace and name. */
export interface EdgeRef {
  namespace: string;
  name: string;
}

/** What registering an edge with the cloud needs to know. */
export interface EdgeRegistrationRequest {
  /** The EdgeServer being registered. */
  edge: EdgeRef;
  /** Kubernetes node name of the edge's k3s server. */
  nodeName: string;
  /** Address the edge was provisioned at (the SSH host), when known. */
  host?: string;
  /**
   * Kubeconfig of the cloud cluster with the right to register edges; when absent the
   * registrar uses the usual lookup (KUBECONFIG, then ~/.kube/config).
   */
  cloudKubeconfig?: string;
}

/** What the edge agent needs to reach the cloud, as registration hands it back. */
export interface EdgeRegistration {
  /** The cloud apiserver URL the agent talks to (https://host[:port]). */
  server: string;
  /**
   * The cloud apiserver's CA bundle: base64 of the PEM, like a kubeconfig's
   * certificate-authority-data (PEM text is accepted too).
   */
  caData: string;
  /** The agent's least-privilege bearer token. Never printed, never in argv. */
  token: string;
}

/**
 * Registers an edge with the cloud: creates the agent's least-privilege credentials and
 * returns them. Implemented by the controllers' edge registration; injected into
 * `executeSteps` so provisioning does not depend on how it is done.
 */
export type RegisterEdge = (request: EdgeRegistrationRequest) => Promise<EdgeRegistration>;

/** Why nothing can register an edge yet (the commands check before anything runs). */
export function registrationUnavailable(): InputError {
  return new InputError(
    'registering an edge with the cloud is not available in this build of vmsctl',
    'Run with --dry-run to see the plan; registration comes with the controllers (edge registration).',
  );
}

/** The stand-in until the controllers' edge registration is wired into the commands. */
export const registerEdgeUnavailable: RegisterEdge = async () => {
  throw registrationUnavailable();
};

/**
 * The registrar `vmsctl edge provision` and `vmsctl edge join` use: the controllers' edge
 * registration (a ServiceAccount owned by the EdgeServer, a Role for its own EdgeRelease and
 * status, a TokenRequest token), with a client for `cloudKubeconfig` or, when absent, the
 * usual lookup (KUBECONFIG, then ~/.kube/config). The CA comes from the kubeconfig (inline or
 * the file it names).
 */
export const defaultRegisterEdge: RegisterEdge = async (request) => {
  const { clusterClient, clusterError } = await import('../kube-input.js');
  const { registerEdgeAgent } = await import('../../controllers/index.js');
  const target = await clusterClient(
    request.cloudKubeconfig ? { kubeconfig: request.cloudKubeconfig } : {},
    'vmsctl-edge-registration',
  );
  try {
    const creds = await registerEdgeAgent(target.client, request.edge.namespace, request.edge.name);
    let caData = creds.caData;
    const caFile = target.client.config.getCurrentCluster()?.caFile;
    if (!caData && caFile) caData = (await readFile(caFile)).toString('base64');
    if (!caData)
      throw new InputError(
        `the cloud kubeconfig ${target.source} names no CA for ${target.server}`,
        'Use a kubeconfig with certificate-authority-data (or certificate-authority) for the cloud cluster: the edge agent must verify it.',
      );
    return { server: creds.server, caData, token: creds.token };
  } catch (err) {
    throw clusterError(
      err,
      target,
      `registering EdgeServer ${request.edge.namespace}/${request.edge.name}`,
    );
  } finally {
    target.client.close();
  }
};

/** Same rule as join-edge.sh: an https URL with a host (name, IPv4 or [IPv6]) and optional port and path. */
const SERVER_URL =
  /^https:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(\/[A-Za-z0-9._~/-]*)?$/;

/** The CA as PEM text, from either form `caData` may take. */
export function caPem(caData: string): string {
  const text = caData.includes('-----BEGIN')
    ? caData
    : Buffer.from(caData.replace(/\s+/g, ''), 'base64').toString('utf8');
  return text.endsWith('\n') ? text : `${text}\n`;
}

/**
 * Checks what a registrar returned before any of it reaches the edge, so a wrong value fails
 * here with a clear message instead of as a broken agent. Messages never include the token.
 */
export function checkRegistration(r: EdgeRegistration): EdgeRegistration {
  if (typeof r?.server !== 'string' || !SERVER_URL.test(r.server))
    throw new Error(
      `edge registration returned a server that is not an https:// URL: "${String(r?.server)}"`,
    );
  if (typeof r.caData !== 'string' || !caPem(r.caData).includes('-----BEGIN CERTIFICATE-----'))
    throw new Error(
      'edge registration returned a CA that is not a PEM certificate (or its base64)',
    );
  if (typeof r.token !== 'string' || r.token.length === 0 || /\s/.test(r.token))
    throw new Error('edge registration returned an empty token or one with whitespace');
  return r;
}
