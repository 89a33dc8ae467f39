import { Command, Flags } from '@oclif/core';
import { blocksToText, type Block } from './render/blocks.js';
import { InputError } from './input-error.js';

const MAX_INK_LINES = 400;

function lineCount(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1 && n <= MAX_INK_LINES; i = text.indexOf('\n', i + 1))
    n++;
  return n;
}

/** Exit codes shared by every command (plan follows `flux diff`). */
export const EXIT = { ok: 0, findings: 1, error: 2 } as const;

/**
 * Base of all vmsctl commands: `--json` on read commands, ink on a terminal, plain text
 * when piped, and exit codes set without cutting output short.
 */
export abstract class VmsCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print machine-readable JSON.', default: false }),
  };

  /** Whether to draw with ink (a terminal, not JSON, and colors not disabled). */
  protected interactive(): boolean {
    // A pseudo-terminal without a size (some CI runners) would get one character per line.
    return (
      Boolean(process.stdout.columns) &&
      Boolean(process.stdout.isTTY) &&
      !process.env.CI &&
      process.env.TERM !== 'dumb'
    );
  }

  /** Prints one result in the form the caller asked for: JSON, ink, or plain text. */
  protected async emit(opts: { json: boolean; data: unknown; blocks: () => Block[] }) {
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(opts.data, null, 2)}\n`);
      return;
    }
    const blocks = opts.blocks();
    const text = blocksToText(blocks);
    // ink lays out every line; beyond a screenful or two plain text is as readable and
    // orders of magnitude faster (a 6,000-camera table). It is loaded only when used:
    // importing it costs about half a second.
    if (this.interactive() && lineCount(text) <= MAX_INK_LINES) {
      const { renderBlocks } = await import('./render/ink.js');
      await renderBlocks(blocks);
    } else if (text) {
      process.stdout.write(`${text}\n`);
    }
  }

  /** Sets the process exit code; output already written is kept. */
  protected setExit(code: number): void {
    process.exitCode = code;
  }

  /**
   * Input problems end with exit 2 and a next step; so does anything unexpected (the stack
   * is printed with DEBUG=vmsctl), so scripts can tell "found problems" (1) from "failed" (2).
   */
  protected override async catch(err: Error & { oclif?: unknown }): Promise<never> {
    if (err instanceof InputError) this.fail(err.message, (err as InputError).next);
    if (err.oclif) throw err;
    if (process.env.DEBUG?.includes('vmsctl')) process.stderr.write(`${err.stack}\n`);
    this.fail(err.message);
  }

  /** Stops with a message that says what is wrong and what to do next. */
  protected fail(message: string, next?: string): never {
    this.error(message, { exit: EXIT.error, suggestions: next ? [next] : undefined });
  }
}
