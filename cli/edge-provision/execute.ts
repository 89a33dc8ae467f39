import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { InputError } from '../input-error.js';
import {
  REGISTRATION_FILES,
  type CommandStep,
  type Plan,
  type RegistrationField,
  type Step,
} from './plan.js';
import {
  caPem,
  checkRegistration,
  type EdgeRegistration,
  type RegisterEdge,
} from './registration.js';
import { shellLine } from './shell.js';

/** Where a command's stdout goes: ours, our stderr (when stdout carries JSON), or captured. */
export type OutputMode = 'stdout' | 'stderr' | 'capture';

/** Runs one argv (no shell). stderr always goes to ours, so errors are seen as they happen. */
export type Exec = (
  argv: readonly string[],
  options: { input?: string; stdout: OutputMode },
) => Promise<{ exitCode: number; stdout: string; error?: string }>;

/** The real thing: execa with argv arrays; stdin closed unless something is fed. */
export const execaExec: Exec = async (argv, { input, stdout }) => {
  const [file, ...args] = argv;
  const r = await execa(file!, args, {
    ...(input !== undefined ? { input } : { stdin: 'ignore' as const }),
    stdout: stdout === 'capture' ? 'pipe' : stdout === 'stderr' ? 2 : 'inherit',
    stderr: 'inherit',
    reject: false,
    stripFinalNewline: false,
  });
  return {
    exitCode: r.exitCode ?? 1,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    ...(r.exitCode === undefined ? { error: r.shortMessage ?? r.message } : {}),
  };
};

export interface ExecuteOptions {
  /** Injected registration with the cloud (the controllers' edge registration). */
  registerEdge: RegisterEdge;
  /** Only steps that change nothing run (commands already given --dry-run). */
  dryRun: boolean;
  /** Progress lines. */
  log: (line: string) => void;
  /** Where the output of commands goes. */
  output: OutputMode;
  exec?: Exec;
}

export type StepStatus = 'done' | 'failed' | 'not run' | 'planned';

export interface StepOutcome {
  id: string;
  title: string;
  status: StepStatus;
  error?: string;
  /** Captured stdout of a command run with output 'capture' (not for the kubeconfig). */
  output?: string;
}

export interface ExecuteResult {
  ok: boolean;
  steps: StepOutcome[];
  failure?: { step: string; message: string; next?: string };
}

/** A failed step: what happened and what to do about it. */
class StepError extends Error {
  constructor(
    message: string,
    readonly next?: string,
  ) {
    super(message);
  }
}

/** Why a command failed, in words a person can act on. */
function commandFailure(step: CommandStep, code: number, error?: string): StepError {
  const program = step.argv[0];
  if (error)
    return new StepError(
      `${step.title}: ${program} could not run (${error})`,
      program === 'ssh' || program === 'scp'
        ? 'Install the OpenSSH client (Debian: openssh-client).'
        : undefined,
    );
  if ((program === 'ssh' || program === 'scp') && code === 255)
    return new StepError(
      `${step.title}: ${program} could not connect or log in (exit 255)`,
      'Check the host, --port, --user and --identity. SSH runs in batch mode: the key must work without a passphrase prompt (use ssh-agent), and a changed host key is refused.',
    );
  if (step.id === 'preflight')
    return new StepError(
      `${step.title}: the user cannot run sudo without a password (exit ${code})`,
      'Log in as root (--user root), or allow this user passwordless sudo on the host.',
    );
  return new StepError(
    `${step.title}: \`${shellLine(step.argv).slice(0, 200)}\` exited with ${code}`,
    'See its output above. Provisioning is idempotent: fix the cause and run the same command again.',
  );
}

/** The parts of a kubeconfig that are rewritten. */
interface Kubeconfig {
  clusters?: { name?: string; cluster?: { server?: string } }[];
  users?: { name?: string }[];
  contexts?: { name?: string; context?: { cluster?: string; user?: string } }[];
  'current-context'?: string;
}

/**
 * The edge's admin kubeconfig made usable from here: k3s writes https://127.0.0.1:6443 and
 * names everything "default", which would collide with other kubeconfigs when merged.
 */
export function edgeKubeconfig(text: string, server: string, name: string): string {
  let doc: Kubeconfig | undefined;
  try {
    doc = parse(text) as Kubeconfig | undefined;
  } catch {
    doc = undefined;
  }
  if (!doc || !Array.isArray(doc.clusters) || doc.clusters.length === 0)
    throw new StepError('the host returned something that is not a kubeconfig');
  for (const c of doc.clusters) if (c.cluster) c.cluster.server = server;
  const { clusters, users = [], contexts = [] } = doc;
  if (clusters.length === 1 && users.length === 1 && contexts.length === 1) {
    clusters[0]!.name = name;
    users[0]!.name = name;
    contexts[0]!.name = name;
    contexts[0]!.context = { ...contexts[0]!.context, cluster: name, user: name };
    doc['current-context'] = name;
  }
  return stringify(doc);
}

/**
 * Runs a plan's steps in order and stops at the first failure; cleanup steps still run when
 * what they clean up was created. In a dry run only the steps that change nothing run.
 */
export async function executeSteps(plan: Plan, o: ExecuteOptions): Promise<ExecuteResult> {
  const exec = o.exec ?? execaExec;
  const outcomes: StepOutcome[] = plan.steps.map((s) => ({
    id: s.id,
    title: s.title,
    status: o.dryRun ? 'planned' : 'not run',
  }));
  let registration: EdgeRegistration | undefined;
  let failure: ExecuteResult['failure'];
  const ran = new Set<string>();

  const registrationValue = (field: RegistrationField): string => {
    if (!registration) throw new StepError('no registration: the register step has not run');
    if (field === 'ca') return caPem(registration.caData);
    return field === 'server' ? `${registration.server}\n` : registration.token;
  };

  const runStep = async (step: Step, outcome: StepOutcome): Promise<void> => {
    switch (step.kind) {
      case 'register':
        registration = checkRegistration(await o.registerEdge(step.request));
        return;
      case 'write-registration':
        // mkdir without recursive: fails if the folder exists (no following a planted link).
        await mkdir(step.dir, { mode: 0o700 });
        for (const field of ['server', 'ca', 'token'] as const)
          await writeFile(
            path.join(step.dir, REGISTRATION_FILES[field]),
            registrationValue(field),
            {
              mode: 0o600,
              flag: 'wx',
            },
          );
        return;
      case 'remove-local':
        await rm(step.path, { recursive: true, force: true });
        return;
      case 'command': {
        o.log(`  $ ${shellLine(step.argv)}${step.stdin ? `  < ${step.stdin.describe}` : ''}`);
        const capture = step.saveKubeconfig !== undefined || o.output === 'capture';
        const r = await exec(step.argv, {
          ...(step.stdin ? { input: registrationValue(step.stdin.field) } : {}),
          stdout: capture ? 'capture' : o.output,
        });
        // Captured output is kept also on failure (it says why), never the kubeconfig's.
        if (capture && !step.saveKubeconfig) outcome.output = r.stdout;
        if (r.exitCode !== 0 || r.error) throw commandFailure(step, r.exitCode, r.error);
        if (step.saveKubeconfig) {
          const { path: file, server, name } = step.saveKubeconfig;
          await writeFile(file, edgeKubeconfig(r.stdout, server, name), { mode: 0o600 });
          await chmod(file, 0o600); // an existing file keeps its mode on write
          o.log(`  saved the edge kubeconfig to ${file}`);
        }
        return;
      }
    }
  };

  for (const [i, step] of plan.steps.entries()) {
    const outcome = outcomes[i]!;
    if (o.dryRun && !(step.kind === 'command' && step.runsInDryRun)) continue;
    if (failure && !(step.cleanupOf && ran.has(step.cleanupOf))) continue;
    o.log(`[${i + 1}/${plan.steps.length}] ${step.title}`);
    ran.add(step.id);
    try {
      await runStep(step, outcome);
      outcome.status = 'done';
    } catch (err) {
      const e = err as Error & { next?: string };
      outcome.status = 'failed';
      outcome.error = e.message;
      failure ??= {
        step: step.id,
        message: e.message,
        ...(err instanceof StepError || err instanceof InputError
          ? e.next
            ? { next: e.next }
            : {}
          : {}),
      };
    }
  }
  return { ok: !failure, steps: outcomes, ...(failure ? { failure } : {}) };
}
