import { describe, expect, it } from 'vitest';
import { parseFleetFiles, validateFleet } from '../index.js';
import { editFile, exampleFiles, NOW, PATHS } from '../../tests/fixtures/fleet.js';

const capacityOf = (files = exampleFiles()) =>
  validateFleet(parseFleetFiles(files), { now: NOW }).capacity;

describe('capacity model', () => {
  it('places every camera of the example on its site edge server', () => {
    const c = capacityOf();
    expect(c.unplaced).toEqual([]);
    expect(c.placements.map((p) => p.edge)).toEqual(Array(3).fill('EdgeServer/acme/hq-edge-1'));
    const edge = c.edges[0]!;
    expect(edge.models).toHaveLength(10);
    expect(edge.utilization.cpu).toBeGreaterThan(0);
    expect(edge.utilization.cpu).toBeLessThan(0.1);
  });

  it('decodes keyframes only when every model needs at most 1 fps', () => {
    const c = capacityOf();
    expect(c.demands.get('Camera/acme/entrance-cam')!.keyframesOnly).toBe(false);
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      /models:\n {4}- name: missing-object-detection\n {4}- name: advanced-motion-detection\n {4}- name: fire-smoke-detection/,
      'models:\n    - name: missing-object-detection',
    );
    const d = capacityOf(files).demands.get('Camera/acme/storage-cam')!;
    expect(d.keyframesOnly).toBe(true);
    expect(d.decodeCores).toBeLessThan(
      capacityOf().demands.get('Camera/acme/storage-cam')!.decodeCores,
    );
  });

  it('runs inference on the CPU when the server has no GPU', () => {
    const files = editFile(exampleFiles(), PATHS.edges, / {4}gpus:\n.*\n.*\n.*\n/, '');
    const noGpu = capacityOf(files).edges[0]!;
    const gpu = capacityOf().edges[0]!;
    expect(noGpu.cpuCores).toBeGreaterThan(gpu.cpuCores * 3);
    expect(noGpu.gpus).toBe(0);
  });

  it('storage follows bitrate, retention and recording duty cycle', () => {
    const d = capacityOf().demands;
    // 4 Mbps continuous for 30 days.
    expect(d.get('Camera/acme/entrance-cam')!.storageBytes).toBeCloseTo(
      (4e6 / 8) * 86_400 * 30,
      -6,
    );
    // 2 Mbps for 6 h on 5 of 7 days, 14 days.
    expect(d.get('Camera/acme/storage-cam')!.storageBytes).toBeCloseTo(
      (2e6 / 8) * 86_400 * 14 * ((6 * 5) / (24 * 7)),
      -6,
    );
  });

  it('a schedule window past midnight counts the night', () => {
    const files = editFile(
      exampleFiles(),
      PATHS.cameras,
      'start: "18:00"\n        end: "24:00"',
      'start: "22:00"\n        end: "06:00"',
    );
    const d = capacityOf(files).demands.get('Camera/acme/storage-cam')!;
    expect(d.storageBytes).toBeCloseTo((2e6 / 8) * 86_400 * 14 * ((8 * 5) / (24 * 7)), -6);
  });

  it('reports cameras that fit nowhere', () => {
    const files = editFile(exampleFiles(), PATHS.edges, 'memory: 64Gi', 'memory: 3Gi');
    const c = capacityOf(files);
    expect(c.unplaced.length).toBeGreaterThan(0);
    expect(c.unplaced[0]!.reason).toMatch(/no edge server at site "hq" has room: short of memory/);
  });
});
