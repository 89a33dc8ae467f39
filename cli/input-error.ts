/** An input problem that stops a command before it produces anything: exit 2 with a next step. */
export class InputError extends Error {
  constructor(
    message: string,
    readonly next?: string,
  ) {
    super(message);
  }
}
