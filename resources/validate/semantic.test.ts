import { describe, expect, it } from 'vitest';
import {
  formatDiagnostic,
  parseFleetFiles,
  validateFleet,
  type Diagnostic,
  type FleetFile,
} from '../index.js';
import { addFile, editFile, exampleFiles, NOW, PATHS } from '../../tests/fixtures/fleet.js';

function check(files: FleetFile[], now = NOW) {
  return validateFleet(parseFleetFiles(files), { now }).diagnostics;
}
const errors = (ds: Diagnostic[]) => ds.filter((d) => d.severity === 'error');
function only(ds: Diagnostic[], code: string): Diagnostic {
  const es = errors(ds);
  expect(es.map(formatDiagnostic), 'exactly one error expected').toHaveLength(1);
  expect(es[0]!.code).toBe(code);
  return es[0]!;
}

describe('validateFleet on the example fleet', () => {
  it('is clean', () => {
    expect(check(exampleFiles()).map(formatDiagnostic)).toEqual([]);
  });
});

describe('bad input', () => {
  it('malformed YAML keeps its position', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.site,
      'timezone: Europe/Berlin',
      'timezone: [Europe/Berlin',
    );
    const d = errors(check(files)).find((e) => e.code === 'yaml-syntax')!;
    expect(d.file).toBe(PATHS.site);
    expect(d.line).toBeGreaterThan(5);
  });

  it('an alias to a missing anchor is a finding at the alias', () => {
    const files = addFile(
      exampleFiles(),
      'tenants/acme/bad.yaml',
      'apiVersion: vmsctl.io/v1alpha1\nkind: Site\nmetadata:\n  name: x\n  namespace: acme\nspec: *nope\n',
    );
    const d = only(check(files), 'yaml-syntax');
    expect(d).toMatchObject({ file: 'tenants/acme/bad.yaml', line: 6, col: 7 });
    expect(d.message).toContain('Unresolved alias');
  });

  it('an alias bomb is refused, not expanded', () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      rows.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const d = only(
      check(addFile(exampleFiles(), 'bomb.yaml', `${rows.join('\n')}\n`)),
      'yaml-syntax',
    );
    expect(d.message).toContain('Excessive alias count');
  });

  it('unknown apiVersion', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.site,
      'apiVersion: vmsctl.io/v1alpha1',
      'apiVersion: vmsctl.io/v2',
    );
    const d = errors(check(files)).find((e) => e.code === 'unknown-api-version')!;
    expect(d).toMatchObject({ file: PATHS.site, line: 1, col: 1, field: 'apiVersion' });
    expect(d.message).toContain('vmsctl.io/v1alpha1');
  });

  it('unknown kind suggests the right one', () => {
    const files = editFile(exampleFiles(), PATHS.site, 'kind: Site', 'kind: sites');
    const d = errors(check(files)).find((e) => e.code === 'unknown-kind')!;
    expect(d).toMatchObject({ line: 2, field: 'kind' });
    expect(d.message).toContain('did you mean "Site"');
  });

  it('wrong types point at the field', () => {
    const files = editFile(exampleFiles(), PATHS.cameras, 'fps: 25', 'fps: fast');
    const d = only(check(files), 'schema');
    expect(d).toMatchObject({
      kind: 'Camera',
      name: 'entrance-cam',
      field: 'spec.streams.main.fps',
      line: 23,
    });
    expect(d.message).toBe('must be number, got string');
  });

  it('bad enum lists the allowed values', () => {
    const files = editFile(exampleFiles(), PATHS.cameras, 'codec: H264', 'codec: VP9');
    const d = only(check(files), 'schema');
    expect(d.message).toContain('"H264", "H265", "MJPEG"');
  });

  it('missing required fields point at the parent', () => {
    const files = editFile(exampleFiles(), PATHS.edges, / {2}site: hq\n/, '');
    const d = only(check(files), 'schema');
    expect(d).toMatchObject({ kind: 'EdgeServer', field: 'spec.site' });
    expect(d.message).toBe('missing required field "site"');
  });

  it('unknown fields suggest a correction', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      '  recording:\n    mode: continuous',
      '  analyticStream: sub\n  recording:\n    mode: continuous',
    );
    const d = only(check(files), 'schema');
    expect(d).toMatchObject({ field: 'spec.analyticStream', line: 31, col: 3 });
    expect(d.message).toBe('unknown field "analyticStream" (did you mean "analyticsStream"?)');
  });

  it('duplicate names name the first definition', () => {
    const cams = exampleFiles().find((f) => f.path === PATHS.cameras)!.text;
    const files = addFile(exampleFiles(), 'tenants/acme/extra.yaml', cams.split('---\n')[0]!);
    const d = only(check(files), 'duplicate-name');
    expect(d.file).toBe('tenants/acme/extra.yaml');
    expect(d.message).toContain(`first at ${PATHS.cameras}:4`);
  });

  it('dangling references: site, zone, edge server, model, namespace', () => {
    const files = editFile(
      editFile(
        editFile(exampleFiles(), PATHS.cameras, 'zone: main/ground/lobby', 'zone: main/roof/lobby'),
        PATHS.cameras,
        '  site: hq\n  zone: main/basement/storage',
        '  site: branch\n  zone: main/basement/storage',
      ),
      PATHS.cameras,
      '- name: camera-tampering',
      '- name: camera-tamper',
    );
    const es = errors(check(files));
    expect(es.map((e) => `${e.name} ${e.field} ${e.code}`).sort()).toEqual([
      'entrance-cam spec.models[3].name dangling-reference',
      'lobby-cam spec.zone dangling-reference',
      'storage-cam spec.site dangling-reference',
    ]);
    expect(es.find((e) => e.name === 'lobby-cam')!.message).toContain(
      'floor "roof" in building "main"',
    );
    const ns = errors(
      check(editFile(exampleFiles(), PATHS.edges, 'namespace: acme', 'namespace: globex')),
    );
    expect(
      ns.some(
        (e) =>
          e.code === 'dangling-reference' &&
          e.field === 'metadata.namespace' &&
          e.message.includes('"globex"'),
      ),
    ).toBe(true);
  });

  it('pinned edge server that does not exist', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      '  site: hq\n  zone: main/ground/lobby',
      '  site: hq\n  zone: main/ground/lobby\n  edgeServer: hq-edge-9',
    );
    const es = errors(check(files));
    expect(es.map((e) => e.code)).toContain('dangling-reference');
    expect(es.find((e) => e.code === 'dangling-reference')!.field).toBe('spec.edgeServer');
  });

  it('over license names the counts', () => {
    const files = editFile(exampleFiles(), PATHS.tenant, 'cameraLimit: 25', 'cameraLimit: 2');
    const d = only(check(files), 'license-exceeded');
    expect(d).toMatchObject({ kind: 'Tenant', field: 'spec.license.cameraLimit', line: 8 });
    expect(d.message).toContain('3 cameras enabled, license allows 2');
  });

  it('expired license is an error, expiring soon a warning', () => {
    const expired = check(exampleFiles(), new Date('2031-01-05T00:00:00Z'));
    expect(only(expired, 'license-expired').message).toContain('2030-12-31');
    const soon = check(exampleFiles(), new Date('2030-12-20T00:00:00Z'));
    expect(errors(soon)).toEqual([]);
    expect(soon.find((d) => d.code === 'license-expiring')!.message).toMatch(
      /expires in 1[12] day/,
    );
  });

  it('unlicensed model', () => {
    const files = editFile(exampleFiles(), PATHS.tenant, '      - anpr\n', '');
    const d = only(check(files), 'model-not-licensed');
    expect(d).toMatchObject({ name: 'entrance-cam', field: 'spec.models[1].name' });
  });

  it('incompatible model names the requirement and the camera value', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      'resolution: 1920x1080\n      fps: 25\n      bitrate: 4Mbps',
      'resolution: 1280x720\n      fps: 25\n      bitrate: 4Mbps',
    );
    const d = only(check(files), 'model-incompatible');
    expect(d.message).toBe('model "anpr" needs at least 1080p, the main stream is 1280x720');
    const slow = editFile(exampleFiles(), PATHS.cameras, 'bitrate: 4Mbps', 'bitrate: 1500Kbps');
    const messages = errors(check(slow)).map((e) => e.message);
    expect(messages).toContain('model "anpr" needs at least 3Mbps, the main stream has 1500Kbps');
    expect(messages).toContain(
      'model "tailgating" needs at least 2Mbps, the main stream has 1500Kbps',
    );
  });

  it('segment shorter than a model needs, and overlap not shorter than the segment', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      'durationSeconds: 10',
      'durationSeconds: 5',
    );
    const d = errors(check(files)).find((e) => e.code === 'model-incompatible')!;
    expect(d.message).toContain('"missing-object-detection" needs segments of at least 10s');
    const overlap = editFile(
      exampleFiles(),
      PATHS.cameras,
      '- name: anpr\n      confidenceThreshold: 0.7',
      '- name: anpr\n      overlapSeconds: 5',
    );
    expect(errors(check(overlap)).map((e) => e.message)).toContain(
      'model "anpr" overlap 5s must be shorter than the 5s segment',
    );
  });

  it('inline password is refused and never echoed', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      '    type: basic\n',
      '    type: basic\n    password: hunter2-secret\n',
    );
    const ds = check(files);
    const d = only(ds, 'inline-secret');
    expect(d.field).toBe('spec.auth.password');
    expect(JSON.stringify(ds)).not.toContain('hunter2');
  });

  it('credentials in a camera URL are refused and never echoed', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      'rtsp://10.0.10.11',
      'rtsp://admin:hunter2@10.0.10.11',
    );
    const ds = check(files);
    expect(only(ds, 'inline-secret').field).toBe('spec.source.url');
    expect(JSON.stringify(ds)).not.toContain('hunter2');
  });

  it('credentials in URL parameters, TURN user info and webhook URLs are refused and never echoed', () => {
    const query = editFile(
      exampleFiles(),
      PATHS.cameras,
      'url: rtsp://10.0.10.11:554/Streaming/Channels/101',
      'url: rtsp://10.0.10.11:554/user=admin&password=Hunter2pw&channel=1',
    );
    const q = check(query);
    expect(only(q, 'inline-secret')).toMatchObject({ field: 'spec.source.url' });
    const turn = editFile(
      exampleFiles(),
      PATHS.site,
      'stun:stun.acme.example:3478',
      'turn:alice:Hunter3pw@turn.acme.example',
    );
    const t = check(turn);
    expect(only(t, 'inline-secret').field).toBe('spec.network.nat.turnServers[0]');
    const slack = editFile(
      exampleFiles(),
      PATHS.tenant,
      /- type: email\n(\s+)target: security@acme.example/,
      '- type: slack\n$1target: https://hooks.slack.com/services/T000/B000/Hunter4pw',
    );
    const w = check(slack);
    expect(only(w, 'inline-secret').message).toContain('slack URL is a credential');
    expect(JSON.stringify([...q, ...t, ...w])).not.toMatch(/Hunter[234]pw/);
    const noRef = editFile(
      exampleFiles(),
      PATHS.tenant,
      /- type: email\n(\s+)target: security@acme.example/,
      '- type: webhook\n$1target: incident-bot',
    );
    expect(only(check(noRef), 'missing-field').message).toContain('needs secretRef');
  });

  it('a keyed list may not repeat a name', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      '- name: camera-tampering',
      '- name: camera-tampering\n    - name: anpr\n      enabled: false',
    );
    const d = only(check(files), 'schema');
    expect(d).toMatchObject({ name: 'entrance-cam', field: 'spec.models[4].name' });
    expect(d.message).toBe('duplicate name "anpr" (first at index 1)');
    const zones = editFile(exampleFiles(), PATHS.site, '- name: lobby', '- name: entrance');
    expect(only(check(zones), 'schema').field).toBe('spec.buildings[0].floors[0].zones[1].name');
  });

  it('tuning for a model that does not exist is reported', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.site,
      'intrusion-detection:\n        confidenceThreshold',
      'intrusion-detecton:\n        confidenceThreshold',
    );
    const d = only(check(files), 'dangling-reference');
    expect(d).toMatchObject({
      kind: 'Site',
      field: 'spec.configuration.models.intrusion-detecton',
    });
  });

  it('URLs that could inject ffmpeg arguments are refused', () => {
    for (const bad of ['-i /etc/passwd', 'rtsp://cam/x -f null', 'rtsp://cam/\\nx']) {
      const files = editFile(
        exampleFiles(),
        PATHS.cameras,
        'url: rtsp://10.0.10.12:554/Streaming/Channels/101',
        `url: "${bad}"`,
      );
      const es = errors(check(files));
      expect(
        es.map((e) => e.code),
        bad,
      ).toContain('unsafe-url');
    }
    const scheme = editFile(
      exampleFiles(),
      PATHS.cameras,
      'url: rtsp://10.0.10.12:554/Streaming/Channels/101',
      'url: "concat:/etc/passwd"',
    );
    expect(errors(check(scheme)).map((e) => e.code)).toContain('invalid-url');
  });

  it('an overloaded edge server is an error', () => {
    const files = editFile(exampleFiles(), PATHS.edges, 'memory: 64Gi', 'memory: 3Gi');
    const es = errors(check(files));
    expect(es.length).toBeGreaterThan(0);
    expect(es.every((e) => e.code === 'no-capacity')).toBe(true);
    const pinned = editFile(
      editFile(exampleFiles(), PATHS.edges, 'storage: 8Ti', 'storage: 1Ti'),
      PATHS.cameras,
      '  site: hq\n  zone: main/ground/entrance',
      '  site: hq\n  zone: main/ground/entrance\n  edgeServer: hq-edge-1',
    );
    const over = errors(check(pinned)).find((e) => e.code === 'edge-overloaded')!;
    expect(over).toMatchObject({ kind: 'EdgeServer', field: 'spec.hardware.storage' });
    expect(over.message).toContain('1 pinned');
  });

  it('a Namespaced kind without namespace', () => {
    const files = editFile(exampleFiles(), PATHS.site, '  namespace: acme\n', '');
    expect(
      errors(check(files)).some(
        (e) => e.field === 'metadata.namespace' && e.message.includes("tenant's namespace"),
      ),
    ).toBe(true);
  });
});
