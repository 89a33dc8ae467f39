import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveCameraConfig, scopedName, type Fleet } from '../../resources/index.js';
import {
  CameraPipeline,
  cameraKey,
  type PipelineCamera,
  type PipelineEnv,
} from './camera-pipeline.js';
import type { CameraHealth } from './health.js';
import { enforceRetention, type RetentionResult } from './retention.js';

export interface EdgeIngestOptions extends PipelineEnv {
  /** Only cameras pinned to this edge server; all cameras when absent. */
  edgeServerFilter?: string;
  /** Only these cameras (`namespace/name`). */
  cameras?: readonly string[];
  retention?: { maxBytes?: number; minFreeBytes?: number; intervalMs?: number };
}

/** The cameras of a fleet that an edge runs, with their resolved configuration. */
export function edgeCameras(
  fleet: Fleet,
  filter: { edgeServer?: string; cameras?: readonly string[] } = {},
): PipelineCamera[] {
  const out: PipelineCamera[] = [];
  for (const c of fleet.cameras.values()) {
    const r = c.resource;
    if (r.spec.enabled === false) continue;
    if (filter.edgeServer && r.spec.edgeServer !== filter.edgeServer) continue;
    if (filter.cameras && !filter.cameras.includes(scopedName(r))) continue;
    const config = resolveCameraConfig(fleet, c, { provenance: false }).value;
    const requirements: PipelineCamera['requirements'] = {};
    for (const name of Object.keys(config.models)) {
      const req = fleet.models.get(name)?.resource.spec.requirements;
      if (req)
        requirements[name] = { minResolution: req.minResolution, minBitrate: req.minBitrate };
    }
    out.push({
      namespace: r.metadata.namespace!,
      name: r.metadata.name,
      spec: r.spec,
      config,
      requirements,
    });
  }
  return out;
}

/**
 * Runs the ingest of every camera an edge owns and keeps the recordings disk within
 * retention. Health of every camera is available through `health()`.
 */
export class EdgeIngest {
  readonly pipelines = new Map<string, CameraPipeline>();
  private timer?: NodeJS.Timeout;
  private retaining?: Promise<RetentionResult>;
  private days = new Map<string, number>();
  lastRetention?: RetentionResult;

  constructor(
    cameras: readonly PipelineCamera[],
    private readonly opts: EdgeIngestOptions,
  ) {
    for (const c of cameras) {
      const p = new CameraPipeline(c, {
        ...opts,
        // A recorder hit a full disk: free space now rather than at the next pass.
        onDiskFull: () => void this.retain(true),
      });
      this.pipelines.set(p.id, p);
      this.days.set(cameraKey(c), c.config.retention.recordingsDays);
    }
  }

  /** Builds the ingest for a validated fleet. */
  static fromFleet(fleet: Fleet, opts: EdgeIngestOptions): EdgeIngest {
    return new EdgeIngest(
      edgeCameras(fleet, {
        ...(opts.edgeServerFilter ? { edgeServer: opts.edgeServerFilter } : {}),
        ...(opts.cameras ? { cameras: opts.cameras } : {}),
      }),
      opts,
    );
  }

  /** Starts every camera and the retention timer. */
  async start(): Promise<void> {
    await this.retain();
    await Promise.all([...this.pipelines.values()].map((p) => p.start()));
    this.timer = setInterval(() => void this.retain(), this.opts.retention?.intervalMs ?? 30_000);
    this.timer.unref();
  }

  /** Stops every camera, flushing partial segments. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.pipelines.values()].map((p) => p.stop()));
    await this.retaining;
  }

  /** Health of every camera. */
  health(): CameraHealth[] {
    return [...this.pipelines.values()].map((p) => p.health());
  }

  /**
   * One retention pass; runs at most one at a time. After a recorder hit a full disk
   * (`emergency`), at least a quarter of the file system is freed even without a configured
   * floor, so the recorder has room when it restarts.
   */
  retain(emergency = false): Promise<RetentionResult> {
    this.retaining ??= (async () => {
      try {
        let floor = this.opts.retention?.minFreeBytes;
        if (emergency) {
          const fs = await statfs(this.opts.recordingsDir).catch(() => undefined);
          if (fs) floor = Math.max(floor ?? 0, fs.blocks * fs.bsize * 0.25);
        }
        const inUse = new Set<string>();
        for (const p of this.pipelines.values()) {
          const open = p.recorder.segments.find((s) => s.endMs === undefined);
          if (open) inUse.add(open.path);
        }
        const result = await enforceRetention(
          this.opts.recordingsDir,
          {
            days: (key) => this.days.get(key) ?? 30,
            ...(this.opts.retention?.maxBytes !== undefined
              ? { maxBytes: this.opts.retention.maxBytes }
              : {}),
            ...(floor !== undefined ? { minFreeBytes: floor } : {}),
          },
          inUse,
        );
        for (const d of result.deleted)
          for (const p of this.pipelines.values()) p.recorder.forget(d.path);
        if (result.deleted.length > 0)
          this.opts.log?.(
            `retention: deleted ${result.deleted.length} recordings (${result.deleted.filter((d) => d.reason === 'space').length} for space)`,
          );
        this.lastRetention = result;
        if (emergency)
          for (const p of this.pipelines.values())
            if (p.health().recorder.lastExit?.reason === 'disk-full') p.recorder.retryNow();
        return result;
      } finally {
        this.retaining = undefined;
      }
    })();
    return this.retaining;
  }

  /** Recordings folder of one camera. */
  recordingsOf(id: string): string {
    const p = this.pipelines.get(id);
    if (!p) throw new Error(`no camera ${id} on this edge`);
    return join(this.opts.recordingsDir, p.key);
  }
}
