/**
 * Generator of the reference customer fixture: one tenant with hundreds of sites and
 * thousands of cameras that validates cleanly. Benchmarks and scale tests use it; it is
 * deterministic for a seed so that timings and diffs are comparable between runs.
 */
import { computeCapacity, type Utilization } from '../capacity/report.js';
import { cameraDemand, cpuOn, edgeCapacity, type CameraDemand } from '../capacity/model.js';
import { CAPACITY_COEFFICIENTS } from '../capacity/coefficients.js';
import { catalogManifests, MODEL_CATALOG, type CatalogEntry } from '../catalog/models.js';
import type { EffectiveConfig } from '../config/defaults.js';
import { resolveCameraConfig } from '../config/resolve.js';
import type { FleetFile, LoadedResource } from '../manifest/load.js';
import { SourceFile } from '../manifest/source-file.js';
import { toYaml } from '../manifest/write.js';
import {
  parseBitrate,
  parseQuantity,
  parseResolution,
  parseResolutionClass,
} from '../quantities.js';
import type { Stream } from '../schema/camera.js';
import { API_GROUP_VERSION } from '../schema/common.js';
import {
  resourceKey,
  type AIModel,
  type AnyResource,
  type Camera,
  type EdgeServer,
  type Site,
  type Tenant,
} from '../schema/kinds.js';
import { Fleet } from './fleet.js';

export interface GenerateOptions {
  /** Number of sites; about 16% of them (110 of 690) are large. */
  sites: number;
  /** Number of cameras, spread over the sites (large sites get about six times more). */
  cameras: number;
  tenant?: string;
  /** PRNG seed; the same seed gives byte-identical files. */
  seed?: number;
  /** First day of the license (YYYY-MM-DD); defaults to today. */
  licenseFrom?: string;
  /** Last day of the license; defaults to one year after licenseFrom. */
  licenseUntil?: string;
}

export interface MutateOptions {
  seed?: number;
  /** Share of cameras whose bit rate or models change (default 0.01). */
  fraction?: number;
}

type CameraSpec = Camera['spec'];
type CameraModelSpec = NonNullable<CameraSpec['models']>[number];
type ZoneType = NonNullable<
  Site['spec']['buildings'][number]['floors'][number]['zones'][number]['type']
>;
type Floor = Site['spec']['buildings'][number]['floors'][number];
type Building = Site['spec']['buildings'][number];
type Gpu = NonNullable<EdgeServer['spec']['hardware']['gpus']>[number];

/** Small seeded PRNG (mulberry32): fast, good enough for fixtures, identical on every platform. */
class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((n, [, w]) => n + w, 0);
    let x = this.next() * total;
    for (const [value, w] of entries) {
      x -= w;
      if (x < 0) return value;
    }
    return entries[entries.length - 1]![0];
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

const CITIES: readonly (readonly [slug: string, name: string, timezone: string])[] = [
  ['berlin', 'Berlin', 'Europe/Berlin'],
  ['hamburg', 'Hamburg', 'Europe/Berlin'],
  ['munich', 'Munich', 'Europe/Berlin'],
  ['paris', 'Paris', 'Europe/Paris'],
  ['lyon', 'Lyon', 'Europe/Paris'],
  ['madrid', 'Madrid', 'Europe/Madrid'],
  ['lisbon', 'Lisbon', 'Europe/Lisbon'],
  ['milan', 'Milan', 'Europe/Rome'],
  ['vienna', 'Vienna', 'Europe/Vienna'],
  ['warsaw', 'Warsaw', 'Europe/Warsaw'],
  ['amsterdam', 'Amsterdam', 'Europe/Amsterdam'],
  ['brussels', 'Brussels', 'Europe/Brussels'],
  ['zurich', 'Zurich', 'Europe/Zurich'],
  ['london', 'London', 'Europe/London'],
  ['dublin', 'Dublin', 'Europe/Dublin'],
  ['stockholm', 'Stockholm', 'Europe/Stockholm'],
  ['prague', 'Prague', 'Europe/Prague'],
  ['athens', 'Athens', 'Europe/Athens'],
  ['new-york', 'New York', 'America/New_York'],
  ['chicago', 'Chicago', 'America/Chicago'],
  ['denver', 'Denver', 'America/Denver'],
  ['seattle', 'Seattle', 'America/Los_Angeles'],
  ['toronto', 'Toronto', 'America/Toronto'],
  ['mexico-city', 'Mexico City', 'America/Mexico_City'],
  ['sao-paulo', 'São Paulo', 'America/Sao_Paulo'],
  ['dubai', 'Dubai', 'Asia/Dubai'],
  ['mumbai', 'Mumbai', 'Asia/Kolkata'],
  ['singapore', 'Singapore', 'Asia/Singapore'],
  ['tokyo', 'Tokyo', 'Asia/Tokyo'],
  ['sydney', 'Sydney', 'Australia/Sydney'],
];

const STREETS = [
  'Main Street',
  'Station Road',
  'Market Square',
  'Harbour Drive',
  'Park Avenue',
  'Mill Lane',
];

/** What a zone is used for: its schema type, how many cameras it draws, which analytics fit. */
interface ZoneKind {
  name: string;
  displayName: string;
  type: ZoneType;
  weight: number;
  /** Models in order of relevance for this zone. */
  models: readonly string[];
}

const ZONE_KINDS = {
  entrance: {
    name: 'entrance',
    displayName: 'Entrance',
    type: 'entrance',
    weight: 3,
    models: [
      'intrusion-detection',
      'tailgating',
      'fallen-person-detection',
      'camera-tampering',
      'advanced-motion-detection',
    ],
  },
  lobby: {
    name: 'lobby',
    displayName: 'Lobby',
    type: 'public',
    weight: 2,
    models: [
      'crowd-detection',
      'fallen-person-detection',
      'abnormal-behavior',
      'missing-object-detection',
      'fire-smoke-detection',
      'camera-tampering',
    ],
  },
  parking: {
    name: 'parking',
    displayName: 'Parking',
    type: 'parking',
    weight: 2,
    models: [
      'anpr',
      'intrusion-detection',
      'abnormal-behavior',
      'advanced-motion-detection',
      'camera-tampering',
    ],
  },
  perimeter: {
    name: 'perimeter',
    displayName: 'Perimeter fence',
    type: 'perimeter',
    weight: 2,
    models: [
      'intrusion-detection',
      'advanced-motion-detection',
      'camera-tampering',
      'fire-smoke-detection',
    ],
  },
  storage: {
    name: 'storage',
    displayName: 'Storage',
    type: 'restricted',
    weight: 1,
    models: [
      'missing-object-detection',
      'intrusion-detection',
      'fire-smoke-detection',
      'advanced-motion-detection',
    ],
  },
  salesFloor: {
    name: 'sales-floor',
    displayName: 'Sales floor',
    type: 'indoor',
    weight: 3,
    models: [
      'crowd-detection',
      'abnormal-behavior',
      'fallen-person-detection',
      'missing-object-detection',
      'camera-tampering',
    ],
  },
  corridor: {
    name: 'corridor',
    displayName: 'Corridor',
    type: 'indoor',
    weight: 2,
    models: [
      'fallen-person-detection',
      'advanced-motion-detection',
      'abnormal-behavior',
      'camera-tampering',
    ],
  },
  loadingDock: {
    name: 'loading-dock',
    displayName: 'Loading dock',
    type: 'outdoor',
    weight: 2,
    models: ['anpr', 'intrusion-detection', 'fire-smoke-detection', 'advanced-motion-detection'],
  },
  serverRoom: {
    name: 'server-room',
    displayName: 'Server room',
    type: 'restricted',
    weight: 1,
    models: ['intrusion-detection', 'tailgating', 'fire-smoke-detection', 'camera-tampering'],
  },
  cashOffice: {
    name: 'cash-office',
    displayName: 'Cash office',
    type: 'restricted',
    weight: 1,
    models: ['intrusion-detection', 'abnormal-behavior', 'camera-tampering'],
  },
  office: {
    name: 'office',
    displayName: 'Offices',
    type: 'indoor',
    weight: 1,
    models: ['advanced-motion-detection', 'fire-smoke-detection', 'camera-tampering'],
  },
} as const satisfies Record<string, ZoneKind>;

/** A zone of a generated site with the kind it was made from. */
interface ZoneSlot {
  path: string;
  kind: ZoneKind;
}

/** Edge server hardware the generator picks from, smallest first. */
interface HardwareProfile {
  id: string;
  cpuCores: number;
  memory: string;
  gpus?: Gpu;
}

const PROFILES = {
  cpu8: { id: 'cpu-8', cpuCores: 8, memory: '32Gi' },
  cpu16: { id: 'cpu-16', cpuCores: 16, memory: '64Gi' },
  t4: {
    id: 'gpu-t4',
    cpuCores: 16,
    memory: '64Gi',
    gpus: { model: 'nvidia-t4', count: 1, memory: '16Gi' },
  },
  l4x2: {
    id: 'gpu-l4x2',
    cpuCores: 32,
    memory: '128Gi',
    gpus: { model: 'nvidia-l4', count: 2, memory: '24Gi' },
  },
} as const satisfies Record<string, HardwareProfile>;

/** Disk sizes (TiB) an edge server may be ordered with. */
const DISKS_TI = [2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128] as const;

/** Sizing target: edges are planned at this utilization, well under validation's 85% warning. */
const TARGET_UTILIZATION = 0.7;
/**
 * Highest utilization a generated edge may end up with after real placement: below the
 * 85% warning with room for a pull request's worth of changes (see mutateFleet).
 */
const MAX_CHECKED_UTILIZATION = 0.8;
/**
 * Disks are sized further below: on a branch one camera is a fifth of the recordings, so
 * a pull request that raises its bit rate moves storage much more than CPU.
 */
const STORAGE_TARGET_UTILIZATION = 0.5;
const MAX_CHECKED_STORAGE_UTILIZATION = 0.6;

/** Main-stream profiles by resolution class; weights give the fleet mix (4K few, 1080p most). */
const MAIN_STREAMS: readonly (readonly [
  profile: {
    resolution: string;
    codecs: readonly Stream['codec'][];
    bitrates: readonly string[];
    fps: readonly number[];
  },
  weight: number,
])[] = [
  [
    {
      resolution: '3840x2160',
      codecs: ['H265', 'H265', 'H264'],
      bitrates: ['8Mbps', '10Mbps', '12Mbps', '16Mbps'],
      fps: [15, 20, 25],
    },
    4,
  ],
  [
    {
      resolution: '1920x1080',
      codecs: ['H264', 'H264', 'H265'],
      bitrates: ['2Mbps', '3Mbps', '4Mbps', '4Mbps', '6Mbps'],
      fps: [15, 20, 25, 25, 30],
    },
    58,
  ],
  [
    {
      resolution: '1280x720',
      codecs: ['H264', 'H264', 'H265'],
      bitrates: ['1Mbps', '1.5Mbps', '2Mbps', '2Mbps', '3Mbps'],
      fps: [12, 15, 20, 25],
    },
    28,
  ],
  [
    {
      resolution: '704x480',
      codecs: ['H264', 'MJPEG'],
      bitrates: ['512Kbps', '768Kbps', '1Mbps', '1.5Mbps'],
      fps: [10, 12, 15],
    },
    6,
  ],
  [
    {
      resolution: '640x480',
      codecs: ['H264', 'MJPEG'],
      bitrates: ['512Kbps', '768Kbps', '1Mbps'],
      fps: [10, 12, 15],
    },
    4,
  ],
];

const SUB_STREAMS: readonly Stream[] = [
  { codec: 'H264', resolution: '640x360', fps: 10, bitrate: '512Kbps' },
  { codec: 'H264', resolution: '640x480', fps: 12, bitrate: '768Kbps' },
  { codec: 'H264', resolution: '640x480', fps: 15, bitrate: '1Mbps' },
];

const catalogByName = new Map<string, CatalogEntry>(MODEL_CATALOG.map((m) => [m.name, m]));

/** Whether a stream meets a model's requirements (resolution, bit rate, and enough frames). */
function streamFits(entry: CatalogEntry, stream: Stream): boolean {
  return (
    parseResolution(stream.resolution).height >= parseResolutionClass(entry.minResolution) &&
    parseBitrate(stream.bitrate) >= parseBitrate(entry.minBitrate) &&
    // A model that analyses more frames than the stream has would raise `model-degraded`.
    stream.fps >= entry.fps
  );
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** A site being generated: its resources before serialization. */
interface SitePlan {
  index: number;
  large: boolean;
  site: Site;
  zones: ZoneSlot[];
  cameras: Camera[];
  edges: EdgeServer[];
}

/** The reference customer fleet (e.g. 690 sites, 6000 cameras) as files that validate cleanly. */
export function generateFleet(options: GenerateOptions): FleetFile[] {
  const tenantName = options.tenant ?? 'acme';
  const rng = new Rng(options.seed ?? 1);
  const from = options.licenseFrom ?? isoDay(new Date());
  const until = options.licenseUntil ?? isoDay(new Date(Date.parse(from) + 365 * 86_400_000));
  const siteCount = Math.max(0, Math.floor(options.sites));
  const cameraCount = Math.max(0, Math.floor(options.cameras));
  if (siteCount === 0 && cameraCount > 0) throw new Error('cameras need at least one site');

  const tenant = makeTenant(tenantName, cameraCount, from, until);
  const models = catalogManifests();

  // 110 of 690 sites are large; any fleet of two or more sites gets at least one.
  const largeCount = siteCount < 2 ? 0 : Math.max(1, Math.round((siteCount * 110) / 690));
  const kinds = rng.shuffle(Array.from({ length: siteCount }, (_, i) => i < largeCount));
  const weights = kinds.map((large) => (large ? rng.int(25, 31) : rng.int(4, 6)));
  // Every site gets a camera when there are enough; the rest follow the weights.
  const floor = cameraCount >= siteCount ? 1 : 0;
  const perSite = apportion(cameraCount - floor * siteCount, weights).map((n) => n + floor);

  const plans: SitePlan[] = [];
  let branchNo = 0;
  let campusNo = 0;
  kinds.forEach((large, index) => {
    const [slug, city, timezone] = CITIES[index % CITIES.length]!;
    const name = large
      ? `${slug}-campus-${pad(++campusNo, 3)}`
      : `${slug}-branch-${pad(++branchNo, 4)}`;
    const { site, zones } = makeSite(rng, tenantName, name, city, timezone, large, index);
    const plan: SitePlan = { index, large, site, zones, cameras: [], edges: [] };
    for (let i = 0; i < perSite[index]!; i++) plan.cameras.push(makeCamera(rng, plan, i));
    plans.push(plan);
  });

  sizeEdgeServers(tenant, models, plans);

  const base = `tenants/${tenantName}`;
  const files: FleetFile[] = [
    ...models.map((m) => ({
      path: `models/${m.metadata.name}.yaml`,
      text: toYaml(
        [m],
        'Built-in model from the vmsctl catalog; edit to tune fleet-wide defaults.',
      ),
    })),
    { path: `${base}/tenant.yaml`, text: toYaml([tenant]) },
  ];
  for (const p of plans) {
    const dir = `${base}/sites/${p.site.metadata.name}`;
    files.push({ path: `${dir}/site.yaml`, text: toYaml([p.site]) });
    files.push({ path: `${dir}/edge-servers.yaml`, text: toYaml(p.edges) });
    if (p.cameras.length) files.push({ path: `${dir}/cameras.yaml`, text: toYaml(p.cameras) });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Splits `total` in proportion to `weights` (largest remainder): the parts sum exactly to it. */
function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((n, w) => n + w, 0);
  if (sum === 0) return weights.map(() => 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((n, p) => n + p, 0);
  const order = exact
    .map((x, i) => [x - Math.floor(x), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) parts[order[k]![1]]!++;
  return parts;
}

function makeTenant(name: string, cameras: number, from: string, until: string): Tenant {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'Tenant',
    metadata: { name, labels: { 'vmsctl.io/tier': 'enterprise' } },
    spec: {
      displayName: 'Acme Retail Group',
      license: {
        // Headroom for the cameras a pull request adds (see mutateFleet).
        cameraLimit: Math.ceil((cameras * 1.1 + 10) / 100) * 100,
        validFrom: from,
        validUntil: until,
        models: MODEL_CATALOG.map((m) => m.name),
      },
      contacts: [
        {
          name: 'Security Operations Center',
          email: 'soc@acme.example',
          phone: '+49 30 1234567',
          role: 'security',
        },
        { name: 'IT Infrastructure', email: 'infra@acme.example', role: 'technical' },
        { name: 'Accounts Payable', email: 'billing@acme.example', role: 'billing' },
      ],
      configuration: {
        clips: { preSeconds: 10, postSeconds: 15 },
        models: { 'fire-smoke-detection': { confidenceThreshold: 0.5 } },
      },
      retention: { recordingsDays: 30, eventsDays: 180, clipsDays: 365 },
      notifications: {
        minPriority: 'HIGH',
        channels: [
          { type: 'email', target: 'soc@acme.example' },
          {
            type: 'webhook',
            target: 'soc-incident-bot',
            secretRef: { name: 'soc-webhook-url' },
          },
        ],
      },
      storage: {
        bucket: `${name}-vms-archive`,
        region: 'eu-central-1',
        credentialsSecretRef: { name: 'archive-bucket-credentials' },
      },
    },
  };
}

function makeSite(
  rng: Rng,
  ns: string,
  name: string,
  city: string,
  timezone: string,
  large: boolean,
  index: number,
): { site: Site; zones: ZoneSlot[] } {
  const zones: ZoneSlot[] = [];
  const floor = (
    building: string,
    floorName: string,
    level: number,
    kinds: readonly ZoneKind[],
  ): Floor => {
    for (const k of kinds) zones.push({ path: `${building}/${floorName}/${k.name}`, kind: k });
    return {
      name: floorName,
      level,
      zones: kinds.map((k) => ({ name: k.name, displayName: k.displayName, type: k.type })),
    };
  };
  const Z = ZONE_KINDS;
  const buildings: Building[] = [];
  if (!large) {
    const floors = [
      floor('branch', 'ground', 0, [Z.entrance, Z.salesFloor, Z.cashOffice, Z.storage]),
    ];
    if (rng.chance(0.4)) floors.push(floor('branch', 'upper', 1, [Z.office, Z.corridor]));
    buildings.push({ name: 'branch', displayName: 'Branch building', floors });
    const outside = rng.chance(0.7) ? [Z.parking, Z.perimeter] : [Z.parking];
    buildings.push({
      name: 'grounds',
      displayName: 'Outdoor area',
      floors: [floor('grounds', 'outdoor', 0, outside)],
    });
  } else {
    const names = rng
      .shuffle(['main', 'north-wing', 'south-wing', 'warehouse', 'annex', 'tower'])
      .slice(0, rng.int(2, 4));
    for (const b of names) {
      const floors: Floor[] = [];
      if (rng.chance(0.5)) floors.push(floor(b, 'basement', -1, [Z.storage, Z.serverRoom]));
      floors.push(
        floor(
          b,
          'ground',
          0,
          b === 'warehouse'
            ? [Z.entrance, Z.storage, Z.loadingDock]
            : [Z.entrance, Z.lobby, Z.salesFloor, Z.corridor],
        ),
      );
      const upper = b === 'warehouse' ? 0 : rng.int(1, 3);
      for (let l = 1; l <= upper; l++)
        floors.push(
          floor(b, `level-${l}`, l, [Z.corridor, Z.office, ...(l === 1 ? [Z.cashOffice] : [])]),
        );
      buildings.push({ name: b, displayName: `${b.replace('-', ' ')} building`, floors });
    }
    buildings.push({
      name: 'grounds',
      displayName: 'Outdoor area',
      floors: [floor('grounds', 'outdoor', 0, [Z.parking, Z.perimeter, Z.loadingDock])],
    });
  }

  const network: NonNullable<Site['spec']['network']> = {};
  const nat = rng.weighted([
    ['stun-turn', 5],
    ['port-forward', 3],
    ['upnp', 1],
    ['none', 1],
  ] as const);
  if (nat === 'stun-turn')
    network.nat = {
      mode: nat,
      turnServers: ['stun:stun.acme.example:3478', 'turns:turn.acme.example:5349'],
    };
  else if (nat === 'port-forward') network.nat = { mode: nat, publicPort: 20_000 + index };
  else network.nat = { mode: nat };
  if (!large && rng.chance(0.6)) {
    const provider = rng.weighted([
      ['noip', 3],
      ['dynu', 2],
      ['duckdns', 2],
      ['cloudflare', 3],
      ['custom', 1],
    ] as const);
    network.ddns = {
      provider,
      hostname: `${name}.ddns.acme.example`,
      ...(provider === 'custom' ? { updateUrl: 'https://ddns.acme.example/nic/update' } : {}),
      credentialsSecretRef: { name: `ddns-${provider}-credentials` },
    };
  }
  const configuration: Site['spec']['configuration'] = rng.chance(0.1)
    ? { retention: { recordingsDays: 14 } }
    : rng.chance(0.05)
      ? { recording: { segmentSeconds: 120 } }
      : undefined;
  const site: Site = {
    apiVersion: API_GROUP_VERSION,
    kind: 'Site',
    metadata: {
      name,
      namespace: ns,
      labels: {
        'vmsctl.io/site-class': large ? 'large' : 'branch',
        'vmsctl.io/city': name.split(/-(branch|campus)-/)[0]!,
      },
    },
    spec: {
      displayName: `${city} ${large ? 'Campus' : 'Branch'} ${name.slice(name.lastIndexOf('-') + 1)}`,
      address: `${rng.int(1, 250)} ${rng.pick(STREETS)}, ${city}`,
      timezone,
      buildings,
      network,
      ...(configuration ? { configuration } : {}),
    },
  };
  return { site, zones };
}

/** Picks a zone for camera number `i`: one camera per zone first, then by zone weight. */
function zoneFor(rng: Rng, zones: readonly ZoneSlot[], i: number): ZoneSlot {
  if (i < zones.length) return zones[i]!;
  return rng.weighted(zones.map((z) => [z, z.kind.weight] as const));
}

function makeCamera(rng: Rng, plan: SitePlan, i: number): Camera {
  const siteName = plan.site.metadata.name;
  const ns = plan.site.metadata.namespace!;
  const zone = zoneFor(rng, plan.zones, i);
  const name = `${siteName}-${zone.kind.name}-${pad(i + 1, 3)}`;
  const host = `10.${(plan.index >> 8) + 1}.${plan.index & 255}.${10 + (i % 240)}`;

  const profile = rng.weighted(MAIN_STREAMS);
  const codec = rng.pick(profile.codecs);
  const main: Stream = {
    codec,
    resolution: profile.resolution,
    fps: rng.pick(profile.fps),
    bitrate: rng.pick(profile.bitrates),
  };
  const highRes = parseResolution(main.resolution).height >= 720;
  const sub: Stream | undefined =
    highRes && rng.chance(0.7)
      ? { ...rng.pick(SUB_STREAMS), path: '/Streaming/Channels/102' }
      : undefined;
  // Some cameras run analytics on the sub stream to save decode; it then limits the models.
  const analyticsOnSub = sub !== undefined && rng.chance(0.2);
  const analytics = analyticsOnSub ? sub : main;

  const compatible = zone.kind.models.filter((m) => streamFits(catalogByName.get(m)!, analytics));
  const chosen = compatible.length ? [compatible[0]!] : [];
  for (const m of compatible.slice(1)) if (chosen.length < 4 && rng.chance(0.45)) chosen.push(m);
  const models: CameraModelSpec[] = chosen.map((m) => modelSettings(rng, m, zone.kind));

  const source = makeSource(rng, host, i);
  const auth: CameraSpec['auth'] =
    source.type === 'hikvision' || source.type === 'dahua'
      ? { type: 'vendor', secretRef: { name: `${source.type}-${siteName}-nvr` } }
      : rng.chance(0.1)
        ? { type: 'token', secretRef: { name: `${name}-token`, key: 'token' } }
        : {
            type: 'basic',
            secretRef: {
              name: `${siteName}-camera-credentials`,
              key: rng.chance(0.5) ? 'admin' : 'operator',
            },
          };

  const mode = rng.weighted([
    ['continuous', 25],
    ['motion', 50],
    ['event', 15],
    ['schedule', 10],
  ] as const);
  const recording: NonNullable<CameraSpec['recording']> = { mode };
  if (mode === 'schedule')
    recording.schedule = [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '18:00', end: '24:00' },
      { days: ['sat', 'sun'], start: '00:00', end: '24:00' },
    ];
  if (sub && rng.chance(0.15)) recording.stream = 'sub';

  // Pins are rare and made by hand in real fleets, e.g. to keep a camera next to its NVR.
  const pinned = rng.chance(0.04);
  const retention = rng.chance(0.08) ? { recordingsDays: rng.pick([7, 14, 60]) } : undefined;
  const ptz: CameraSpec['ptz'] =
    plan.large && highRes && rng.chance(0.06)
      ? {
          presets: [
            { name: 'overview', pan: 0, tilt: -10, zoom: 1 },
            { name: 'detail-left', pan: -40, tilt: -15, zoom: 4 },
            { name: 'detail-right', pan: 40, tilt: -15, zoom: 4 },
          ],
          tours: [
            {
              name: 'patrol',
              presets: ['overview', 'detail-left', 'overview', 'detail-right'],
              dwellSeconds: rng.pick([15, 30, 60]),
            },
          ],
        }
      : undefined;
  const disabled = rng.chance(0.02);

  // Keys in the order a person writes them: placement, source, streams, behaviour, analytics.
  const spec: CameraSpec = {
    site: siteName,
    zone: zone.path,
    ...(pinned ? { edgeServer: `${siteName}-edge-1` } : {}),
    ...(disabled ? { enabled: false } : {}),
    source,
    auth,
    streams: sub ? { main, sub } : { main },
    ...(analyticsOnSub ? { analyticsStream: 'sub' as const } : {}),
    recording,
    ...(retention ? { retention } : {}),
    // Missing-object detection compares 10 s windows, so its cameras need 10 s segments.
    ...(chosen.includes('missing-object-detection')
      ? { configuration: { segment: { durationSeconds: 10 } } }
      : {}),
    models,
    ...(ptz ? { ptz } : {}),
    tags: [zone.kind.type, plan.large ? 'campus' : 'branch'],
  };

  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'Camera',
    metadata: {
      name,
      namespace: ns,
      labels: { 'vmsctl.io/site': siteName, 'vmsctl.io/zone': zone.kind.name },
    },
    spec,
  };
}

function makeSource(rng: Rng, host: string, i: number): CameraSpec['source'] {
  const type = rng.weighted([
    ['rtsp', 70],
    ['onvif', 10],
    ['hikvision', 12],
    ['dahua', 8],
  ] as const);
  switch (type) {
    case 'rtsp':
      return {
        type,
        url: `rtsp://${host}:554/Streaming/Channels/101`,
        transport: rng.chance(0.85) ? 'tcp' : 'udp',
      };
    case 'onvif':
      return {
        type,
        onvif: { endpoint: `http://${host}/onvif/device_service`, profileToken: 'Profile_1' },
      };
    case 'hikvision':
      return { type, sdk: { host, port: 8000, channel: (i % 32) + 1 } };
    case 'dahua':
      return { type, sdk: { host, port: 37777, channel: (i % 32) + 1 } };
  }
}

/** A model entry with the per-camera tuning a fleet admin typically adds. */
function modelSettings(rng: Rng, model: string, zone: ZoneKind): CameraModelSpec {
  const entry: CameraModelSpec = { name: model };
  if (
    (model === 'intrusion-detection' ||
      model === 'missing-object-detection' ||
      model === 'crowd-detection') &&
    rng.chance(0.3)
  ) {
    const x = round3(0.05 + rng.next() * 0.3);
    const y = round3(0.1 + rng.next() * 0.3);
    const w = round3(0.3 + rng.next() * 0.3);
    const h = round3(0.3 + rng.next() * 0.3);
    entry.roi = [
      {
        name: 'area',
        points: [
          [x, y],
          [round3(x + w), y],
          [round3(x + w), round3(y + h)],
          [x, round3(y + h)],
        ],
      },
    ];
  }
  if (
    (model === 'tailgating' || (model === 'intrusion-detection' && zone.type === 'perimeter')) &&
    rng.chance(0.35)
  ) {
    const y = round3(0.5 + rng.next() * 0.4);
    entry.tripwires = [
      {
        name: model === 'tailgating' ? 'door-line' : 'fence-line',
        from: [0.1, y],
        to: [0.9, y],
        direction: model === 'tailgating' ? 'in' : 'both',
      },
    ];
  }
  if (rng.chance(0.1)) entry.confidenceThreshold = rng.pick([0.55, 0.6, 0.7, 0.8]);
  if (model === 'intrusion-detection' && zone.type === 'perimeter' && rng.chance(0.5))
    entry.priority = 'HIGH';
  return entry;
}

const GENERATED = new SourceFile('<generated>', '');

/** Wraps a resource as if loaded, so the capacity model can run before any file exists. */
function loaded<R extends AnyResource>(resource: R): LoadedResource<R> {
  return { resource, key: resourceKey(resource), source: GENERATED, docIndex: 0 };
}

/**
 * Gives every site enough edge servers for its cameras: an estimate from the capacity
 * model's per-camera demand, then checked with the real placement and grown until every
 * server of the site is under the warning threshold on every dimension.
 */
function sizeEdgeServers(tenant: Tenant, models: readonly AIModel[], plans: SitePlan[]): void {
  const shared = [loaded(tenant), ...models.map((m) => loaded(m))];
  for (const plan of plans) {
    const site = loaded(plan.site);
    const cameras = plan.cameras.map((c) => loaded(c));
    const base = new Fleet([...shared, site, ...cameras]);
    const configs = new Map<string, EffectiveConfig>();
    for (const c of cameras) configs.set(c.key, resolveCameraConfig(base, c).value);
    const demands = cameras
      .filter((c) => c.resource.spec.enabled !== false)
      .map((c) => cameraDemand(base, c, configs.get(c.key)!));
    const usedModels = new Set(demands.flatMap((d) => d.models));
    const workersBytes = [...usedModels].reduce((n, m) => n + modelMemory(models, m), 0);

    const candidates: HardwareProfile[] = plan.large
      ? [PROFILES.l4x2]
      : [PROFILES.cpu8, PROFILES.cpu16, PROFILES.t4];
    let choice = estimate(candidates[0]!, demands, workersBytes, plan.large ? 2 : 1);
    for (const p of candidates.slice(1)) {
      if (choice.count === 1) break;
      const next = estimate(p, demands, workersBytes, 1);
      if (next.count <= choice.count) choice = next;
    }

    for (let attempt = 0; ; attempt++) {
      plan.edges = Array.from({ length: choice.count }, (_, k) =>
        makeEdge(plan.site, k + 1, choice.profile, choice.diskTi),
      );
      const fleet = new Fleet([...shared, site, ...plan.edges.map((e) => loaded(e)), ...cameras]);
      const report = computeCapacity(fleet, (c) => configs.get(c.key)!);
      const over = (dim: keyof Utilization) =>
        report.edges.some(
          (l) =>
            l.utilization[dim] >
            (dim === 'storage' ? MAX_CHECKED_STORAGE_UTILIZATION : MAX_CHECKED_UTILIZATION),
        );
      const storageOnly = !over('cpu') && !over('memory') && !over('gpu');
      if (report.unplaced.length === 0 && storageOnly && !over('storage')) break;
      if (attempt >= 50)
        throw new Error(`cannot size edge servers for site ${plan.site.metadata.name}`);
      // Bigger disks fix a storage shortfall; anything else needs another server.
      const biggerDisk = DISKS_TI.find((d) => d > choice.diskTi);
      choice =
        report.unplaced.length === 0 && storageOnly && biggerDisk
          ? { ...choice, diskTi: biggerDisk }
          : { ...choice, count: choice.count + 1 };
    }
  }
}

function modelMemory(models: readonly AIModel[], name: string): number {
  const spec = models.find((m) => m.metadata.name === name)?.spec;
  return spec
    ? parseQuantity(spec.resources.memory)
    : CAPACITY_COEFFICIENTS.defaultModelWorkerBytes;
}

/** Servers of one profile that a site needs at the sizing target, and the disk each gets. */
function estimate(
  profile: HardwareProfile,
  demands: readonly CameraDemand[],
  workersBytes: number,
  minCount: number,
): { profile: HardwareProfile; count: number; diskTi: number } {
  const cap = edgeCapacity(makeEdgeSpec(profile, 1));
  let cpu = 0;
  let gpu = 0;
  let memory = 0;
  let storage = 0;
  for (const d of demands) {
    cpu += cpuOn(d, cap);
    gpu += cap.gpus > 0 ? d.inferenceGpu : 0;
    memory += d.memoryBytes;
    storage += d.storageBytes;
  }
  const T = TARGET_UTILIZATION;
  let count = Math.max(
    minCount,
    Math.ceil(cpu / (cap.cpuCores * T)),
    cap.gpus > 0 ? Math.ceil(gpu / (cap.gpus * T)) : 1,
    // Every server may end up running a worker of every model the site uses.
    Math.ceil(memory / Math.max(1, cap.memoryBytes * T - workersBytes)),
  );
  const perTi = cap.storageBytes * STORAGE_TARGET_UTILIZATION; // cap is for a 1Ti disk
  const biggest = DISKS_TI[DISKS_TI.length - 1]!;
  count = Math.max(count, Math.ceil(storage / (biggest * perTi)));
  const diskTi = DISKS_TI.find((d) => d * perTi * count >= storage) ?? biggest;
  return { profile, count, diskTi };
}

function makeEdgeSpec(profile: HardwareProfile, diskTi: number): EdgeServer {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'EdgeServer',
    metadata: { name: 'sizing' },
    spec: {
      site: 'sizing',
      hardware: {
        cpuCores: profile.cpuCores,
        memory: profile.memory,
        storage: `${diskTi}Ti`,
        ...(profile.gpus ? { gpus: [{ ...profile.gpus }] } : {}),
      },
    },
  };
}

function makeEdge(site: Site, n: number, profile: HardwareProfile, diskTi: number): EdgeServer {
  const siteName = site.metadata.name;
  const name = `${siteName}-edge-${n}`;
  const labels: Record<string, string> = {
    'vmsctl.io/site': siteName,
    'vmsctl.io/profile': profile.id,
  };
  if (profile.gpus) labels['vmsctl.io/gpu'] = profile.gpus.model;
  return {
    apiVersion: API_GROUP_VERSION,
    kind: 'EdgeServer',
    metadata: { name, namespace: site.metadata.namespace!, labels },
    spec: {
      ...makeEdgeSpec(profile, diskTi).spec,
      site: siteName,
      cluster: { distribution: 'k3s', version: 'v1.30.4+k3s1' },
      registration: { tokenSecretRef: { name: `${name}-token` }, heartbeatGraceSeconds: 90 },
    },
  };
}

/** Bit-rate ladder used when a simulated change retunes a stream. */
const BITRATE_LADDER = [
  '512Kbps',
  '768Kbps',
  '1Mbps',
  '1.5Mbps',
  '2Mbps',
  '3Mbps',
  '4Mbps',
  '6Mbps',
  '8Mbps',
  '10Mbps',
  '12Mbps',
];

/**
 * A changed copy of a fleet, as a pull request would make it: about `fraction` of the cameras
 * get a new bit rate or model list, and a few cameras are deleted and added. Untouched files
 * are returned as they are; changes stay compatible so the copy still validates.
 */
export function mutateFleet(files: readonly FleetFile[], options: MutateOptions = {}): FleetFile[] {
  const rng = new Rng((options.seed ?? 1) ^ 0x5eed);
  const fraction = options.fraction ?? 0.01;
  const cameraFiles = new Map<number, Camera[]>();
  const all: { file: number; camera: Camera }[] = [];
  files.forEach((f, i) => {
    if (!/\.ya?ml$/.test(f.path) || !f.text.includes('kind: Camera')) return;
    const list = readDocuments(f.text) as AnyResource[];
    if (!list.every((r) => r && r.kind === 'Camera')) return;
    const cameras = list as Camera[];
    cameraFiles.set(i, cameras);
    for (const camera of cameras) all.push({ file: i, camera });
  });
  if (all.length === 0) return files.map((f) => ({ ...f }));

  const changed = new Set<number>();
  const picked = rng.shuffle(all.slice());
  const modify = Math.max(1, Math.round(all.length * fraction));
  const remove = Math.max(1, Math.round(modify / 4));
  const add = Math.max(1, Math.round(modify / 4));

  for (const { file, camera } of picked.slice(0, modify)) {
    if (rng.chance(0.5)) retuneBitrate(rng, camera);
    else changeModels(rng, camera);
    changed.add(file);
  }
  const removed = new Set(picked.slice(modify, modify + remove).map((x) => x.camera));
  for (const { file } of picked.slice(modify, modify + remove)) changed.add(file);
  const clones = picked.slice(modify + remove, modify + remove + add);
  clones.forEach(({ file, camera }, k) => {
    const copy = structuredClone(camera);
    copy.metadata.name = `${camera.spec.site}-added-${pad(k + 1, 3)}`;
    delete copy.spec.edgeServer;
    if (copy.spec.auth?.type === 'token')
      copy.spec.auth.secretRef.name = `${copy.metadata.name}-token`;
    cameraFiles.get(file)!.push(copy);
    changed.add(file);
  });

  return files.map((f, i) => {
    if (!changed.has(i)) return { ...f };
    const cameras = cameraFiles.get(i)!.filter((c) => !removed.has(c));
    return { path: f.path, text: toYaml(cameras) };
  });
}

/** Plain data of every document of a YAML text, read as the loader reads it. */
function readDocuments(text: string): unknown[] {
  return new SourceFile('', text).documents().map((d) => d.value);
}

/** Moves the main stream's bit rate one or two steps, never below what its models need. */
function retuneBitrate(rng: Rng, camera: Camera): void {
  const main = camera.spec.streams.main;
  const onMain = camera.spec.analyticsStream !== 'sub';
  const floor = onMain
    ? Math.max(
        0,
        ...(camera.spec.models ?? []).map((m) =>
          parseBitrate(catalogByName.get(m.name)?.minBitrate ?? '0bps'),
        ),
      )
    : 0;
  const current = parseBitrate(main.bitrate);
  const options = BITRATE_LADDER.filter((b) => {
    const bps = parseBitrate(b);
    return bps !== current && bps >= floor && bps <= current * 1.6 && bps >= current * 0.5;
  });
  main.bitrate = options.length
    ? rng.pick(options)
    : (BITRATE_LADDER.find((b) => parseBitrate(b) > current) ?? main.bitrate);
}

/** Drops one model, or adds one the analytics stream supports. */
function changeModels(rng: Rng, camera: Camera): void {
  const models = (camera.spec.models ??= []);
  const analytics =
    (camera.spec.analyticsStream === 'sub' && camera.spec.streams.sub) || camera.spec.streams.main;
  const present = new Set(models.map((m) => m.name));
  // Missing-object detection needs 10 s segments; leave it to cameras configured for it.
  const addable = MODEL_CATALOG.filter(
    (e) =>
      !present.has(e.name) && e.name !== 'missing-object-detection' && streamFits(e, analytics),
  );
  if (models.length > 1 && (addable.length === 0 || rng.chance(0.5))) {
    // A camera that loses missing-object detection keeps its 10 s segments: harmless for the rest.
    models.splice(rng.int(0, models.length - 1), 1);
  } else if (addable.length) {
    models.push({ name: rng.pick(addable).name });
  }
}
