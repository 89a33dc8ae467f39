/**
 * Reads back the wall clock that camera-sim.py burns into its "pattern" picture
 * (HH:MM:SS.mmm, top-left corner, a 5x7 bitmap font scaled up), from a normalized RGB
 * frame. It gives each frame its true capture time on this machine's clock, independent
 * of the pipeline's own estimate (WallClock), so the benchmark can measure glass to job.
 *
 * The glyphs and the layout below mirror `FONT` and `ClockOverlay.render` in
 * edge-stack/simulator/camera-sim.py; if that drawing changes, reads fail (return
 * undefined), they do not go wrong silently, because every glyph must match closely.
 */

const FONT: Record<string, readonly string[]> = {
  '0': ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  '1': ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  '2': ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  '3': ['11110', '00001', '00001', '01110', '00001', '00001', '11110'],
  '4': ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  '5': ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  '6': ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  '7': ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  '8': ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  '9': ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
  ':': ['00000', '01100', '01100', '00000', '01100', '01100', '00000'],
  '.': ['00000', '00000', '00000', '00000', '00000', '01100', '01100'],
};
const GLYPHS = Object.entries(FONT).map(([ch, rows]) => ({ ch, bits: rows.join('') }));
const TEXT_LENGTH = 'HH:MM:SS.mmm'.length;

/** Where the clock lies in a normalized frame: which rows to read and how to sample them. */
export interface ClockGeometry {
  /** Width of the normalized frame in pixels (rows are width * 3 bytes). */
  width: number;
  /** First and last+1 row of the frame that hold the clock. */
  firstRow: number;
  endRow: number;
  /** Centre of font cell (col, row) in frame pixels. */
  cell(col: number, row: number): { x: number; y: number };
}

/**
 * Geometry of the clock of a `cameraWidth` x `cameraHeight` camera after the normalizer
 * letterboxed it into `width` x `height` (scale to fit, pad centred).
 */
export function clockGeometry(
  cameraWidth: number,
  cameraHeight: number,
  width: number,
  height: number,
): ClockGeometry {
  // ClockOverlay: cell size s = max(2, height // 120), drawn from (s, s), 9 cells tall.
  const s = Math.max(2, Math.floor(cameraHeight / 120));
  const k = Math.min(width / cameraWidth, height / cameraHeight);
  const padX = Math.floor((width - Math.round(cameraWidth * k)) / 2);
  const padY = Math.floor((height - Math.round(cameraHeight * k)) / 2);
  const cell = (col: number, row: number) => ({
    x: Math.floor(padX + (s + col * s + s / 2) * k),
    y: Math.floor(padY + (s + row * s + s / 2) * k),
  });
  return { width, firstRow: cell(0, 0).y, endRow: cell(0, 8).y + 1, cell };
}

/**
 * Milliseconds since local midnight shown in the frame (the simulator draws its local time,
 * which is this process's too: both follow TZ and /etc/localtime), or undefined when the clock cannot be read with confidence. `rows` holds the
 * frame's rows `geometry.firstRow` to `geometry.endRow`, RGB24.
 */
export function readClock(rows: Buffer, geometry: ClockGeometry): number | undefined {
  const stride = geometry.width * 3;
  const lit = (col: number, row: number) => {
    const { x, y } = geometry.cell(col, row);
    const i = (y - geometry.firstRow) * stride + x * 3;
    if (i < 0 || i + 2 >= rows.length) return false;
    // White digits over a darkened box: luma decides, with a wide margin either side.
    return 0.299 * rows[i]! + 0.587 * rows[i + 1]! + 0.114 * rows[i + 2]! > 128;
  };
  let text = '';
  for (let c = 0; c < TEXT_LENGTH; c++) {
    let bits = '';
    // Glyph rows are cell rows 1..7; a character's columns are 1 + 6c .. 5 + 6c.
    for (let r = 0; r < 7; r++)
      for (let b = 0; b < 5; b++) bits += lit(1 + 6 * c + b, 1 + r) ? '1' : '0';
    let best = { ch: '?', distance: Infinity };
    for (const g of GLYPHS) {
      let d = 0;
      for (let i = 0; i < bits.length; i++) if (bits[i] !== g.bits[i]) d++;
      if (d < best.distance) best = { ch: g.ch, distance: d };
    }
    // Any two glyphs differ in at least 6 of their 35 cells, so two misread cells still
    // decode to the right one.
    if (best.distance > 2) return undefined;
    text += best.ch;
  }
  const m = /^(\d\d):(\d\d):(\d\d)\.(\d\d\d)$/.exec(text);
  if (!m) return undefined;
  const [h, min, sec, ms] = m.slice(1).map(Number) as [number, number, number, number];
  if (h > 23 || min > 59 || sec > 59) return undefined;
  return ((h * 60 + min) * 60 + sec) * 1000 + ms;
}

/** The epoch time (ms) of a local time of day (ms after midnight), on the day nearest `nearMs`. */
export function timeOfDayNear(msOfDay: number, nearMs: number): number {
  const day = 86_400_000;
  const midnight = new Date(nearMs);
  midnight.setHours(0, 0, 0, 0);
  let t = midnight.getTime() + msOfDay;
  if (t - nearMs > day / 2) t -= day;
  else if (nearMs - t > day / 2) t += day;
  return t;
}
