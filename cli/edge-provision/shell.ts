/** Characters a POSIX shell reads literally, so a word made only of them needs no quotes. */
const PLAIN = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * One argument quoted for a POSIX shell: as is when that is unambiguous, else in single
 * quotes (a `'` inside becomes `'\''`). Used for the command line ssh hands to the remote
 * shell (ssh joins its arguments with spaces, so each must be quoted) and to print commands
 * a user can paste.
 */
export function shellQuote(arg: string): string {
  if (PLAIN.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A command line from argv, every word quoted as needed. */
export function shellLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
