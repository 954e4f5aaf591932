// Docker's pull progress comes as one message per layer step; this folds them into one line
// (layers done/total, bytes) for the log and the pod's Pulling event, and counts new bytes.

interface Layer {
  current: number;
  total: number;
  done: boolean;
}

/** One progress message of an image pull, as the engine streams it. */
export interface PullProgress {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
}

export interface PullSummary {
  layers: number;
  layersDone: number;
  downloadedBytes: number;
  /** Sum of the sizes of layers whose size is known yet. */
  totalBytes: number;
}

/** Layer ids are short hex digests; other messages with an id (`Pulling from repo`) carry the tag. */
const LAYER_ID = /^[0-9a-f]{12,64}$/;

export class PullProgressTracker {
  private readonly layers = new Map<string, Layer>();

  /** Folds in one message; returns the bytes downloaded since the previous message. */
  add(p: PullProgress): number {
    if (!p.id || !LAYER_ID.test(p.id) || !p.status) return 0;
    let l = this.layers.get(p.id);
    if (!l) {
      l = { current: 0, total: 0, done: false };
      this.layers.set(p.id, l);
    }
    const before = l.current;
    const status = p.status;
    if (status === 'Downloading') {
      if (p.progressDetail?.total) l.total = p.progressDetail.total;
      if (p.progressDetail?.current !== undefined) l.current = Math.max(l.current, p.progressDetail.current);
    } else if (status === 'Download complete' || status === 'Verifying Checksum') {
      if (l.total > 0) l.current = l.total;
    } else if (status === 'Pull complete' || status === 'Already exists') {
      l.done = true;
    }
    return l.current - before;
  }

  summary(): PullSummary {
    let layersDone = 0;
    let downloadedBytes = 0;
    let totalBytes = 0;
    for (const l of this.layers.values()) {
      if (l.done) layersDone++;
      downloadedBytes += l.current;
      totalBytes += l.total;
    }
    return { layers: this.layers.size, layersDone, downloadedBytes, totalBytes };
  }
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}

export function describePull(image: string, s: PullSummary): string {
  const bytes = s.totalBytes > 0 ? `, ${formatBytes(s.downloadedBytes)} of ${formatBytes(s.totalBytes)}` : '';
  return `Pulling image "${image}": ${s.layersDone}/${s.layers} layers done${bytes}`;
}
