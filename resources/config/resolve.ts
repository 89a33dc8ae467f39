import type { Fleet } from '../fleet/fleet.js';
import { positionOf, type LoadedResource } from '../manifest/load.js';
import type { Path } from '../manifest/source-file.js';
import type { SourcePosition } from '../diagnostics.js';
import type { Camera } from '../schema/kinds.js';
import { DEFAULT_CONFIDENCE, SYSTEM_DEFAULTS, type EffectiveConfig } from './defaults.js';

export type LayerName = 'system' | 'model' | 'tenant' | 'site' | 'camera' | 'camera-model';

/** Where an effective value came from. */
export interface Origin {
  layer: LayerName;
  /** `Kind/name` of the resource that set it; absent for system defaults. */
  resource?: string;
  /** Field path inside that resource. */
  path?: Path;
  loaded?: LoadedResource;
}

export interface ResolvedConfig {
  camera: string;
  value: EffectiveConfig;
  /** Dotted key (e.g. `models.anpr.fps`) → origin of its value. */
  origins: Map<string, Origin>;
}

/** Source position of an origin, for display; computed on demand because it re-reads YAML. */
export function originPosition(o: Origin): SourcePosition | undefined {
  return o.loaded && o.path ? positionOf(o.loaded, o.path) : undefined;
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => !!v && typeof v === 'object' && !Array.isArray(v);

// structuredClone costs microseconds per call, which adds up over thousands of cameras;
// manifests hold only JSON-like data, for which these copies are the same.
/** Deep copy of plain data (objects, arrays, primitives), as structuredClone makes it. */
function clonePlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clonePlain);
  if (isPlain(v) && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Plain = {};
    for (const k of Object.keys(v)) out[k] = clonePlain(v[k]);
    return out;
  }
  return cloneLeaf(v);
}

/** A leaf value as structuredClone copies it; primitives need no copy. */
function cloneLeaf(v: unknown): unknown {
  return v !== null && (typeof v === 'object' || typeof v === 'function') ? structuredClone(v) : v;
}

/**
 * Resolves a camera's configuration: system → AIModel defaults → tenant → site → camera
 * → per-model settings on the camera, deep-merged, remembering which layer set each key.
 * The edge stack and controllers call this same function.
 */
export function resolveCameraConfig(
  fleet: Fleet,
  camera: LoadedResource<Camera>,
  options: { provenance?: boolean } = {},
): ResolvedConfig {
  const value = clonePlain(SYSTEM_DEFAULTS) as EffectiveConfig;
  value.models = {};
  const origins = new Map<string, Origin>();
  // Validation of thousands of cameras needs only values; `explain` asks for provenance.
  const track = options.provenance !== false;
  const note = track ? (key: string, origin: Origin) => origins.set(key, origin) : () => undefined;
  const setAll = (obj: Plain, prefix: string, origin: Origin) => {
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      const key = prefix ? `${prefix}.${k}` : k;
      if (isPlain(v)) setAll(v, key, origin);
      else note(key, origin);
    }
  };
  if (track) setAll(value as unknown as Plain, '', { layer: 'system' });

  const merge = (
    overlay: unknown,
    target: Plain,
    prefix: string,
    origin: Origin,
    srcPath: Path,
  ) => {
    if (!isPlain(overlay)) return;
    for (const k of Object.keys(overlay)) {
      const v = overlay[k];
      if (v === undefined) continue;
      const key = prefix ? `${prefix}.${k}` : k;
      if (isPlain(v)) {
        if (!isPlain(target[k])) target[k] = {};
        merge(v, target[k] as Plain, key, origin, track ? [...srcPath, k] : srcPath);
      } else {
        target[k] = cloneLeaf(v);
        if (track) note(key, { ...origin, path: [...srcPath, k] });
      }
    }
  };

  const spec = camera.resource.spec;
  const ns = camera.resource.metadata.namespace!;
  const enabledModels = (spec.models ?? []).filter((m) => m.enabled !== false);

  // Model defaults come from the AIModel resources the camera enables.
  for (const m of enabledModels) {
    const model = fleet.models.get(m.name);
    const req = model?.resource.spec.requirements;
    const base = `models.${m.name}`;
    value.models[m.name] = {
      priority: model?.resource.spec.priority ?? 'STANDARD',
      confidenceThreshold: model?.resource.spec.confidenceThreshold ?? DEFAULT_CONFIDENCE,
      overlapSeconds: req?.overlapSeconds ?? SYSTEM_DEFAULTS.segment.overlapSeconds,
      fps: req?.fps ?? 1,
    };
    if (model && track) {
      const at = (p: Path): Origin => ({
        layer: 'model',
        resource: `AIModel/${m.name}`,
        loaded: model,
        path: p,
      });
      note(`${base}.priority`, at(['spec', 'priority']));
      note(
        `${base}.confidenceThreshold`,
        model.resource.spec.confidenceThreshold !== undefined
          ? at(['spec', 'confidenceThreshold'])
          : { layer: 'system' },
      );
      note(`${base}.overlapSeconds`, at(['spec', 'requirements', 'overlapSeconds']));
      note(`${base}.fps`, at(['spec', 'requirements', 'fps']));
    } else if (track) {
      for (const k of Object.keys(value.models[m.name]!)) note(`${base}.${k}`, { layer: 'system' });
    }
  }
  const enabledNames = new Set(enabledModels.map((m) => m.name));
  // Layers may tune models the camera does not run; only enabled ones are part of its config.
  const layerModels = (models: unknown): Plain | undefined => {
    if (!isPlain(models)) return undefined;
    const out: Plain = {};
    for (const k of Object.keys(models)) if (enabledNames.has(k)) out[k] = models[k];
    return out;
  };

  const applyLayer = (
    layer: LayerName,
    r: LoadedResource | undefined,
    configuration: unknown,
    retention: unknown,
    retentionPath: Path,
  ) => {
    if (!r) return;
    const origin: Origin = {
      layer,
      resource: r.key,
      loaded: r,
    };
    if (isPlain(configuration)) {
      const { models, ...rest } = configuration;
      merge(rest, value as unknown as Plain, '', origin, ['spec', 'configuration']);
      merge(layerModels(models), value.models as unknown as Plain, 'models', origin, [
        'spec',
        'configuration',
        'models',
      ]);
    }
    merge(retention, value.retention as unknown as Plain, 'retention', origin, retentionPath);
  };

  const tenant = fleet.tenants.get(ns);
  applyLayer(
    'tenant',
    tenant,
    tenant?.resource.spec.configuration,
    tenant?.resource.spec.retention,
    ['spec', 'retention'],
  );
  const site = fleet.site(ns, spec.site);
  applyLayer('site', site, site?.resource.spec.configuration, undefined, []);
  applyLayer('camera', camera, spec.configuration, spec.retention, ['spec', 'retention']);
  if (spec.recording) {
    const { schedule: _schedule, ...recording } = spec.recording;
    merge(
      recording,
      value.recording as unknown as Plain,
      'recording',
      { layer: 'camera', resource: camera.key, loaded: camera },
      ['spec', 'recording'],
    );
  }
  (spec.models ?? []).forEach((m, i) => {
    if (!enabledNames.has(m.name)) return;
    const { name: _n, enabled: _e, roi: _r, tripwires: _t, ...tuning } = m;
    merge(
      tuning,
      value.models[m.name] as unknown as Plain,
      `models.${m.name}`,
      {
        layer: 'camera-model',
        resource: camera.key,
        loaded: camera,
      },
      ['spec', 'models', i],
    );
  });
  return { camera: camera.key, value, origins };
}

/** Flattens a resolved config to `[key, value, origin]` rows, optionally under one key prefix. */
export function explainRows(
  resolved: ResolvedConfig,
  prefix?: string,
): { key: string; value: unknown; origin: Origin }[] {
  const rows: { key: string; value: unknown; origin: Origin }[] = [];
  const walk = (v: unknown, key: string) => {
    if (isPlain(v)) {
      for (const [k, child] of Object.entries(v)) walk(child, key ? `${key}.${k}` : k);
    } else {
      rows.push({ key, value: v, origin: resolved.origins.get(key) ?? { layer: 'system' } });
    }
  };
  walk(resolved.value, '');
  if (!prefix) return rows;
  return rows.filter((r) => r.key === prefix || r.key.startsWith(`${prefix}.`));
}
