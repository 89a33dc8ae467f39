import type { Diagnostic, Severity } from '../diagnostics.js';
import { fieldPath, sortDiagnostics } from '../diagnostics.js';
import { resolveCameraConfig, type ResolvedConfig } from '../config/resolve.js';
import { computeCapacity, utilizationLevel, type CapacityReport } from '../capacity/report.js';
import { Fleet } from '../fleet/fleet.js';
import { positionOf, type LoadedResource, type LoadResult } from '../manifest/load.js';
import type { Path } from '../manifest/source-file.js';
import { parseBitrate, parseResolution, parseResolutionClass } from '../quantities.js';
import type { Camera } from '../schema/kinds.js';
import { sourceUrlProblems } from './source-url.js';

export interface ValidateOptions {
  /** Clock for license checks; tests pin it. */
  now?: Date;
  /** Days before expiry that a license warning starts. */
  licenseWarningDays?: number;
}

export interface ValidationResult {
  fleet: Fleet;
  diagnostics: Diagnostic[];
  /** Identities of documents that failed to load (see LoadResult.failed). */
  failed: ReadonlySet<string>;
  /** Effective configuration per camera key; values only (resolve again for provenance). */
  configs: Map<string, ResolvedConfig>;
  capacity: CapacityReport;
}

const DAY_MS = 86_400_000;

// Building an Intl.DateTimeFormat is slow and a fleet repeats a few dozen zones over hundreds
// of sites; whether a zone name is valid does not change while the process runs.
const timeZoneValidity = new Map<string, boolean>();
function isTimeZone(name: string): boolean {
  let valid = timeZoneValidity.get(name);
  if (valid === undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: name });
      valid = true;
    } catch {
      valid = false;
    }
    timeZoneValidity.set(name, valid);
  }
  return valid;
}

/** Cross-file checks on a loaded fleet: references, names, license, compatibility, capacity. */
export function validateFleet(loaded: LoadResult, options: ValidateOptions = {}): ValidationResult {
  const fleet = new Fleet(loaded.resources);
  const out: Diagnostic[] = [...loaded.diagnostics];
  const report = (
    r: LoadedResource,
    path: Path,
    severity: Severity,
    code: string,
    message: string,
  ) => {
    out.push({
      ...positionOf(r, path),
      severity,
      code,
      kind: r.resource.kind,
      name: r.resource.metadata.name,
      field: fieldPath(path),
      message,
    });
  };
  const withErrors = new Set<string>();
  const error: Report = (r, path, code, message, target) => {
    // A reference to a document that failed to load was already reported at that document.
    if (target && loaded.failed.has(target)) return;
    withErrors.add(r.key);
    report(r, path, 'error', code, message);
  };
  const warn: Report = (r, path, code, message) => report(r, path, 'warning', code, message);

  for (const { duplicate, first } of fleet.duplicates) {
    const at = positionOf(first, ['metadata', 'name']);
    error(
      duplicate,
      ['metadata', 'name'],
      'duplicate-name',
      `${duplicate.key} is defined twice; first at ${at.file}:${at.line}`,
    );
  }

  const tenantOf = (r: LoadedResource) => {
    const ns = r.resource.metadata.namespace!;
    const t = fleet.tenants.get(ns);
    if (!t)
      error(
        r,
        ['metadata', 'namespace'],
        'dangling-reference',
        `namespace "${ns}" names no Tenant: create Tenant "${ns}" or fix the namespace`,
        `Tenant/${ns}`,
      );
    return t;
  };

  for (const s of fleet.sites.values()) {
    tenantOf(s);
    if (!isTimeZone(s.resource.spec.timezone)) {
      error(
        s,
        ['spec', 'timezone'],
        'invalid-timezone',
        `unknown time zone "${s.resource.spec.timezone}": use an IANA name such as Europe/Berlin`,
      );
    }
    const ddns = s.resource.spec.network?.ddns;
    if (ddns?.provider === 'custom' && !ddns.updateUrl) {
      error(
        s,
        ['spec', 'network', 'ddns'],
        'missing-field',
        'DDNS provider "custom" needs updateUrl',
      );
    }
  }

  for (const e of fleet.edgeServers.values()) {
    tenantOf(e);
    const ns = e.resource.metadata.namespace!;
    if (!fleet.site(ns, e.resource.spec.site)) {
      error(
        e,
        ['spec', 'site'],
        'dangling-reference',
        `site "${e.resource.spec.site}" does not exist in namespace "${ns}"`,
        `Site/${ns}/${e.resource.spec.site}`,
      );
    }
  }

  for (const m of fleet.models.values()) {
    const spec = m.resource.spec;
    if (spec.category === 'customer') {
      if (!spec.tenant)
        error(m, ['spec'], 'missing-field', 'a customer model needs spec.tenant (its owner)');
      else if (!fleet.tenants.has(spec.tenant))
        error(
          m,
          ['spec', 'tenant'],
          'dangling-reference',
          `tenant "${spec.tenant}" does not exist`,
          `Tenant/${spec.tenant}`,
        );
      if (!spec.artifact.sha256)
        error(
          m,
          ['spec', 'artifact'],
          'missing-field',
          'a customer model needs artifact.sha256 so edges can verify the file',
        );
    }
    if (spec.runtime !== 'cv' && spec.artifact.format === 'none') {
      error(
        m,
        ['spec', 'artifact', 'format'],
        'invalid-value',
        `runtime ${spec.runtime} needs a model file: format onnx or tfjs`,
      );
    }
  }

  const now = options.now ?? new Date();
  const warnDays = options.licenseWarningDays ?? 30;
  // Model tuning at any layer must name a model: a typo would otherwise be ignored silently.
  const checkTunedModels = (
    r: LoadedResource,
    configuration: { models?: Record<string, unknown> } | undefined,
  ) => {
    for (const name of Object.keys(configuration?.models ?? {})) {
      if (!fleet.models.has(name)) {
        error(
          r,
          ['spec', 'configuration', 'models', name],
          'dangling-reference',
          `configuration for model "${name}", which has no AIModel`,
          `AIModel/${name}`,
        );
      }
    }
  };
  for (const r of fleet.tenants.values()) checkTunedModels(r, r.resource.spec.configuration);
  for (const r of fleet.sites.values()) checkTunedModels(r, r.resource.spec.configuration);
  for (const r of fleet.cameras.values()) checkTunedModels(r, r.resource.spec.configuration);

  for (const t of fleet.tenants.values()) {
    (t.resource.spec.notifications?.channels ?? []).forEach((ch, i) => {
      if (ch.type !== 'slack' && ch.type !== 'teams' && ch.type !== 'webhook') return;
      // For these channels the URL itself is the credential.
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ch.target)) {
        error(
          t,
          ['spec', 'notifications', 'channels', i, 'target'],
          'inline-secret',
          `a ${ch.type} URL is a credential: put it in a Secret, reference it with secretRef, and use target for a label such as #security`,
        );
      } else if (!ch.secretRef) {
        error(
          t,
          ['spec', 'notifications', 'channels', i],
          'missing-field',
          `a ${ch.type} channel needs secretRef: the Secret that holds its URL`,
        );
      }
    });
  }

  for (const t of fleet.tenants.values()) {
    const lic = t.resource.spec.license;
    const from = Date.parse(`${lic.validFrom}T00:00:00Z`);
    const until = Date.parse(`${lic.validUntil}T23:59:59Z`);
    if (from > until)
      error(
        t,
        ['spec', 'license', 'validUntil'],
        'invalid-license',
        `license ends (${lic.validUntil}) before it starts (${lic.validFrom})`,
      );
    if (until < now.getTime()) {
      error(
        t,
        ['spec', 'license', 'validUntil'],
        'license-expired',
        `license expired on ${lic.validUntil}: renew it before deploying`,
      );
    } else if (until - now.getTime() < warnDays * DAY_MS) {
      const days = Math.ceil((until - now.getTime()) / DAY_MS);
      warn(
        t,
        ['spec', 'license', 'validUntil'],
        'license-expiring',
        `license expires in ${days} day(s), on ${lic.validUntil}`,
      );
    }
    if (from > now.getTime())
      warn(
        t,
        ['spec', 'license', 'validFrom'],
        'license-not-started',
        `license starts on ${lic.validFrom}; cameras will not run before`,
      );
    lic.models.forEach((name, i) => {
      if (!fleet.models.has(name))
        error(
          t,
          ['spec', 'license', 'models', i],
          'dangling-reference',
          `licensed model "${name}" has no AIModel`,
          `AIModel/${name}`,
        );
    });
  }

  for (const [ns, cameras] of fleet.camerasByTenant()) {
    const t = fleet.tenants.get(ns);
    if (!t) continue;
    const enabled = cameras.filter((c) => c.resource.spec.enabled !== false);
    const limit = t.resource.spec.license.cameraLimit;
    if (enabled.length > limit) {
      error(
        t,
        ['spec', 'license', 'cameraLimit'],
        'license-exceeded',
        `${enabled.length} cameras enabled, license allows ${limit}: raise the limit or disable ${enabled.length - limit}`,
      );
    }
  }

  const configs = new Map<string, ResolvedConfig>();
  for (const c of fleet.cameras.values()) {
    checkCamera(fleet, c, error);
    configs.set(c.key, resolveCameraConfig(fleet, c, { provenance: false }));
    checkCompatibility(fleet, c, configs.get(c.key)!, error, warn);
  }

  const capacity = computeCapacity(fleet, (c) => configs.get(c.key)!.value);
  // With documents missing, loads are computed on a partial fleet; report those errors first.
  const capacityKnown = loaded.failed.size === 0;
  for (const u of capacityKnown ? capacity.unplaced : []) {
    const cam = fleet.cameras.get(u.camera.replace(/^Camera\//, ''));
    if (cam && !withErrors.has(cam.key))
      error(
        cam,
        cam.resource.spec.edgeServer ? ['spec', 'edgeServer'] : ['spec', 'site'],
        'no-capacity',
        u.reason,
      );
  }
  for (const l of capacityKnown ? capacity.edges : []) {
    const edge = fleet.edgeServers.get(`${l.namespace}/${l.name}`)!;
    for (const [dim, label] of [
      ['cpu', 'CPU'],
      ['memory', 'memory'],
      ['storage', 'storage'],
      ['gpu', 'GPU'],
    ] as const) {
      const level = utilizationLevel(l.utilization[dim]);
      if (level === 'ok') continue;
      const pct = Number.isFinite(l.utilization[dim])
        ? `${Math.round(l.utilization[dim] * 100)}%`
        : 'no capacity';
      const path =
        dim === 'cpu'
          ? ['spec', 'hardware', 'cpuCores']
          : dim === 'gpu'
            ? ['spec', 'hardware']
            : ['spec', 'hardware', dim];
      const msg = `${label} load ${pct} of usable capacity with ${l.cameras.length} camera(s)${l.pinnedCameras.length ? ` (${l.pinnedCameras.length} pinned)` : ''}`;
      if (level === 'over')
        error(edge, path, 'edge-overloaded', `${msg}: add hardware or move cameras`);
      else warn(edge, path, 'edge-near-capacity', msg);
    }
  }

  return { fleet, diagnostics: sortDiagnostics(out), failed: loaded.failed, configs, capacity };
}

/** Reports a finding; `target` is the identity a dangling reference points at. */
type Report = (
  r: LoadedResource,
  path: Path,
  code: string,
  message: string,
  target?: string,
) => void;

function checkCamera(fleet: Fleet, c: LoadedResource<Camera>, error: Report) {
  const spec = c.resource.spec;
  const ns = c.resource.metadata.namespace!;
  const tenant = fleet.tenants.get(ns);
  if (!tenant)
    error(
      c,
      ['metadata', 'namespace'],
      'dangling-reference',
      `namespace "${ns}" names no Tenant: create Tenant "${ns}" or fix the namespace`,
      `Tenant/${ns}`,
    );
  const site = fleet.site(ns, spec.site);
  if (!site) {
    error(
      c,
      ['spec', 'site'],
      'dangling-reference',
      `site "${spec.site}" does not exist in namespace "${ns}"`,
      `Site/${ns}/${spec.site}`,
    );
  } else {
    const [b, f, z] = spec.zone.split('/');
    const building = site.resource.spec.buildings.find((x) => x.name === b);
    const floor = building?.floors.find((x) => x.name === f);
    const zone = floor?.zones.find((x) => x.name === z);
    if (!zone) {
      const missing = !building
        ? `building "${b}"`
        : !floor
          ? `floor "${f}" in building "${b}"`
          : `zone "${z}" on floor "${b}/${f}"`;
      error(
        c,
        ['spec', 'zone'],
        'dangling-reference',
        `${missing} does not exist in site "${spec.site}"`,
      );
    }
  }
  if (spec.edgeServer) {
    const edge = fleet.edgeServer(ns, spec.edgeServer);
    if (!edge)
      error(
        c,
        ['spec', 'edgeServer'],
        'dangling-reference',
        `edge server "${spec.edgeServer}" does not exist in namespace "${ns}"`,
        `EdgeServer/${ns}/${spec.edgeServer}`,
      );
    else if (edge.resource.spec.site !== spec.site)
      error(
        c,
        ['spec', 'edgeServer'],
        'invalid-reference',
        `edge server "${spec.edgeServer}" is at site "${edge.resource.spec.site}", not "${spec.site}"`,
      );
  }
  checkSource(c, error);
  if (spec.analyticsStream === 'sub' && !spec.streams.sub)
    error(
      c,
      ['spec', 'analyticsStream'],
      'missing-field',
      'analyticsStream is "sub" but streams.sub is not defined',
    );
  if (spec.recording?.mode === 'schedule' && !spec.recording.schedule?.length) {
    error(
      c,
      ['spec', 'recording', 'mode'],
      'missing-field',
      'recording mode "schedule" needs recording.schedule',
    );
  }
  const presets = new Set((spec.ptz?.presets ?? []).map((p) => p.name));
  (spec.ptz?.tours ?? []).forEach((tour, i) =>
    tour.presets.forEach((p, j) => {
      if (!presets.has(p))
        error(
          c,
          ['spec', 'ptz', 'tours', i, 'presets', j],
          'dangling-reference',
          `PTZ tour "${tour.name}" uses unknown preset "${p}"`,
        );
    }),
  );
  const licensed = new Set(tenant?.resource.spec.license.models ?? []);
  (spec.models ?? []).forEach((m, i) => {
    if (m.enabled === false) return;
    const model = fleet.models.get(m.name);
    if (!model) {
      error(
        c,
        ['spec', 'models', i, 'name'],
        'dangling-reference',
        `model "${m.name}" has no AIModel`,
        `AIModel/${m.name}`,
      );
      return;
    }
    if (tenant && !licensed.has(m.name)) {
      error(
        c,
        ['spec', 'models', i, 'name'],
        'model-not-licensed',
        `model "${m.name}" is not in tenant "${ns}"'s license: purchase it or disable it on this camera`,
      );
    }
    const owner = model.resource.spec.tenant;
    if (model.resource.spec.category === 'customer' && owner && owner !== ns) {
      error(
        c,
        ['spec', 'models', i, 'name'],
        'model-not-licensed',
        `customer model "${m.name}" belongs to tenant "${owner}"`,
      );
    }
  });
}

/** The source must be unambiguous for ffmpeg: a known scheme, no option-like or control text. */
function checkSource(c: LoadedResource<Camera>, error: Report) {
  const src = c.resource.spec.source;
  const url = src.url;
  if (['rtsp', 'http', 'file'].includes(src.type) && !url) {
    error(c, ['spec', 'source'], 'missing-field', `source type "${src.type}" needs url`);
  }
  if (src.type === 'onvif' && !src.onvif)
    error(c, ['spec', 'source'], 'missing-field', 'source type "onvif" needs onvif.endpoint');
  if ((src.type === 'hikvision' || src.type === 'dahua') && !src.sdk)
    error(
      c,
      ['spec', 'source'],
      'missing-field',
      `source type "${src.type}" needs sdk.host and sdk.channel`,
    );
  if (c.resource.spec.auth?.type === 'vendor' && src.type !== 'hikvision' && src.type !== 'dahua') {
    error(
      c,
      ['spec', 'auth', 'type'],
      'invalid-value',
      'auth type "vendor" is only for hikvision and dahua sources',
    );
  }
  if (!url) return;
  for (const p of sourceUrlProblems(src.type, url))
    error(c, ['spec', 'source', 'url'], p.code, p.message);
}

function checkCompatibility(
  fleet: Fleet,
  c: LoadedResource<Camera>,
  resolved: ResolvedConfig,
  error: Report,
  warn: Report,
) {
  const spec = c.resource.spec;
  const cfg = resolved.value;
  const analytics = spec.analyticsStream === 'sub' && spec.streams.sub ? 'sub' : 'main';
  const stream = spec.streams[analytics]!;
  const streamPath = ['spec', 'streams', analytics];
  const { height } = parseResolution(stream.resolution);
  const bitrate = parseBitrate(stream.bitrate);
  const segment = cfg.segment.durationSeconds;
  // Checked on the resolved value: a tenant or site may set the recording stream too.
  if (cfg.recording.stream === 'sub' && !spec.streams.sub) {
    const o = spec.recording?.stream ? ['spec', 'recording', 'stream'] : ['spec', 'streams'];
    error(c, o, 'missing-field', 'recording uses stream "sub" but streams.sub is not defined');
  }
  if (cfg.segment.overlapSeconds >= segment) {
    error(
      c,
      ['spec'],
      'invalid-segment',
      `segment overlap ${cfg.segment.overlapSeconds}s must be shorter than the segment (${segment}s)`,
    );
  }
  (spec.models ?? []).forEach((m, i) => {
    if (m.enabled === false) return;
    const model = fleet.models.get(m.name);
    if (!model) return;
    const req = model.resource.spec.requirements;
    const eff = cfg.models[m.name]!;
    const at = ['spec', 'models', i, 'name'];
    const problems: string[] = [];
    const minLines = parseResolutionClass(req.minResolution);
    if (height < minLines)
      problems.push(
        `needs at least ${req.minResolution}, the ${analytics} stream is ${stream.resolution}`,
      );
    if (bitrate < parseBitrate(req.minBitrate))
      problems.push(
        `needs at least ${req.minBitrate}, the ${analytics} stream has ${stream.bitrate}`,
      );
    if (segment < req.minDurationSeconds)
      problems.push(
        `needs segments of at least ${req.minDurationSeconds}s, the camera's segment is ${segment}s (set configuration.segment.durationSeconds)`,
      );
    if (eff.overlapSeconds >= segment)
      problems.push(`overlap ${eff.overlapSeconds}s must be shorter than the ${segment}s segment`);
    if (eff.overlapSeconds < req.overlapSeconds)
      problems.push(
        `needs at least ${req.overlapSeconds}s overlap, configured ${eff.overlapSeconds}s`,
      );
    for (const p of problems) error(c, at, 'model-incompatible', `model "${m.name}" ${p}`);
    if (problems.length === 0 && stream.fps < eff.fps) {
      warn(
        c,
        [...streamPath, 'fps'],
        'model-degraded',
        `model "${m.name}" analyses ${eff.fps} fps but the ${analytics} stream has ${stream.fps} fps`,
      );
    }
  });
}
