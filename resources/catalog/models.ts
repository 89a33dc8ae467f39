import type { Priority } from '../schema/common.js';
import type { AIModel } from '../schema/kinds.js';
import type { AIModelSpec } from '../schema/aimodel.js';
import { API_GROUP_VERSION } from '../schema/common.js';

/**
 * The ten built-in analytics with the seed defaults from the requirements. This table is
 * the only place these numbers live: the AIModel manifests, `vmsctl init`, validation and
 * the capacity model all read it.
 */
export interface CatalogEntry {
  name: string;
  displayName: string;
  priority: Priority;
  minResolution: string;
  minBitrate: string;
  minDurationSeconds: number;
  overlapSeconds: number;
  /** Frames per second the model analyses; the normalizer decodes no more than the max. */
  fps: number;
  runtime: AIModelSpec['runtime'];
  classes: readonly string[];
  confidenceThreshold: number;
  cpu: string;
  memory: string;
  batchSize: number;
}

export const MODEL_CATALOG = [
  {
    name: 'intrusion-detection',
    displayName: 'Intrusion Detection',
    priority: 'MEDIUM',
    minResolution: '480p',
    minBitrate: '1Mbps',
    minDurationSeconds: 3,
    overlapSeconds: 1,
    fps: 5,
    runtime: 'tfjs',
    classes: ['person', 'car', 'truck', 'bicycle', 'motorcycle'],
    confidenceThreshold: 0.5,
    cpu: '500m',
    memory: '384Mi',
    batchSize: 8,
  },
  {
    name: 'advanced-motion-detection',
    displayName: 'Advanced Motion Detection',
    priority: 'STANDARD',
    minResolution: '360p',
    minBitrate: '512Kbps',
    minDurationSeconds: 2,
    overlapSeconds: 0.5,
    fps: 5,
    runtime: 'cv',
    classes: ['motion'],
    confidenceThreshold: 0.3,
    cpu: '100m',
    memory: '64Mi',
    batchSize: 1,
  },
  {
    name: 'camera-tampering',
    displayName: 'Camera Tampering',
    priority: 'HIGH',
    minResolution: '360p',
    minBitrate: '512Kbps',
    minDurationSeconds: 2,
    overlapSeconds: 0,
    fps: 1,
    runtime: 'cv',
    classes: ['covered', 'defocused', 'moved', 'frozen'],
    confidenceThreshold: 0.7,
    cpu: '100m',
    memory: '64Mi',
    batchSize: 1,
  },
  {
    name: 'fire-smoke-detection',
    displayName: 'Fire & Smoke Detection',
    priority: 'CRITICAL',
    minResolution: '720p',
    minBitrate: '2Mbps',
    minDurationSeconds: 5,
    overlapSeconds: 2,
    fps: 2,
    runtime: 'onnxruntime',
    classes: ['fire', 'smoke'],
    confidenceThreshold: 0.45,
    cpu: '1',
    memory: '512Mi',
    batchSize: 4,
  },
  {
    name: 'crowd-detection',
    displayName: 'Crowd Detection',
    priority: 'MEDIUM',
    minResolution: '720p',
    minBitrate: '2Mbps',
    minDurationSeconds: 5,
    overlapSeconds: 1,
    fps: 1,
    runtime: 'tfjs',
    classes: ['person'],
    confidenceThreshold: 0.4,
    cpu: '500m',
    memory: '384Mi',
    batchSize: 8,
  },
  {
    name: 'missing-object-detection',
    displayName: 'Missing Object Detection',
    priority: 'STANDARD',
    minResolution: '480p',
    minBitrate: '1Mbps',
    minDurationSeconds: 10,
    overlapSeconds: 2,
    fps: 0.5,
    runtime: 'tfjs',
    classes: ['backpack', 'handbag', 'suitcase', 'laptop', 'chair', 'tv'],
    confidenceThreshold: 0.5,
    cpu: '500m',
    memory: '512Mi',
    batchSize: 4,
  },
  {
    name: 'abnormal-behavior',
    displayName: 'Abnormal Behavior',
    priority: 'HIGH',
    minResolution: '720p',
    minBitrate: '2Mbps',
    minDurationSeconds: 5,
    overlapSeconds: 1,
    fps: 10,
    runtime: 'tfjs',
    classes: ['loitering', 'running', 'fighting'],
    confidenceThreshold: 0.6,
    cpu: '1',
    memory: '512Mi',
    batchSize: 8,
  },
  {
    name: 'fallen-person-detection',
    displayName: 'Fallen Detection',
    priority: 'HIGH',
    minResolution: '480p',
    minBitrate: '1Mbps',
    minDurationSeconds: 3,
    overlapSeconds: 1,
    fps: 5,
    runtime: 'tfjs',
    classes: ['fallen-person'],
    confidenceThreshold: 0.6,
    cpu: '500m',
    memory: '384Mi',
    batchSize: 8,
  },
  {
    name: 'tailgating',
    displayName: 'Tailgating',
    priority: 'MEDIUM',
    minResolution: '720p',
    minBitrate: '2Mbps',
    minDurationSeconds: 3,
    overlapSeconds: 1,
    fps: 10,
    runtime: 'tfjs',
    classes: ['person'],
    confidenceThreshold: 0.5,
    cpu: '500m',
    memory: '384Mi',
    batchSize: 8,
  },
  {
    name: 'anpr',
    displayName: 'ANPR',
    priority: 'MEDIUM',
    minResolution: '1080p',
    minBitrate: '3Mbps',
    minDurationSeconds: 2,
    overlapSeconds: 0.5,
    fps: 5,
    runtime: 'onnxruntime',
    classes: ['license-plate'],
    confidenceThreshold: 0.6,
    cpu: '1',
    memory: '768Mi',
    batchSize: 4,
  },
] as const satisfies readonly CatalogEntry[];

/** Name of a built-in model. */
export type BuiltinModel = (typeof MODEL_CATALOG)[number]['name'];

const byName = new Map<string, CatalogEntry>(MODEL_CATALOG.map((m) => [m.name, m]));

/** The catalog entry for a built-in model, if `name` is one. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  return byName.get(name);
}

/**
 * The AIModel manifest for a catalog entry. Built-in artifacts are addressed as
 * `builtin://name/version`; their sha256 is pinned by the edge model registry that ships them.
 */
export function catalogManifest(entry: CatalogEntry): AIModel {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'AIModel',
    metadata: { name: entry.name, labels: { 'vmsctl.io/catalog': 'builtin' } },
    spec: {
      displayName: entry.displayName,
      category: 'builtin',
      artifact: {
        uri: `builtin://${entry.name}/v1`,
        format:
          entry.runtime === 'onnxruntime' ? 'onnx' : entry.runtime === 'tfjs' ? 'tfjs' : 'none',
      },
      runtime: entry.runtime,
      priority: entry.priority,
      requirements: {
        minResolution: entry.minResolution,
        minBitrate: entry.minBitrate,
        minDurationSeconds: entry.minDurationSeconds,
        overlapSeconds: entry.overlapSeconds,
        fps: entry.fps,
      },
      resources: { cpu: entry.cpu, memory: entry.memory },
      batchSize: entry.batchSize,
      input: { width: 640, height: 480 },
      classes: [...entry.classes],
      confidenceThreshold: entry.confidenceThreshold,
    },
  };
}

/** AIModel manifests for all ten built-ins. */
export function catalogManifests(): AIModel[] {
  return MODEL_CATALOG.map(catalogManifest);
}
