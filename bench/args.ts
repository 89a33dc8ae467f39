/** The value after `--name` on a command line, or undefined. */
export function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** An integer flag of at least `min`, or `fallback` when absent; anything else is an error. */
export function intArg(args: readonly string[], name: string, fallback: number, min = 0): number {
  const raw = argValue(args, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${name} needs an integer of at least ${min}, got "${raw}"`);
  return n;
}
