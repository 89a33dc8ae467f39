/** A reason a camera source URL cannot be handed to ffmpeg. */
export interface SourceUrlProblem {
  code: 'unsafe-url' | 'invalid-url';
  message: string;
}

const SCHEMES: Record<string, RegExp> = {
  rtsp: /^rtsps?:\/\//,
  http: /^https?:\/\//,
};

/**
 * Checks that a camera URL is unambiguous for ffmpeg: a known scheme for its source type,
 * no whitespace, control characters or leading "-" (which could read as extra options),
 * no `..` in file paths. `vmsctl validate` and the edge ingest run this same check.
 */
export function sourceUrlProblems(type: string, url: string): SourceUrlProblem[] {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(url) || url.startsWith('-')) {
    return [
      {
        code: 'unsafe-url',
        message:
          'url contains whitespace, control characters or starts with "-": it could be read as extra ffmpeg arguments',
      },
    ];
  }
  const problems: SourceUrlProblem[] = [];
  const scheme = SCHEMES[type];
  if (scheme && !scheme.test(url))
    problems.push({
      code: 'invalid-url',
      message: `a ${type} source url must start with ${type === 'rtsp' ? 'rtsp:// or rtsps://' : 'http:// or https://'}`,
    });
  if (type === 'file' && /^[a-z][a-z0-9+.-]*:/i.test(url) && !url.startsWith('file://'))
    problems.push({ code: 'invalid-url', message: 'a file source is a path or file:// URL' });
  if (type === 'file' && url.split('/').includes('..'))
    problems.push({ code: 'unsafe-url', message: 'a file source may not contain ".." segments' });
  if (scheme) {
    try {
      new URL(url);
    } catch {
      problems.push({ code: 'invalid-url', message: 'url is not a valid URL' });
    }
  }
  return problems;
}
