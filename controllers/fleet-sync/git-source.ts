import { createHash } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import type { FleetSyncSpec } from '../../resources/index.js';

/** Credentials for a private repository, read from the FleetSync's secret. */
export interface GitCredentials {
  username?: string;
  password?: string;
  /** SSH private key (PEM/OpenSSH). */
  identity?: string;
  knownHosts?: string;
}

export interface FetchedRevision {
  /** Working tree of the fetched commit. */
  dir: string;
  commit: string;
  /** Flux-style revision: `main@sha1:<commit>`, `v1.2@sha1:<commit>` or `HEAD@sha1:<commit>`. */
  revision: string;
}

/** A git failure with the credentials scrubbed from git's output. */
export class GitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitError';
  }
}

/**
 * Fetches one branch or tag of a repository into a cache folder per URL and checks it out.
 * Shallow (depth 1) fetches keep big fleet histories cheap. Credentials never enter the URL
 * or argv: HTTPS uses an extra header passed through git's environment config, SSH a key file
 * readable only by us that is deleted right after.
 */
export class GitSource {
  constructor(
    private readonly cacheRoot: string,
    private readonly timeoutMs = 60_000,
  ) {}

  async fetch(
    url: string,
    ref: FleetSyncSpec['ref'],
    credentials?: GitCredentials,
  ): Promise<FetchedRevision> {
    const dir = path.join(
      this.cacheRoot,
      createHash('sha256').update(url).digest('hex').slice(0, 16),
    );
    await mkdir(dir, { recursive: true });
    const secrets: string[] = [];
    const env: Record<string, string> = {
      GIT_TERMINAL_PROMPT: '0',
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: process.env['HOME'] ?? '/tmp',
    };
    let keyFile: string | undefined;
    if (credentials?.username !== undefined && credentials.password !== undefined) {
      const basic = Buffer.from(`${credentials.username}:${credentials.password}`).toString(
        'base64',
      );
      secrets.push(credentials.password, basic);
      Object.assign(env, {
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.extraHeader',
        GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
      });
    }
    if (credentials?.identity) {
      keyFile = path.join(this.cacheRoot, `.key-${process.pid}-${Date.now()}`);
      await writeFile(
        keyFile,
        credentials.identity.endsWith('\n') ? credentials.identity : `${credentials.identity}\n`,
        { mode: 0o600 },
      );
      let sshCommand = `ssh -i ${keyFile} -o IdentitiesOnly=yes -o BatchMode=yes`;
      if (credentials.knownHosts) {
        const hostsFile = `${keyFile}.known_hosts`;
        await writeFile(hostsFile, credentials.knownHosts, { mode: 0o600 });
        sshCommand += ` -o UserKnownHostsFile=${hostsFile} -o StrictHostKeyChecking=yes`;
      }
      env['GIT_SSH_COMMAND'] = sshCommand;
    }
    // simple-git refuses environment-provided git config and SSH commands unless told; we set
    // them ourselves (never from user input) to keep credentials out of argv.
    const git = simpleGit({
      baseDir: dir,
      timeout: { block: this.timeoutMs },
      unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeSshCommand: true } as never,
    }).env(env);
    try {
      const fresh = !(await stat(path.join(dir, '.git')).catch(() => undefined));
      if (fresh) {
        await git.init();
        await git.addRemote('origin', url);
      } else {
        await git.remote(['set-url', 'origin', url]);
      }
      const refspec = ref?.tag
        ? `refs/tags/${ref.tag}`
        : ref?.branch
          ? `refs/heads/${ref.branch}`
          : 'HEAD';
      await git.raw(['fetch', '--depth', '1', '--no-tags', 'origin', refspec]);
      await git.raw(['checkout', '--force', '--detach', 'FETCH_HEAD']);
      await git.raw(['clean', '-ffdx']);
      const commit = (await git.revparse(['HEAD'])).trim();
      const name = ref?.tag ?? ref?.branch ?? 'HEAD';
      return { dir, commit, revision: `${name}@sha1:${commit}` };
    } catch (err) {
      let message = err instanceof Error ? err.message : String(err);
      for (const s of secrets) message = message.split(s).join('***');
      throw new GitError(message.trim().split('\n').slice(0, 3).join(' '));
    } finally {
      if (keyFile) {
        await rm(keyFile, { force: true });
        await rm(`${keyFile}.known_hosts`, { force: true });
      }
    }
  }
}
