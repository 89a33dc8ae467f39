import { describe, expect, it } from 'vitest';
import {
  explainRows,
  Fleet,
  originPosition,
  parseFleetFiles,
  resolveCameraConfig,
  type Camera,
  type LoadedResource,
} from '../index.js';
import { editFile, exampleFiles, PATHS } from '../../tests/fixtures/fleet.js';

function resolve(files = exampleFiles(), camera = 'acme/entrance-cam') {
  const fleet = new Fleet(parseFleetFiles(files).resources);
  return resolveCameraConfig(fleet, fleet.cameras.get(camera) as LoadedResource<Camera>);
}

describe('resolveCameraConfig', () => {
  it('takes system defaults when no layer sets a value', () => {
    const r = resolve();
    expect(r.value.segment).toEqual({ durationSeconds: 5, overlapSeconds: 1 });
    expect(r.origins.get('segment.durationSeconds')).toEqual({ layer: 'system' });
    expect(r.value.normalize).toEqual({ width: 640, height: 480, fps: 15, letterbox: true });
  });

  it('layers tenant, site, camera and per-model settings with provenance', () => {
    const r = resolve();
    expect(r.value.retention.eventsDays).toBe(180);
    expect(r.origins.get('retention.eventsDays')).toMatchObject({
      layer: 'tenant',
      resource: 'Tenant/acme',
    });
    expect(r.value.models['intrusion-detection']!.confidenceThreshold).toBe(0.55);
    expect(r.origins.get('models.intrusion-detection.confidenceThreshold')).toMatchObject({
      layer: 'site',
      resource: 'Site/acme/hq',
    });
    expect(r.value.models.anpr!.confidenceThreshold).toBe(0.7);
    const anpr = r.origins.get('models.anpr.confidenceThreshold')!;
    expect(anpr).toMatchObject({ layer: 'camera-model', resource: 'Camera/acme/entrance-cam' });
    expect(originPosition(anpr)).toEqual({ file: PATHS.cameras, line: 43, col: 7 });
    expect(r.value.models.anpr!.priority).toBe('MEDIUM');
    expect(r.origins.get('models.anpr.priority')).toMatchObject({
      layer: 'model',
      resource: 'AIModel/anpr',
    });
  });

  it('a lower layer wins over a higher one, key by key', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.tenant,
      '  retention:\n',
      '  configuration:\n    segment:\n      durationSeconds: 8\n      overlapSeconds: 2\n  retention:\n',
    );
    const lobby = resolve(files, 'acme/lobby-cam');
    expect(lobby.value.segment).toEqual({ durationSeconds: 8, overlapSeconds: 2 });
    const storage = resolve(files, 'acme/storage-cam');
    expect(storage.value.segment).toEqual({ durationSeconds: 10, overlapSeconds: 2 });
    expect(storage.origins.get('segment.durationSeconds')!.layer).toBe('camera');
    expect(storage.value.retention.recordingsDays).toBe(14);
    expect(storage.value.retention.eventsDays).toBe(180);
  });

  it('only enabled models are part of the camera configuration', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      '- name: camera-tampering',
      '- name: camera-tampering\n      enabled: false',
    );
    expect(Object.keys(resolve(files).value.models)).toEqual([
      'intrusion-detection',
      'anpr',
      'tailgating',
    ]);
  });

  it('explainRows filters by key prefix', () => {
    const rows = explainRows(resolve(), 'models.anpr');
    expect(rows.map((r) => r.key)).toEqual([
      'models.anpr.priority',
      'models.anpr.confidenceThreshold',
      'models.anpr.overlapSeconds',
      'models.anpr.fps',
    ]);
  });
});
