import { sourceUrlProblems, type CameraSpec } from '../../resources/index.js';

/** Credentials a secret reference resolved to. */
export type Credentials =
  { kind: 'basic'; username: string; password: string } | { kind: 'token'; token: string };

/** Looks up the credentials a camera's `auth.secretRef` names. */
export interface SecretResolver {
  resolve(namespace: string, ref: { name: string; key?: string }): Promise<Credentials>;
}

/** A camera source that ffmpeg cannot or must not open. */
export class SourceError extends Error {
  constructor(
    readonly code: 'unsafe-url' | 'invalid-url' | 'unsupported-source' | 'unsupported-auth',
    message: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** Everything needed to put one camera stream on an ffmpeg command line. */
export interface SourceInput {
  /** The URL ffmpeg opens; may hold credentials, so never log it: log `display`. */
  url: string;
  /** The URL without credentials, for logs, health and errors. */
  display: string;
  /** Options that go before `-i`. */
  options: string[];
  /** Strings to scrub from anything ffmpeg prints (credentials and their URL-encoded forms). */
  secrets: string[];
  kind: 'rtsp' | 'http' | 'file';
}

// The protocols each kind of source may use. ffmpeg follows redirects and playlist entries
// into other protocols (concat:, subfile:, file:, data:...); this list stops a camera or a
// crafted URL from making ffmpeg read local files or open arbitrary sockets.
const PROTOCOLS: Record<SourceInput['kind'], string> = {
  rtsp: 'rtsp,rtsps,rtp,srtp,udp,tcp,tls',
  http: 'http,https,tcp,tls',
  file: 'file',
};

/** Joins a stream's `path` (e.g. `/Streaming/Channels/102` or `?subtype=1`) onto the base URL. */
export function streamUrl(base: string, path: string | undefined): string {
  if (!path) return base;
  if (path.startsWith('?') || path.startsWith('&')) return base + path;
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/**
 * Builds the ffmpeg input of one camera stream. The URL is checked with the same rule as
 * `vmsctl validate` and again after the stream path is added; credentials are inserted
 * with the URL API (which percent-encodes them), so no value can become an argument.
 */
export function sourceInput(
  spec: CameraSpec,
  stream: 'main' | 'sub',
  credentials: Credentials | undefined,
  options: { ioTimeoutSeconds?: number; allowFiles?: boolean } = {},
): SourceInput {
  const src = spec.source;
  if (src.type !== 'rtsp' && src.type !== 'http' && src.type !== 'file')
    throw new SourceError(
      'unsupported-source',
      `source type "${src.type}" is read through its vendor adapter, not by URL`,
    );
  if (!src.url) throw new SourceError('invalid-url', `source type "${src.type}" needs url`);
  const path = (stream === 'sub' ? spec.streams.sub : spec.streams.main)?.path;
  const joined = streamUrl(src.url, path);
  for (const candidate of [src.url, joined]) {
    const problem = sourceUrlProblems(src.type, candidate)[0];
    if (problem) throw new SourceError(problem.code, problem.message);
  }
  if (src.type === 'file') {
    if (!options.allowFiles)
      throw new SourceError('unsupported-source', 'file sources are disabled on this edge');
    if (credentials)
      throw new SourceError('unsupported-auth', 'a file source does not take credentials');
    const filePath = joined.startsWith('file://') ? new URL(joined).pathname : joined;
    return {
      url: `file:${filePath}`,
      display: filePath,
      options: ['-protocol_whitelist', PROTOCOLS.file],
      secrets: [],
      kind: 'file',
    };
  }
  const parsed = new URL(joined);
  if (parsed.username || parsed.password)
    throw new SourceError(
      'unsafe-url',
      'the url carries user info: credentials come from spec.auth.secretRef only',
    );
  const display = parsed.toString();
  const timeoutUs = String(Math.round((options.ioTimeoutSeconds ?? 10) * 1e6));
  const opts: string[] = ['-protocol_whitelist', PROTOCOLS[src.type]];
  const secrets: string[] = [];
  if (src.type === 'rtsp') {
    opts.push('-rtsp_transport', src.transport ?? 'tcp', '-timeout', timeoutUs);
  } else {
    opts.push('-rw_timeout', timeoutUs, '-reconnect', '0');
  }
  if (credentials?.kind === 'basic') {
    parsed.username = credentials.username;
    parsed.password = credentials.password;
    secrets.push(credentials.password, parsed.password, `${parsed.username}:${parsed.password}`);
  } else if (credentials?.kind === 'token') {
    if (src.type !== 'http')
      throw new SourceError('unsupported-auth', 'token auth works with http sources only');
    if (/[\r\n]/.test(credentials.token))
      throw new SourceError('unsupported-auth', 'the token contains a line break');
    opts.push('-headers', `Authorization: Bearer ${credentials.token}\r\n`);
    secrets.push(credentials.token);
  }
  return {
    url: parsed.toString(),
    display,
    options: opts,
    secrets: secrets.filter((s) => s.length >= 3),
    kind: src.type,
  };
}

/** Replaces every secret in a line of ffmpeg output with `***`. */
export function scrub(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  // A URL with user info that slipped through (e.g. after a redirect) is cut back too.
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@');
}
