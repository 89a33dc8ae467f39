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
  // One mutable path for the whole walk, copied only where something is found: manifests
  // are scanned on every load and nearly all of them are clean.
  walkSecrets(value, [...path], found);
  return found;
}

function walkSecrets(value: unknown, path: (string | number)[], found: InlineSecret[]): void {
  if (typeof value === 'string') {
    if (URL_USERINFO.test(value))
      found.push({ path: [...path], reason: 'URL contains credentials' });
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
