/**
 * One shared copy of each repeated short string in cached objects. JSON.parse makes a new
 * string for every value, so 6,000 cached cameras held 18,000 copies of their apiVersion and
 * thousands of each condition reason, manager name and timestamp: about an eighth of the
 * controllers' live heap (bench:reconcile, heap snapshot during a resync).
 */
export class StringInterner {
  private table = new Map<string, string>();

  constructor(
    /** Values longer than this are left alone (payloads, messages: rarely repeated). */
    private readonly maxLength = 64,
    /** The table starts over past this many entries, so churn cannot grow it without end. */
    private readonly maxEntries = 200_000,
  ) {}

  /** Replaces the short string values of `value` (not its keys) by shared copies, in place. */
  intern<T>(value: T): T {
    this.walk(value);
    return value;
  }

  get size(): number {
    return this.table.size;
  }

  private walk(node: unknown): void {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        if (typeof v === 'string') node[i] = this.share(v);
        else if (v && typeof v === 'object') this.walk(v);
      }
      return;
    }
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    for (const k in obj) {
      const v = obj[k];
      // Unique to one object version: sharing them would only fill the table.
      if (k === 'uid' || k === 'resourceVersion') continue;
      if (typeof v === 'string') obj[k] = this.share(v);
      else if (v && typeof v === 'object') this.walk(v);
    }
  }

  private share(s: string): string {
    if (s.length > this.maxLength) return s;
    const known = this.table.get(s);
    if (known !== undefined) return known;
    if (this.table.size >= this.maxEntries) this.table = new Map();
    this.table.set(s, s);
    return s;
  }
}
