import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Files of manifests/edge/ that go to the edge host (lib.sh is sourced by both scripts). */
export const EDGE_FILES = [
  'lib.sh',
  'install-k3s.sh',
  'join-edge.sh',
  'edge-agent.yaml',
  'nvidia-device-plugin.yaml',
] as const;

/**
 * Where manifests/edge/ lies: above this module, from cli/ (tsx, tests) and from dist/cli/
 * (the built CLI; the scripts are not compiled, so dist/ has no copy) alike. The npm package
 * ships manifests/ too.
 */
export function edgeScriptsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'manifests', 'edge');
    if (existsSync(path.join(candidate, 'install-k3s.sh'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir)
      throw new Error(`cannot find manifests/edge/install-k3s.sh above ${import.meta.url}`);
    dir = up;
  }
}
