import { catalogManifests, MODEL_CATALOG } from '../catalog/models.js';
import type { FleetFile } from '../manifest/load.js';
import { toYaml } from '../manifest/write.js';
import { API_GROUP_VERSION } from '../schema/common.js';
import type { Camera, EdgeServer, Site, Tenant } from '../schema/kinds.js';

export interface ScaffoldOptions {
  tenant?: string;
  site?: string;
  /** First day of the license (YYYY-MM-DD); defaults to today. */
  licenseFrom?: string;
  /** Last day of the license; defaults to one year after licenseFrom. */
  licenseUntil?: string;
}

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Files of a new fleet repo that validates: one tenant, one site, one edge, three cameras, ten models. */
export function scaffoldFleet(options: ScaffoldOptions = {}): FleetFile[] {
  const tenantName = options.tenant ?? 'acme';
  const siteName = options.site ?? 'hq';
  const from = options.licenseFrom ?? isoDay(new Date());
  const until = options.licenseUntil ?? isoDay(new Date(Date.parse(from) + 365 * 86_400_000));
  const meta = (name: string) => ({ name, namespace: tenantName });

  const tenant: Tenant = {
    apiVersion: API_GROUP_VERSION,
    kind: 'Tenant',
    metadata: { name: tenantName },
    spec: {
      displayName: 'Acme Corporation',
      license: {
        cameraLimit: 25,
        validFrom: from,
        validUntil: until,
        models: MODEL_CATALOG.map((m) => m.name),
      },
      contacts: [{ name: 'Security Desk', email: 'security@acme.example', role: 'security' }],
      retention: { recordingsDays: 30, eventsDays: 180, clipsDays: 180 },
      notifications: {
        minPriority: 'HIGH',
        channels: [{ type: 'email', target: 'security@acme.example' }],
      },
    },
  };
  const site: Site = {
    apiVersion: API_GROUP_VERSION,
    kind: 'Site',
    metadata: meta(siteName),
    spec: {
      displayName: 'Headquarters',
      address: '1 Main Street, Springfield',
      timezone: 'Europe/Berlin',
      buildings: [
        {
          name: 'main',
          displayName: 'Main building',
          floors: [
            {
              name: 'ground',
              level: 0,
              zones: [
                { name: 'entrance', type: 'entrance' },
                { name: 'lobby', type: 'indoor' },
              ],
            },
            { name: 'basement', level: -1, zones: [{ name: 'storage', type: 'restricted' }] },
          ],
        },
      ],
      network: { nat: { mode: 'stun-turn', turnServers: ['stun:stun.acme.example:3478'] } },
      // The lobby is busy: fewer false intrusion alarms across this site.
      configuration: { models: { 'intrusion-detection': { confidenceThreshold: 0.55 } } },
    },
  };
  const edge: EdgeServer = {
    apiVersion: API_GROUP_VERSION,
    kind: 'EdgeServer',
    metadata: {
      ...meta(`${siteName}-edge-1`),
      labels: { 'vmsctl.io/site': siteName, 'vmsctl.io/gpu': 'nvidia-t4' },
    },
    spec: {
      site: siteName,
      hardware: {
        cpuCores: 16,
        memory: '64Gi',
        storage: '8Ti',
        gpus: [{ model: 'nvidia-t4', count: 1, memory: '16Gi' }],
      },
      cluster: { distribution: 'k3s' },
      registration: { tokenSecretRef: { name: `${siteName}-edge-1-token` } },
    },
  };
  const camera = (
    name: string,
    zone: string,
    spec: Omit<Camera['spec'], 'site' | 'zone' | 'source' | 'auth'>,
    host: string,
  ): Camera => ({
    apiVersion: API_GROUP_VERSION,
    kind: 'Camera',
    metadata: { ...meta(name), labels: { 'vmsctl.io/zone': zone.split('/')[2]! } },
    spec: {
      site: siteName,
      zone,
      source: { type: 'rtsp', url: `rtsp://${host}:554/Streaming/Channels/101`, transport: 'tcp' },
      auth: { type: 'basic', secretRef: { name: `${name}-credentials` } },
      ...spec,
    },
  });
  const cameras: Camera[] = [
    camera(
      'entrance-cam',
      'main/ground/entrance',
      {
        streams: {
          main: { codec: 'H264', resolution: '1920x1080', fps: 25, bitrate: '4Mbps' },
          sub: {
            codec: 'H264',
            resolution: '640x360',
            fps: 15,
            bitrate: '512Kbps',
            path: '/Streaming/Channels/102',
          },
        },
        recording: { mode: 'continuous' },
        models: [
          {
            name: 'intrusion-detection',
            roi: [
              {
                name: 'door',
                points: [
                  [0.3, 0.2],
                  [0.7, 0.2],
                  [0.7, 0.9],
                  [0.3, 0.9],
                ],
              },
            ],
          },
          { name: 'anpr', confidenceThreshold: 0.7 },
          {
            name: 'tailgating',
            tripwires: [{ name: 'threshold', from: [0.2, 0.8], to: [0.8, 0.8], direction: 'in' }],
          },
          { name: 'camera-tampering' },
        ],
        tags: ['perimeter'],
      },
      '10.0.10.11',
    ),
    camera(
      'lobby-cam',
      'main/ground/lobby',
      {
        streams: { main: { codec: 'H265', resolution: '1920x1080', fps: 20, bitrate: '3Mbps' } },
        recording: { mode: 'motion' },
        models: [
          { name: 'crowd-detection' },
          { name: 'fallen-person-detection', priority: 'CRITICAL' },
          { name: 'abnormal-behavior' },
          { name: 'fire-smoke-detection' },
          { name: 'advanced-motion-detection' },
        ],
        ptz: {
          presets: [
            { name: 'overview', pan: 0, tilt: -10, zoom: 1 },
            { name: 'reception', pan: 45, tilt: -20, zoom: 3 },
          ],
          tours: [{ name: 'patrol', presets: ['overview', 'reception'], dwellSeconds: 30 }],
        },
      },
      '10.0.10.12',
    ),
    camera(
      'storage-cam',
      'main/basement/storage',
      {
        streams: { main: { codec: 'H264', resolution: '1280x720', fps: 15, bitrate: '2Mbps' } },
        recording: {
          mode: 'schedule',
          schedule: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '18:00', end: '24:00' }],
        },
        retention: { recordingsDays: 14 },
        // Missing-object detection compares 10 s windows, so this camera uses longer segments.
        configuration: { segment: { durationSeconds: 10, overlapSeconds: 2 } },
        models: [
          { name: 'missing-object-detection' },
          { name: 'advanced-motion-detection' },
          { name: 'fire-smoke-detection' },
        ],
      },
      '10.0.10.13',
    ),
  ];

  const base = `tenants/${tenantName}`;
  const files: FleetFile[] = [
    { path: 'README.md', text: FLEET_README },
    { path: '.github/workflows/vmsctl.yaml', text: CI_WORKFLOW },
    { path: `${base}/tenant.yaml`, text: toYaml([tenant]) },
    { path: `${base}/sites/${siteName}/site.yaml`, text: toYaml([site]) },
    { path: `${base}/sites/${siteName}/edge-servers.yaml`, text: toYaml([edge]) },
    { path: `${base}/sites/${siteName}/cameras.yaml`, text: toYaml(cameras) },
    ...catalogManifests().map((m) => ({
      path: `models/${m.metadata.name}.yaml`,
      text: toYaml(
        [m],
        'Built-in model from the vmsctl catalog; edit to tune fleet-wide defaults.',
      ),
    })),
  ];
  return files;
}

const FLEET_README = `# Fleet repository

Declarative state of a vmsctl fleet. Every change goes through a pull request:
CI runs \`vmsctl validate\` and \`vmsctl plan\` and posts the plan as a comment.

    vmsctl validate .                       # schema, references, license, models, capacity
    vmsctl plan . --against origin/main     # what this branch changes (exit 0 none, 1 changes, 2 error)
    vmsctl config explain acme/entrance-cam # effective configuration and who set each value
    vmsctl capacity .                       # CPU, GPU, memory and storage per edge server and site

Layout: \`models/\` holds AIModel resources; \`tenants/<tenant>/tenant.yaml\` the tenant;
\`tenants/<tenant>/sites/<site>/\` its sites, edge servers and cameras. Credentials never
live here: cameras reference Kubernetes Secrets by name.
`;

const CI_WORKFLOW = `# Validate and plan every pull request against the branch it targets.
name: vmsctl
on:
  pull_request:
jobs:
  validate-and-plan:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      pull-requests: write
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      # vmsctl is not on a public registry: set the repository variable VMSCTL_PACKAGE to the
      # package your organisation installs (a tarball URL, or a Git URL pinned to a commit).
      - run: npm install --global "\${{ vars.VMSCTL_PACKAGE }}"
      - name: Validate
        run: vmsctl validate . --format github
      - name: Plan
        run: |
          set +e
          vmsctl plan . --against "origin/\${{ github.base_ref }}" --output markdown > plan.md
          code=$?
          [ "$code" -le 1 ] || exit "$code"
      - uses: marocchino/sticky-pull-request-comment@v2
        with:
          path: plan.md
`;
