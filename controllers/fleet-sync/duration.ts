const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration such as `30s`, `5m` or `1h30m` into milliseconds. */
export function parseDuration(text: string): number {
  let total = 0;
  let matched = '';
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h)/g)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched += m[0];
  }
  if (!matched || matched !== text)
    throw new Error(`invalid duration "${text}" (use e.g. 30s, 5m, 1h30m)`);
  return total;
}
