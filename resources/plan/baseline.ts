import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  parseFleetFiles,
  readFleetDir,
  type FleetFile,
  type LoadedResource,
  type LoadResult,
} from '../manifest/load.js';
import { gitFleetLocation, readGitFleet } from './git.js';

/**
 * Loads the state a plan compares against. A file whose text equals the desired file at
 * the same path holds the same resources, so those are reused instead of parsed again: a
 * pull request touching 80 of 2,000 files parses 80. Resources that moved between files
 * are still matched, because both changed files are parsed.
 */
export function loadBaselineFiles(
  files: readonly FleetFile[],
  desired: readonly LoadedResource[],
): LoadResult {
  const desiredByPath = new Map<string, { text: string; resources: LoadedResource[] }>();
  for (const r of desired) {
    const entry = desiredByPath.get(r.source.path);
    if (entry) entry.resources.push(r);
    else desiredByPath.set(r.source.path, { text: r.source.text, resources: [r] });
  }
  const reused: LoadedResource[] = [];
  const changed: FleetFile[] = [];
  for (const f of files) {
    const same = desiredByPath.get(f.path);
    if (same && same.text === f.text) reused.push(...same.resources);
    else changed.push(f);
  }
  const parsed = parseFleetFiles(changed);
  return { ...parsed, resources: [...reused, ...parsed.resources] };
}

export interface PlanBaseline {
  current: LoadResult;
  /** What was compared against, for messages: a directory, or `ref (commit)`. */
  label: string;
}

/** The fleet as it is in directory `against`, or else at Git ref `against` of `dir`'s repository. */
export async function readPlanBaseline(
  dir: string,
  against: string,
  desired: readonly LoadedResource[],
): Promise<PlanBaseline> {
  const asDir = await stat(against).catch(() => undefined);
  if (asDir?.isDirectory()) {
    const { files, diagnostics } = await readFleetDir(against);
    const current = loadBaselineFiles(files, desired);
    return {
      current: { ...current, diagnostics: [...diagnostics, ...current.diagnostics] },
      label: path.relative(process.cwd(), path.resolve(against)) || '.',
    };
  }
  const location = await gitFleetLocation(dir);
  const known = new Map(desired.map((r) => [r.source.path, r.source.text]));
  const { files, revision } = await readGitFleet(
    location.repoRoot,
    against,
    location.prefix,
    known,
  );
  return {
    current: loadBaselineFiles(files, desired),
    label: `${against} (${revision.slice(0, 12)})`,
  };
}
