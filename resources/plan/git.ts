/** Reads a fleet as it was at a Git revision, without touching the work tree. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { simpleGit, type SimpleGit } from 'simple-git';
import { byCodeUnit } from './diff.js';
import { isManifestPath, type FleetFile } from '../manifest/load.js';

/** Where a fleet folder sits in its Git repository. */
export interface GitFleetLocation {
  /** Absolute path of the work tree root. */
  repoRoot: string;
  /** The folder relative to the root, as `git rev-parse --show-prefix` gives it: `fleet/` or ``. */
  prefix: string;
}

interface TreeBlob {
  oid: string;
  /** Path relative to the fleet folder. */
  path: string;
}

const firstLine = (err: unknown) =>
  (err instanceof Error ? err.message : String(err)).trim().split('\n')[0] ?? '';

function openGit(dir: string): SimpleGit {
  try {
    return simpleGit(dir);
  } catch (err) {
    // simple-git refuses a missing directory at construction; say which one.
    throw new Error(`cannot open ${dir} as a Git repository: ${firstLine(err)}`);
  }
}

/** Finds the repository root and the folder's prefix inside it; throws if `dir` is not in a work tree. */
export async function gitFleetLocation(dir: string): Promise<GitFleetLocation> {
  const git = openGit(dir);
  let out: string;
  try {
    out = await git.raw(['rev-parse', '--show-toplevel', '--show-prefix']);
  } catch (err) {
    throw new Error(
      `${dir} is not inside a Git work tree (${firstLine(err)}): plan against a Git ref from a clone of the fleet repository`,
    );
  }
  const [repoRoot = '', prefix = ''] = out.split('\n');
  return { repoRoot, prefix };
}

async function resolveCommit(git: SimpleGit, repoDir: string, ref: string): Promise<string> {
  let why = '';
  try {
    // --end-of-options keeps a ref such as `--output=x` from being read as an option.
    const sha = (await git.revparse(['--verify', '--end-of-options', `${ref}^{commit}`])).trim();
    if (/^[0-9a-f]{40,64}$/.test(sha)) return sha;
  } catch (err) {
    why = firstLine(err);
  }
  // A missing ref and a folder that is no repository (or one git refuses, such as one
  // with dubious ownership) need different fixes, so tell them apart.
  if (!(await git.checkIsRepo().catch(() => false))) {
    throw new Error(
      `${repoDir} is not a Git repository${why ? ` (${why})` : ''}: clone the fleet repository first`,
    );
  }
  throw new Error(
    `git ref "${ref}" does not exist in ${repoDir}: check the branch, tag or commit name (git fetch may be needed)`,
  );
}

/** `fleet/`, `./fleet`, `fleet` → `fleet`; the root → ``. */
function normalizeSubdir(subdir: string): string {
  return subdir
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '')
    .replace(/^\.$/, '');
}

async function listBlobs(git: SimpleGit, revision: string, subdir: string): Promise<TreeBlob[]> {
  // --full-tree makes paths relative to the root whatever folder simple-git runs in.
  const args = ['ls-tree', '-r', '-z', '--full-tree', revision];
  if (subdir) args.push('--', `:(literal)${subdir}`);
  const out = await git.raw(args);
  const strip = subdir ? `${subdir}/` : '';
  const blobs: TreeBlob[] = [];
  for (const record of out.split('\0')) {
    const tab = record.indexOf('\t');
    if (tab < 0) continue;
    const [mode, type, oid] = record.slice(0, tab).split(' ');
    const full = record.slice(tab + 1);
    // Symlinks are blobs too, but their content is a target path, not YAML.
    if (type !== 'blob' || mode === '120000' || !oid || !full.startsWith(strip)) continue;
    const rel = full.slice(strip.length);
    if (isManifestPath(rel)) blobs.push({ oid, path: rel });
  }
  return blobs.sort((a, b) => byCodeUnit(a.path, b.path));
}

/** Splits `git cat-file --batch` output by byte length: contents may hold any bytes. */
function parseBatch(out: Buffer, oids: readonly string[]): string[] {
  let offset = 0;
  return oids.map((oid) => {
    const eol = out.indexOf(0x0a, offset);
    const header = eol < 0 ? '' : out.toString('utf8', offset, eol);
    const [gotOid, type, sizeText] = header.split(' ');
    if (gotOid !== oid || type !== 'blob' || sizeText === undefined) {
      throw new Error(`git cat-file: expected blob ${oid}, got "${header || 'end of output'}"`);
    }
    const start = eol + 1;
    const end = start + Number(sizeText);
    if (end >= out.length || out[end] !== 0x0a) {
      throw new Error(`git cat-file: output for blob ${oid} is truncated`);
    }
    offset = end + 1;
    return out.toString('utf8', start, end);
  });
}

/** Reads many blobs through one `git cat-file --batch` process instead of one process per file. */
function readBlobs(repoDir: string, oids: readonly string[]): Promise<string[]> {
  if (oids.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['cat-file', '--batch'], { cwd: repoDir });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // If git dies early, writing to its stdin fails; 'close' then reports why.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => reject(new Error(`cannot run git cat-file: ${e.message}`)));
    child.on('close', (code) => {
      if (code !== 0) {
        const why = Buffer.concat(err).toString('utf8').trim() || `exit code ${code}`;
        reject(new Error(`git cat-file failed in ${repoDir}: ${why}`));
        return;
      }
      try {
        resolve(parseBatch(Buffer.concat(out), oids));
      } catch (e) {
        reject(e);
      }
    });
    child.stdin.end(`${oids.join('\n')}\n`);
  });
}

/**
 * Git's object id of a file's content (SHA-1, or SHA-256 for repositories in that format),
 * so a file already in hand need not be read from Git again.
 */
export function gitBlobId(text: string, oidLength: number): string {
  const body = Buffer.from(text, 'utf8');
  const hash = createHash(oidLength === 64 ? 'sha256' : 'sha1');
  hash.update(`blob ${body.length}\0`);
  hash.update(body);
  return hash.digest('hex');
}

/**
 * Reads the fleet files under `subdir` (relative to the repository root) as they were at `ref`.
 * Paths are relative to `subdir`, as readFleetDir gives them for that folder. Files in
 * `known` (path → text) whose content Git has unchanged are returned from there unread.
 */
export async function readGitFleet(
  repoDir: string,
  ref: string,
  subdir = '',
  known: ReadonlyMap<string, string> = new Map(),
): Promise<{ files: FleetFile[]; revision: string }> {
  const git = openGit(repoDir);
  const revision = await resolveCommit(git, repoDir, ref);
  const blobs = await listBlobs(git, revision, normalizeSubdir(subdir));
  const reused = blobs.map((b) => {
    const text = known.get(b.path);
    return text !== undefined && gitBlobId(text, b.oid.length) === b.oid ? text : undefined;
  });
  const toRead = blobs.filter((_, i) => reused[i] === undefined);
  const texts = await readBlobs(
    repoDir,
    toRead.map((b) => b.oid),
  );
  const read = new Map(toRead.map((b, i) => [b.path, texts[i] ?? '']));
  const files = blobs.map((b, i) => ({ path: b.path, text: reused[i] ?? read.get(b.path) ?? '' }));
  return { files, revision };
}
