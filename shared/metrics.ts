// Prometheus text exposition (format 0.0.4): counters, gauges and histograms with labels, and
// collectors that set gauges from current state just before each scrape.

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Record<string, string>;
type MetricType = 'counter' | 'gauge' | 'histogram';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',')}}`;
}

function keyOf(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

abstract class Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name "${name}"`);
  }

  protected check(labels: Labels): void {
    for (const k of Object.keys(labels)) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`invalid label name "${k}" on ${this.name}`);
  }

  abstract lines(): string[];

  render(): string {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.lines()].join('\n') + '\n';
  }
}

class Scalar extends Family {
  protected readonly values = new Map<string, { labels: Labels; value: number }>();

  protected add(labels: Labels, by: number, set: boolean): void {
    const cur = this.series(labels);
    cur.value = set ? by : cur.value + by;
  }

  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  /** The series of these labels, created at 0 if new, to be added to without looking it up again. */
  protected series(labels: Labels): { labels: Labels; value: number } {
    this.check(labels);
    const k = keyOf(labels);
    let cur = this.values.get(k);
    if (!cur) {
      cur = { labels: { ...labels }, value: 0 };
      this.values.set(k, cur);
    }
    return cur;
  }

  lines(): string[] {
    return [...this.values.values()].map((s) => `${this.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
}

export class Counter extends Scalar {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new Error(`counter ${this.name} cannot decrease`);
    this.add(labels, by, false);
  }

  /**
   * A function that adds one to the series of these labels, looked up once (for a path taken
   * hundreds of times a second). The series shows from the first call on, as with `inc`.
   */
  bind(labels: Labels): () => void {
    let cell: { value: number } | undefined;
    return () => {
      cell ??= this.series(labels);
      cell.value++;
    };
  }
}

export class Gauge extends Scalar {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(labels: Labels, value: number): void {
    this.add(labels, value, true);
  }

  inc(labels: Labels = {}, by = 1): void {
    this.add(labels, by, false);
  }

  /** Forgets every series, for gauges a collector sets again from scratch. */
  reset(): void {
    this.values.clear();
  }
}

export const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram extends Family {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    name: string,
    help: string,
    readonly buckets: number[] = DEFAULT_BUCKETS,
  ) {
    super(name, help, 'histogram');
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i] > buckets[i - 1])) throw new Error(`buckets of ${name} must increase`);
  }

  observe(labels: Labels, value: number): void {
    this.check(labels);
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    // Cumulative: a value counts in every bucket whose bound it does not exceed.
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]++;
    });
    s.sum += value;
    s.count++;
  }

  lines(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText({ ...s.labels, le: formatValue(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly families: Family[] = [];
  private readonly collectors: (() => void | Promise<void>)[] = [];

  private register<F extends Family>(f: F): F {
    if (this.families.some((x) => x.name === f.name)) throw new Error(`metric ${f.name} is registered twice`);
    this.families.push(f);
    return f;
  }

  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets?: number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }

  /** Runs before every scrape; a failing collector leaves its gauges as they were. */
  collect(fn: () => void | Promise<void>): void {
    this.collectors.push(fn);
  }

  async render(): Promise<string> {
    await Promise.all(
      this.collectors.map(async (c) => {
        try {
          await c();
        } catch {
          /* stale values beat a failed scrape */
        }
      }),
    );
    return this.families.map((f) => f.render()).join('');
  }
}
