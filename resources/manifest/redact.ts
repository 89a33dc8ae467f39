/** Removes credentials from text that may be echoed in a message or log. */
export function redactCredentials(text: string): string {
  return text.replace(/(\/\/)[^/@\s]*@/g, '$1***@');
}

const SECRET_KEY =
  /^(password|passwd|pass|pwd|secret|token|apikey|api_key|api-key|privatekey|private_key|credentials?|accesskey|secretkey)$/i;
const URL_USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i;

export interface InlineSecret {
  path: (string | number)[];
  reason: string;
}

/**
 * Finds credentials written straight into a manifest: secret-looking keys with values,
 * and URLs with user info. Values are never returned, only where they are.
 */
export function findInlineSecrets(value: unknown, path: (string | number)[] = []): InlineSecret[] {
  const found: InlineSecret[] = [];
  if (typeof value === 'string') {
    if (URL_USERINFO.test(value)) found.push({ path, reason: 'URL contains credentials' });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => found.push(...findInlineSecrets(v, [...path, i])));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_KEY.test(k) && v !== null && typeof v !== 'object') {
        found.push({ path: [...path, k], reason: `inline credential "${k}"` });
      } else {
        found.push(...findInlineSecrets(v, [...path, k]));
      }
    }
  }
  return found;
}
