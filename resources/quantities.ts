/** Parsing of the unit-bearing strings that manifests use (bit rates, quantities, resolutions). */

// The schemas validate with these same patterns, so what validates always parses.
/** `4Mbps`, `512Kbps`: number and unit. */
export const BITRATE_PATTERN = '^([0-9]+(?:\\.[0-9]+)?)(bps|Kbps|Mbps|Gbps)$';
/** Kubernetes quantity: `500m`, `4`, `32Gi`. */
export const QUANTITY_PATTERN = '^([0-9]+(?:\\.[0-9]+)?)(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$';
/** `1920x1080`. */
export const RESOLUTION_PATTERN = '^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$';
/** `720p`. */
export const RESOLUTION_CLASS_PATTERN = '^([1-9][0-9]{2,3})p$';

const BITRATE = new RegExp(BITRATE_PATTERN);
const QUANTITY = new RegExp(QUANTITY_PATTERN);
const RESOLUTION = new RegExp(RESOLUTION_PATTERN);
const RESOLUTION_CLASS = new RegExp(RESOLUTION_CLASS_PATTERN);

const BITRATE_UNITS: Record<string, number> = { bps: 1, Kbps: 1e3, Mbps: 1e6, Gbps: 1e9 };

/** `4Mbps` → 4000000 (bits per second). */
export function parseBitrate(text: string): number {
  const m = BITRATE.exec(text);
  if (!m) throw new Error(`invalid bit rate "${text}": use a number and bps, Kbps, Mbps or Gbps`);
  return Number(m[1]) * BITRATE_UNITS[m[2]!]!;
}

/** 4000000 → `4Mbps`, the shortest exact form. */
export function formatBitrate(bps: number): string {
  for (const unit of ['Gbps', 'Mbps', 'Kbps'] as const) {
    const v = bps / BITRATE_UNITS[unit]!;
    if (v >= 1 && Number.isInteger(Math.round(v * 100) / 100)) return `${v}${unit}`;
    if (v >= 1) return `${Math.round(v * 100) / 100}${unit}`;
  }
  return `${bps}bps`;
}

const QUANTITY_SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

/** Kubernetes quantity → number (`32Gi` → bytes, `500m` → 0.5). */
export function parseQuantity(text: string): number {
  const m = QUANTITY.exec(text);
  if (!m) throw new Error(`invalid quantity "${text}": use e.g. 500m, 4, 512Mi, 32Gi`);
  return Number(m[1]) * QUANTITY_SUFFIX[m[2] ?? '']!;
}

/** Bytes → a short binary quantity, e.g. `1.5Ti`. */
export function formatBytes(bytes: number): string {
  for (const unit of ['Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const v = bytes / QUANTITY_SUFFIX[unit]!;
    if (v >= 1) return `${Math.round(v * 10) / 10}${unit}`;
  }
  return `${Math.round(bytes)}`;
}

export interface PixelSize {
  width: number;
  height: number;
}

/** `1920x1080` → { width: 1920, height: 1080 }. */
export function parseResolution(text: string): PixelSize {
  const m = RESOLUTION.exec(text);
  if (!m) throw new Error(`invalid resolution "${text}": use WIDTHxHEIGHT, e.g. 1920x1080`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** `720p` → 720 (minimum lines). */
export function parseResolutionClass(text: string): number {
  const m = RESOLUTION_CLASS.exec(text);
  if (!m) throw new Error(`invalid resolution class "${text}": use e.g. 480p, 720p, 1080p`);
  return Number(m[1]);
}
