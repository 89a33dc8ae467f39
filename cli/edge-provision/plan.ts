import path from 'node:path';
import type { EdgeRef, EdgeRegistrationRequest } from './registration.js';
import { EDGE_FILES } from './scripts.js';
import { shellLine } from './shell.js';

/** A field of the registration that a step feeds on stdin (never in argv, never printed). */
export type RegistrationField = 'server' | 'ca' | 'token';

interface StepBase {
  /** Stable identifier (JSON output, tests). */
  id: string;
  /** What the step does, for people. */
  title: string;
  /**
   * Runs even after an earlier step failed, provided the step with this id ran: cleanup of
   * what that step created (the staged token must not stay behind).
   */
  cleanupOf?: string;
}

/** A local command, run with execa from an argv array (never a shell string). */
export interface CommandStep extends StepBase {
  kind: 'command';
  argv: readonly string[];
  /** Fed on stdin: one field of the registration. */
  stdin?: { field: RegistrationField; describe: string };
  /** stdout is the edge's admin kubeconfig: saved (rewritten for remote use), never shown. */
  saveKubeconfig?: { path: string; server: string; name: string };
  /** The command changes nothing (it was given --dry-run), so a dry run runs it too. */
  runsInDryRun?: boolean;
}

/** Registration with the cloud through the injected `RegisterEdge`. */
export interface RegisterStep extends StepBase {
  kind: 'register';
  request: EdgeRegistrationRequest;
  description: string;
}

/** Writes the registration into files (0600) in a new private folder (0700). */
export interface WriteRegistrationStep extends StepBase {
  kind: 'write-registration';
  dir: string;
}

/** Removes a local folder. */
export interface RemoveLocalStep extends StepBase {
  kind: 'remove-local';
  path: string;
}

export type Step = CommandStep | RegisterStep | WriteRegistrationStep | RemoveLocalStep;

export interface Plan {
  summary: string;
  steps: Step[];
}

/** Where registration files go, relative to a folder (same names on the host and locally). */
export const REGISTRATION_FILES: Record<RegistrationField, string> = {
  server: 'server',
  ca: 'ca.crt',
  token: 'token',
};

export interface SshTarget {
  host: string;
  user: string;
  port: number;
  /** Private key file (absolute path); ssh's defaults and agent otherwise. */
  identity?: string;
}

export interface ProvisionOptions {
  target: SshTarget;
  edge: EdgeRef;
  nodeName: string;
  k3sVersion: string;
  /** Tag of ghcr.io/vmsctl/vmsctl the edge agent runs. */
  agentVersion: string;
  /** Air-gapped: the k3s binary and images tarball to copy (absolute paths). */
  airGap?: { k3sBinary: string; images: string; imagesExt: string };
  gpu: boolean;
  cloudKubeconfig?: string;
  /** Where the edge's kubeconfig is saved. */
  kubeconfigOut: string;
  /** Local manifests/edge folder. */
  scriptsDir: string;
}

/**
 * Staging folder on the host, relative to the login's home (ssh and scp both start there),
 * so no predictable path in /tmp is involved. Removed at the end, with the token in it.
 */
export const REMOTE_DIR = '.vmsctl/provision';

const SSH_OPTIONS = [
  // Never prompt: a provisioning run must not hang on a password or a host-key question.
  '-o',
  'BatchMode=yes',
  // Trust a host seen for the first time, refuse one whose key changed.
  '-o',
  'StrictHostKeyChecking=accept-new',
  '-o',
  'ConnectTimeout=20',
  // The k3s install runs for minutes; keep NAT and firewalls from dropping the session.
  '-o',
  'ServerAliveInterval=30',
];

function identityOptions(t: SshTarget): string[] {
  return t.identity ? ['-i', t.identity, '-o', 'IdentitiesOnly=yes'] : [];
}

/**
 * `ssh ... -- user@host 'command line'`. ssh hands the remote login shell one string, so the
 * words of a remote command are quoted here; a `{ shell }` snippet (fixed text, no input in
 * it) goes as is. "--" ends ssh's options whatever follows.
 */
export function sshArgv(t: SshTarget, remote: readonly string[] | { shell: string }): string[] {
  return [
    'ssh',
    ...SSH_OPTIONS,
    ...identityOptions(t),
    '-p',
    String(t.port),
    '--',
    `${t.user}@${t.host}`,
    'shell' in remote ? remote.shell : shellLine(remote),
  ];
}

/** `scp ... -- sources user@host:dest` (scp wants an IPv6 address in brackets). */
export function scpArgv(t: SshTarget, sources: readonly string[], dest: string): string[] {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return [
    'scp',
    ...SSH_OPTIONS,
    ...identityOptions(t),
    '-P',
    String(t.port),
    '--',
    ...sources,
    `${t.user}@${host}:${dest}`,
  ];
}

/**
 * The steps that turn a bare Linux host into a registered vmsctl edge: check access,
 * register with the cloud (first: a cloud problem stops before the host changes), stage the
 * scripts, install k3s, hand over the registration, start the agent, fetch the kubeconfig,
 * remove the staged files.
 */
export function planProvision(o: ProvisionOptions): Plan {
  const t = o.target;
  const root = t.user === 'root';
  // A non-root login runs the scripts through sudo; -n fails instead of prompting.
  const sudo = root ? [] : ['sudo', '-n'];
  const remote = (file: string) => `${REMOTE_DIR}/${file}`;
  const hostForUrl = t.host.includes(':') ? `[${t.host}]` : t.host;
  const edgeName = `${o.edge.namespace}/${o.edge.name}`;
  const steps: Step[] = [
    {
      kind: 'command',
      id: 'preflight',
      title: root ? 'Check SSH access' : `Check SSH access and passwordless sudo for ${t.user}`,
      argv: sshArgv(t, root ? ['true'] : ['sudo', '-n', 'true']),
    },
    {
      kind: 'register',
      id: 'register',
      title: `Register edge ${edgeName} with the cloud`,
      request: {
        edge: o.edge,
        nodeName: o.nodeName,
        host: t.host,
        ...(o.cloudKubeconfig ? { cloudKubeconfig: o.cloudKubeconfig } : {}),
      },
      description: `registerEdge(${edgeName}, node ${o.nodeName}${o.cloudKubeconfig ? `, cloud kubeconfig ${o.cloudKubeconfig}` : ''}): creates the edge agent's least-privilege credentials in the cloud and returns the cloud apiserver URL, its CA and the agent token (not printed)`,
    },
    {
      kind: 'command',
      id: 'stage',
      title: `Create the private staging folder ~/${REMOTE_DIR} on the host`,
      argv: sshArgv(t, {
        shell: `rm -rf ${REMOTE_DIR} && umask 077 && mkdir -p ${remote('cloud')} ${remote('airgap')}`,
      }),
    },
    {
      kind: 'command',
      id: 'copy-scripts',
      title: 'Copy the provisioning scripts and manifests',
      argv: scpArgv(
        t,
        EDGE_FILES.map((f) => path.join(o.scriptsDir, f)),
        `${REMOTE_DIR}/`,
      ),
    },
  ];
  const installArgs = [
    ...sudo,
    'bash',
    remote('install-k3s.sh'),
    '--version',
    o.k3sVersion,
    '--node-name',
    o.nodeName,
    // The certificate must name the address the kubeconfig will use (an IPv6 zone is local only).
    '--tls-san',
    t.host.replace(/%.*$/, ''),
  ];
  if (o.airGap) {
    const images = `airgap/k3s-airgap-images.${o.airGap.imagesExt}`;
    steps.push(
      {
        kind: 'command',
        id: 'copy-k3s-binary',
        title: 'Copy the k3s binary (air-gapped)',
        argv: scpArgv(t, [o.airGap.k3sBinary], remote('airgap/k3s')),
      },
      {
        kind: 'command',
        id: 'copy-images',
        title: 'Copy the k3s images tarball (air-gapped)',
        argv: scpArgv(t, [o.airGap.images], remote(images)),
      },
    );
    installArgs.push(
      '--air-gapped',
      '--k3s-binary',
      remote('airgap/k3s'),
      '--images',
      remote(images),
    );
  }
  if (o.gpu) installArgs.push('--gpu');
  steps.push({
    kind: 'command',
    id: 'install-k3s',
    title: `Install k3s ${o.k3sVersion}${o.airGap ? ' from the copied files' : ''}${o.gpu ? ' with NVIDIA GPU support' : ''}`,
    argv: sshArgv(t, installArgs),
  });
  for (const field of ['server', 'ca', 'token'] as const) {
    const what = { server: 'cloud apiserver URL', ca: 'cloud CA', token: 'agent token' }[field];
    steps.push({
      kind: 'command',
      id: `send-${field}`,
      title: `Send the ${what} to the host (on stdin${field === 'token' ? ', never in argv' : ''})`,
      argv: sshArgv(t, {
        shell: `umask 077 && cat > ${remote(`cloud/${REGISTRATION_FILES[field]}`)}`,
      }),
      stdin: {
        field,
        describe: `${what} from registration${field === 'server' ? '' : ' (not shown)'}`,
      },
    });
  }
  steps.push(
    {
      kind: 'command',
      id: 'join',
      title: `Start the edge agent (ghcr.io/vmsctl/vmsctl:${o.agentVersion}) for ${edgeName}`,
      argv: sshArgv(t, [
        ...sudo,
        'bash',
        remote('join-edge.sh'),
        '--edge',
        edgeName,
        '--server-file',
        remote(`cloud/${REGISTRATION_FILES.server}`),
        '--ca-file',
        remote(`cloud/${REGISTRATION_FILES.ca}`),
        '--token-file',
        remote(`cloud/${REGISTRATION_FILES.token}`),
        '--agent-version',
        o.agentVersion,
      ]),
    },
    {
      kind: 'command',
      id: 'fetch-kubeconfig',
      title: `Fetch the edge kubeconfig into ${o.kubeconfigOut} (0600, server https://${hostForUrl}:6443)`,
      argv: sshArgv(t, [...sudo, 'cat', '/etc/rancher/k3s/k3s.yaml']),
      saveKubeconfig: {
        path: o.kubeconfigOut,
        server: `https://${hostForUrl}:6443`,
        name: `vmsctl-edge-${o.edge.namespace}-${o.edge.name}`,
      },
    },
    {
      kind: 'command',
      id: 'cleanup',
      title: `Remove ~/${REMOTE_DIR} (scripts and the staged token) from the host`,
      argv: sshArgv(t, ['rm', '-rf', REMOTE_DIR]),
      cleanupOf: 'stage',
    },
  );
  return {
    summary: `Provision edge ${edgeName} on ${t.user}@${t.host} (port ${t.port}): k3s ${o.k3sVersion}, ${o.airGap ? 'air-gapped' : 'online'}${o.gpu ? ', NVIDIA GPU' : ''}, agent ${o.agentVersion}`,
    steps,
  };
}

export interface JoinOptions {
  edge: EdgeRef;
  nodeName: string;
  agentVersion: string;
  cloudKubeconfig: string;
  /** Kubeconfig of the edge cluster; join-edge.sh's default (k3s's) otherwise. */
  kubeconfig?: string;
  wait: boolean;
  dryRun: boolean;
  scriptsDir: string;
  /** A new private folder for the registration files (created by the run, then removed). */
  workDir: string;
}

/** `vmsctl edge join`, on the edge host: register, then run join-edge.sh locally. */
export function planJoin(o: JoinOptions): Plan {
  const edgeName = `${o.edge.namespace}/${o.edge.name}`;
  const file = (f: string) => path.join(o.workDir, f);
  const argv = [
    'bash',
    path.join(o.scriptsDir, 'join-edge.sh'),
    '--edge',
    edgeName,
    '--server-file',
    file(REGISTRATION_FILES.server),
    '--ca-file',
    file(REGISTRATION_FILES.ca),
    '--token-file',
    file(REGISTRATION_FILES.token),
    '--agent-version',
    o.agentVersion,
    ...(o.kubeconfig ? ['--kubeconfig', o.kubeconfig] : []),
    ...(o.wait ? [] : ['--no-wait']),
    ...(o.dryRun ? ['--dry-run'] : []),
  ];
  return {
    summary: `Join edge ${edgeName} (node ${o.nodeName}) to the cloud and start its agent ${o.agentVersion} on this host`,
    steps: [
      {
        kind: 'register',
        id: 'register',
        title: `Register edge ${edgeName} with the cloud`,
        request: { edge: o.edge, nodeName: o.nodeName, cloudKubeconfig: o.cloudKubeconfig },
        description: `registerEdge(${edgeName}, node ${o.nodeName}, cloud kubeconfig ${o.cloudKubeconfig}): creates the edge agent's least-privilege credentials in the cloud and returns the cloud apiserver URL, its CA and the agent token (not printed)`,
      },
      {
        kind: 'write-registration',
        id: 'write-registration',
        title: `Write the registration to ${o.workDir} (folder 0700, files 0600)`,
        dir: o.workDir,
      },
      {
        kind: 'command',
        id: 'join',
        title: `Run join-edge.sh: Namespace, bootstrap Secret, agent ghcr.io/vmsctl/vmsctl:${o.agentVersion}`,
        argv,
        runsInDryRun: o.dryRun,
      },
      {
        kind: 'remove-local',
        id: 'cleanup',
        title: `Remove ${o.workDir} (the token is in the cluster's Secret now)`,
        path: o.workDir,
        cleanupOf: 'write-registration',
      },
    ],
  };
}

/** A step as JSON: what it does and, for commands, the exact argv. */
export function stepJson(step: Step): Record<string, unknown> {
  const base = { id: step.id, kind: step.kind, title: step.title };
  switch (step.kind) {
    case 'command':
      return {
        ...base,
        command: step.argv,
        commandLine: shellLine(step.argv),
        ...(step.stdin ? { stdin: step.stdin.describe } : {}),
        ...(step.saveKubeconfig ? { savesTo: step.saveKubeconfig.path } : {}),
        ...(step.cleanupOf ? { alwaysAfter: step.cleanupOf } : {}),
      };
    case 'register':
      return { ...base, description: step.description, request: step.request };
    case 'write-registration':
      return {
        ...base,
        dir: step.dir,
        files: Object.values(REGISTRATION_FILES).map((f) => path.join(step.dir, f)),
      };
    case 'remove-local':
      return { ...base, path: step.path, alwaysAfter: step.cleanupOf };
  }
}

/** The plan as text: one numbered line per step and the exact command under it. */
export function formatPlan(plan: Plan): string[] {
  const lines: string[] = [];
  plan.steps.forEach((step, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${step.title}  [${step.id}]`);
    switch (step.kind) {
      case 'command':
        lines.push(
          `    $ ${shellLine(step.argv)}${step.stdin ? `  < ${step.stdin.describe}` : ''}${step.saveKubeconfig ? `  > ${step.saveKubeconfig.path}` : ''}`,
        );
        break;
      case 'register':
        lines.push(`    ${step.description}`);
        break;
      case 'write-registration':
        lines.push(
          `    writes ${Object.values(REGISTRATION_FILES)
            .map((f) => path.join(step.dir, f))
            .join(', ')}`,
        );
        break;
      case 'remove-local':
        lines.push(`    rm -rf ${step.path}`);
        break;
    }
    if (step.cleanupOf) lines.push(`    (runs even if a step fails, once "${step.cleanupOf}" ran)`);
  });
  return lines;
}
