/** Credentials in manifest text: finding them where they do not belong, and hiding them in output. */

const SECRET_NAMES =
  'password|passwd|pass|pwd|secret|token|apikey|api_key|api-key|privatekey|private_key|credentials?|accesskey|access_token|secretkey';
const SECRET_KEY = new RegExp(`^(${SECRET_NAMES})$`, 'i');
// Query and path parameters also carry signatures and keys (signed URLs, stream keys).
const PARAM_NAMES = `${SECRET_NAMES}|auth|key|sig|signature`;
// user[:pass]@ after "scheme://", or after "turn:"-style schemes that have no "//".
const USERINFO = /^(?:[a-z][a-z0-9+.-]*:\/\/|(?:turns?|stuns?|sips?):)[^/@\s?#]+@/i;
// name=value pairs in a query, a path (many cameras take `/user=admin&password=x`) or text.
const SECRET_PARAM = new RegExp(`(^|[?&;/\\s])(${PARAM_NAMES})=([^&;#\\s/]*)`, 'gi');

/** Removes credentials from text that may be echoed in a message or log. */
export function redactCredentials(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/|\b(?:turns?|stuns?|sips?):)[^/@\s?#"]+@/gi, '$1***@')
    .replace(SECRET_PARAM, (_m, lead: string, name: string) => `${lead}${name}=***`);
}

/** Why a string holds a credential, or undefined when it does not. */
function credentialIn(text: string): string | undefined {
  if (USERINFO.test(text)) return 'URL contains credentials';
  SECRET_PARAM.lastIndex = 0;
  if (SECRET_PARAM.test(text)) return 'text contains a credential parameter';
  return undefined;
}

export interface InlineSecret {
  path: (string | number)[];
  reason: string;
}

/**
 * Finds credentials written straight into a manifest: secret-looking keys with values,
 * URLs with user info, and `password=`-style parameters. Values are never returned, only
 * where they are.
 */
export function findInlineSecrets(value: unknown, path: (string | number)[] = []): InlineSecret[] {
  const found: InlineSecret[] = [];
  // One mutable path for the whole walk, copied only where something is found: manifests
  // are scanned on every load and nearly all of them are clean.
  walkSecrets(value, [...path], found);
  return found;
}

function walkSecrets(value: unknown, path: (string | number)[], found: InlineSecret[]): void {
  if (typeof value === 'string') {
    // Cheap pre-check: every pattern needs "@" or "=".
    if (value.includes('@') || value.includes('=')) {
      const reason = credentialIn(value);
      if (reason) found.push({ path: [...path], reason });
    }
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      walkSecrets(value[i], path, found);
      path.pop();
    }
  } else if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k];
      path.push(k);
      if (SECRET_KEY.test(k) && v !== null && typeof v !== 'object') {
        found.push({ path: [...path], reason: `inline credential "${k}"` });
      } else {
        walkSecrets(v, path, found);
      }
      path.pop();
    }
  }
}
