import type { Priority } from '../../resources/index.js';

/** Kafka topics, one per latency class. MEDIUM shares the standard topic with STANDARD. */
export const JOB_TOPICS = {
  CRITICAL: 'video-jobs-critical',
  HIGH: 'video-jobs-high',
  MEDIUM: 'video-jobs-standard',
  STANDARD: 'video-jobs-standard',
} as const satisfies Record<Priority, string>;
export type JobTopic = (typeof JOB_TOPICS)[Priority];

/** Every topic once, most urgent first. */
export const ALL_JOB_TOPICS: readonly JobTopic[] = [
  'video-jobs-critical',
  'video-jobs-high',
  'video-jobs-standard',
];

/** Priorities from most to least urgent; backpressure sheds from the end of this list. */
export const PRIORITY_ORDER: readonly Priority[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'STANDARD'];

/** Topic a job of this priority goes to. */
export function topicFor(priority: Priority): JobTopic {
  return JOB_TOPICS[priority];
}

/**
 * Claim-check for a normalized segment: where the frames are and how to read them.
 * The frames never travel in the job itself (5 s of 640x480 RGB at 15 fps is 69 MB).
 */
export interface SegmentRef {
  /** file:// URI the model workers on this edge can read. */
  uri: string;
  /** Raw frames back to back, `width * height * 3` bytes each, no header. */
  format: 'rgb24';
  /** Where this job's first frame starts in the file (micro-jobs point into a growing file). */
  byteOffset: number;
  width: number;
  height: number;
  frameCount: number;
  byteLength: number;
  /** Wall-clock capture time of the first and last frame (ISO 8601). */
  startTime: string;
  endTime: string;
  /** Capture time of each frame in milliseconds after `startTime`. */
  frameOffsetsMs: number[];
  /** Seconds at the start that repeat the previous segment's end. */
  overlapSeconds: number;
}

/** What the source delivered while this segment was captured. */
export interface SourceQuality {
  stream: 'main' | 'sub';
  codec: string;
  resolution: string;
  fps: number;
  /** Measured input bitrate, e.g. "3.9Mbps". */
  bitrate: string;
  decodeErrors: number;
  droppedFrames: number;
}

/**
 * One unit of analysis work. `segment` jobs cover the configured segment duration with
 * overlap; `micro` jobs carry the last few hundred milliseconds of frames for CRITICAL
 * and HIGH models so they can answer within 500 ms of capture.
 */
export interface VideoJob {
  /** Stable across retries: `<cameraId>/<kind>/<sequence>[.<part>]/<priority>`, so consumers can de-duplicate. */
  jobId: string;
  kind: 'segment' | 'micro';
  customerId: string;
  cameraId: string;
  edgeServer?: string;
  segmentSequence: number;
  /** Capture time of the first frame (ISO 8601). */
  timestamp: string;
  segment: SegmentRef;
  metadata: {
    /** Size of the normalized frames, e.g. "640x480". */
    resolution: string;
    /** Measured bitrate of the source stream. */
    bitrate: string;
    duration: number;
    frameCount: number;
    enabledModels: string[];
    priority: Priority;
    sourceQuality: SourceQuality;
    /** Overlap each model asked for; the segment carries the largest, models skip the rest. */
    modelOverlapSeconds: Record<string, number>;
    /** Frames each model analyses per second; the segment carries the largest rate. */
    modelFps: Record<string, number>;
    /** The segment ended early (the camera stopped or the pipeline was stopped). */
    partial: boolean;
  };
  /** Wall-clock milliseconds when the job was created, for latency accounting. */
  createdAtMs: number;
}

/**
 * Stable job id; the same segment offered twice gets the same id. `part` counts segments
 * that restarted within one sequence (the camera reconnected mid-segment).
 */
export function jobIdOf(
  cameraId: string,
  kind: VideoJob['kind'],
  sequence: number,
  priority: Priority,
  part = 0,
): string {
  return `${cameraId}/${kind}/${sequence}${part > 0 ? `.${part}` : ''}/${priority}`;
}
