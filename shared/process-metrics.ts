// The process metrics every Prometheus client library exposes (the Go client's process
// collector, prom-client's defaults for Node), under the same names, so the dashboards and
// alerts operators already have for them work: CPU, resident memory, file descriptors, start
// time, the V8 heap by space and the event loop's delay.
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { MetricsRegistry } from './metrics.js';

/** Fields of /proc/self/status in kB, and the soft open-files limit of /proc/self/limits. */
export interface ProcReading {
  vmRssBytes?: number;
  vmSizeBytes?: number;
  maxFds?: number;
}

/** Reads VmRSS and VmSize of a /proc/PID/status text (in bytes). */
export function parseProcStatus(text: string): Pick<ProcReading, 'vmRssBytes' | 'vmSizeBytes'> {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const out: Pick<ProcReading, 'vmRssBytes' | 'vmSizeBytes'> = {};
  const rss = kb('VmRSS');
  const size = kb('VmSize');
  if (rss !== undefined) out.vmRssBytes = rss;
  if (size !== undefined) out.vmSizeBytes = size;
  return out;
}

/** The soft limit of "Max open files" in a /proc/PID/limits text ("unlimited" is left out). */
export function parseMaxFds(text: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(text);
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** Registers the process and Node.js metrics on `registry`; their values are read at each scrape. */
export function addProcessMetrics(registry: MetricsRegistry): void {
  const cpuUser = registry.counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.');
  const cpuSystem = registry.counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.');
  const cpuTotal = registry.counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
  const start = registry.gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');
  const rss = registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
  const vsize = registry.gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.');
  const fds = registry.gauge('process_open_fds', 'Number of open file descriptors.');
  const maxFds = registry.gauge('process_max_fds', 'Maximum number of open file descriptors.');
  const heapTotal = registry.gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.');
  const heapUsed = registry.gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.');
  const external = registry.gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.');
  const spaceUsed = registry.gauge('nodejs_heap_space_size_used_bytes', 'Process heap space size used from Node.js in bytes.');
  const spaceTotal = registry.gauge('nodejs_heap_space_size_total_bytes', 'Process heap space size total from Node.js in bytes.');
  const lagMean = registry.gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays since the last scrape.');
  const lagP99 = registry.gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays since the last scrape.');
  const lagMax = registry.gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay since the last scrape.');
  const version = registry.gauge('nodejs_version_info', 'Node.js version info.');

  const [major, minor, patch] = process.versions.node.split('.');
  version.set({ version: process.version, major: major ?? '', minor: minor ?? '', patch: patch ?? '' }, 1);
  start.set({}, Math.round(Date.now() / 1000 - process.uptime()));
  cpuUser.inc({}, 0);
  cpuSystem.inc({}, 0);
  cpuTotal.inc({}, 0);
  // Sampled every 20 ms: a delay shorter than that is not seen, which is all a scrape needs.
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  let last = process.cpuUsage();

  registry.collect(() => {
    const now = process.cpuUsage();
    const user = Math.max(0, now.user - last.user) / 1e6;
    const system = Math.max(0, now.system - last.system) / 1e6;
    last = now;
    cpuUser.inc({}, user);
    cpuSystem.inc({}, system);
    cpuTotal.inc({}, user + system);

    const status = parseProcStatus(read('/proc/self/status') ?? '');
    rss.set({}, status.vmRssBytes ?? process.memoryUsage.rss());
    if (status.vmSizeBytes !== undefined) vsize.set({}, status.vmSizeBytes);
    const open = openFds();
    if (open !== undefined) fds.set({}, open);
    const limit = parseMaxFds(read('/proc/self/limits') ?? '');
    if (limit !== undefined) maxFds.set({}, limit);

    const mem = process.memoryUsage();
    heapTotal.set({}, mem.heapTotal);
    heapUsed.set({}, mem.heapUsed);
    external.set({}, mem.external);
    for (const s of v8.getHeapSpaceStatistics()) {
      const space = s.space_name.replace(/_space$/, '');
      spaceUsed.set({ space }, s.space_used_size);
      spaceTotal.set({ space }, s.space_size);
    }

    // Nanoseconds; NaN before the first sample.
    const ok = delay.count > 0;
    lagMean.set({}, ok ? delay.mean / 1e9 : 0);
    lagP99.set({}, ok ? delay.percentile(99) / 1e9 : 0);
    lagMax.set({}, ok ? delay.max / 1e9 : 0);
    delay.reset();
  });
}
