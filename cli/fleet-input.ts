import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { InputError } from './input-error.js';
import { loadFleetDir, validateFleet, type ValidationResult } from '../resources/index.js';

/** The `[dir]` argument every fleet-reading command takes. */
export const dirArg = Args.directory({
  description: 'Fleet directory.',
  default: '.',
  required: false,
});

/** `--dir` for commands whose positional argument is something else. */
export const dirFlag = Flags.directory({
  char: 'd',
  description: 'Fleet directory.',
  default: '.',
});

/** Pins "today" for license checks (reproducible CI and tests). */
export const nowFlag = Flags.string({
  description: 'Date to check licenses against (YYYY-MM-DD); default today.',
  hidden: true,
  env: 'VMSCTL_NOW',
});

export { InputError };

/** Parses `--now` into a Date, rejecting malformed values. */
export function parseNow(now: string | undefined): Date | undefined {
  if (!now) return undefined;
  const d = new Date(`${now}T12:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new InputError(`invalid date "${now}"`, 'Use YYYY-MM-DD.');
  return d;
}

/** Loads and validates a fleet directory, failing clearly when it is not one. */
export async function loadValidatedFleet(dir: string, now?: string): Promise<ValidationResult> {
  const info = await stat(dir).catch(() => undefined);
  if (!info)
    throw new InputError(
      `fleet directory "${dir}" does not exist`,
      `Create one with: vmsctl init ${dir}`,
    );
  if (!info.isDirectory())
    throw new InputError(
      `"${dir}" is not a directory`,
      'Pass the folder that holds the fleet manifests.',
    );
  const loaded = await loadFleetDir(dir);
  if (loaded.resources.length === 0 && loaded.diagnostics.length === 0) {
    throw new InputError(
      `no manifests (*.yaml) found in "${dir}"`,
      `Scaffold a fleet with: vmsctl init ${dir}`,
    );
  }
  const result = validateFleet(loaded, { now: parseNow(now) });
  for (const d of result.diagnostics) d.file = displayPath(dir, d.file);
  return result;
}

/** A fleet-relative path as seen from the working directory, so editors and CI can open it. */
export function displayPath(dir: string, file: string): string {
  const relative = path.relative(process.cwd(), path.resolve(dir));
  // Outside the working directory an absolute path reads better than a chain of "../".
  const prefix = (relative.startsWith('..') ? path.resolve(dir) : relative)
    .split(path.sep)
    .join('/');
  return prefix ? path.posix.join(prefix, file) : file;
}
