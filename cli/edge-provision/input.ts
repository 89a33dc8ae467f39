import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { Name } from '../../resources/index.js';
import { InputError } from '../input-error.js';
import type { EdgeRef } from './registration.js';

/** The k3s release pinned when none is asked for. */
export const DEFAULT_K3S_VERSION = 'v1.31.4+k3s1';

const LABEL = new RegExp(Name.pattern!);
const K3S_VERSION = /^v\d+\.\d+\.\d+\+k3s\d+$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Image tarball extensions k3s imports from its images folder. */
const IMAGES_EXT = /\.(tar|tar\.zst|tar\.gz|tar\.lz4|tar\.bz2)$/;

/** The first character of `value` that is not in `allowed`, shown readably. */
function offending(value: string, allowed: RegExp): string | undefined {
  for (const ch of value) {
    if (!allowed.test(ch)) return /\s/.test(ch) ? 'a space' : `"${ch}"`;
  }
  return undefined;
}

/**
 * An SSH host: a host name, an IPv4 or an IPv6 address (brackets allowed). Refuses anything
 * ssh could read as an option (a leading "-") or a shell could interpret, since the host also
 * ends up in the remote kubeconfig and the k3s certificate.
 */
export function parseHost(raw: string): string {
  const next = 'Give a host name or an IP address, e.g. edge-1.example.com, 10.0.0.5 or fd00::5.';
  const host = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (!host) throw new InputError('the host is empty', next);
  if (host.startsWith('-'))
    throw new InputError(`host "${raw}" starts with "-", which ssh would read as an option`, next);
  const bad = offending(host, /[A-Za-z0-9.:%-]/);
  if (bad)
    throw new InputError(`host "${raw}" contains ${bad}: not a host name or IP address`, next);
  if (isIP(host)) return host;
  if (/^[\d.]+$/.test(host))
    throw new InputError(`host "${raw}" is not a valid IPv4 address`, next);
  if (host.length > 253 || !host.split('.').every((l) => HOST_LABEL.test(l)))
    throw new InputError(`host "${raw}" is not a valid host name`, next);
  return host;
}

/** An SSH user name (POSIX-style), never something ssh or a shell would interpret. */
export function parseUser(raw: string): string {
  const next = 'Give a user name such as root or ubuntu (letters, digits, ".", "_", "-").';
  if (!raw) throw new InputError('--user is empty', next);
  if (raw.startsWith('-'))
    throw new InputError(
      `--user "${raw}" starts with "-", which ssh would read as an option`,
      next,
    );
  const bad = offending(raw, /[A-Za-z0-9._-]/);
  if (bad) throw new InputError(`--user "${raw}" contains ${bad}`, next);
  if (!/^[A-Za-z_]/.test(raw) || raw.length > 32)
    throw new InputError(`--user "${raw}" is not a valid user name`, next);
  return raw;
}

/** A TCP port, 1-65535. */
export function parsePort(raw: string): number {
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 1 && port <= 65535))
    throw new InputError(`--port "${raw}" is not a port number`, 'Use 1-65535, e.g. --port 22.');
  return port;
}

/** `NAMESPACE/NAME` of an EdgeServer. */
export function parseEdge(raw: string): EdgeRef {
  const [namespace, name, ...rest] = raw.split('/');
  if (rest.length || !namespace || !name || !LABEL.test(namespace) || !LABEL.test(name))
    throw new InputError(
      `--edge "${raw}" is not NAMESPACE/NAME of an EdgeServer`,
      'e.g. --edge acme/hq-edge-1 (the tenant namespace and the EdgeServer name, lower-case).',
    );
  return { namespace, name };
}

/** A k3s release name such as v1.31.4+k3s1. */
export function parseK3sVersion(raw: string): string {
  if (!K3S_VERSION.test(raw))
    throw new InputError(
      `--k3s-version "${raw}" is not a k3s release`,
      `Use the name of a k3s release, e.g. --k3s-version ${DEFAULT_K3S_VERSION}.`,
    );
  return raw;
}

/** An image tag for the edge agent (ghcr.io/vmsctl/vmsctl:TAG). */
export function parseImageTag(raw: string, flag: string): string {
  if (!IMAGE_TAG.test(raw))
    throw new InputError(`${flag} "${raw}" is not an image tag`, `e.g. ${flag} 0.1.0`);
  return raw;
}

/** A Kubernetes node name (DNS subdomain). */
export function parseNodeName(raw: string): string {
  if (raw.length > 253 || !raw.split('.').every((l) => LABEL.test(l)))
    throw new InputError(
      `--node-name "${raw}" is not a valid node name`,
      'Use lower-case letters, digits, "-" and ".".',
    );
  return raw;
}

/** An existing regular file, as an absolute path (also keeps scp from reading "a:b" as a host). */
export async function existingFile(raw: string, flag: string, next: string): Promise<string> {
  const file = path.resolve(raw);
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new InputError(`${flag} ${raw}: no such file`, next);
  if (!info.isFile()) throw new InputError(`${flag} ${raw} is not a file`, next);
  return file;
}

/** The air-gap inputs: both files or neither, and only with --air-gapped. */
export async function parseAirGap(flags: {
  airGapped: boolean;
  k3sBinary?: string;
  images?: string;
}): Promise<{ k3sBinary: string; images: string } | undefined> {
  if (!flags.airGapped) {
    if (flags.k3sBinary || flags.images)
      throw new InputError(
        '--k3s-binary and --images are for air-gapped installs',
        'Add --air-gapped, or drop them to download k3s on the host.',
      );
    return undefined;
  }
  if (!flags.k3sBinary || !flags.images)
    throw new InputError(
      '--air-gapped needs --k3s-binary FILE and --images FILE',
      'Download k3s and k3s-airgap-images-<arch>.tar.zst from the k3s release (https://github.com/k3s-io/k3s/releases) on a connected machine and pass both.',
    );
  const k3sBinary = await existingFile(
    flags.k3sBinary,
    '--k3s-binary',
    'Pass the k3s binary of the release (the "k3s" asset).',
  );
  const images = await existingFile(
    flags.images,
    '--images',
    'Pass the k3s-airgap-images-<arch>.tar.zst asset of the same release.',
  );
  if (!IMAGES_EXT.test(images))
    throw new InputError(
      `--images ${flags.images} is not an images tarball`,
      'k3s imports .tar, .tar.zst, .tar.gz, .tar.lz4 or .tar.bz2, e.g. k3s-airgap-images-amd64.tar.zst.',
    );
  return { k3sBinary, images };
}

/** The tarball extension of an images file (the install script keeps it: k3s needs it). */
export function imagesExtension(file: string): string {
  return IMAGES_EXT.exec(file)![1]!;
}
