// Compaction of etcd's history, as kube-apiserver does it (k8s.io/apiserver
// pkg/storage/etcd3/compact.go): every interval each controller runs a Txn that compares the
// version of one key, `compact_rev_key`, with the version it saw last; the one whose compare holds
// writes the key (bumping its version) and compacts to the revision it saw one interval earlier;
// the others' compares fail, so they only learn the new version and the current revision. So
// exactly one controller compacts per interval, whichever it is, and nothing depends on the
// leader election (a controller without leadership compacts as well as the leader would).
//
// The key is outside every prefix (etcd's compaction is for the whole cluster, not a prefix), and
// its protocol is kube-apiserver's: controllers and kube-apiservers on one etcd share the turns.
// Watches behind the compacted revision are cancelled by etcd and re-list (etcd.ts relist); a
// client resuming from before gets 410 (changesSince).
import { CompareResult, CompareTarget, type Etcd3 } from 'etcd3';
import type { Logger } from 'pino';

export const COMPACT_REV_KEY = 'compact_rev_key';

/** kube-apiserver's --etcd-compaction-interval default. */
export const DEFAULT_COMPACTION_INTERVAL_MS = 5 * 60_000;

/** A call to etcd (one member after another; EtcdStore.etcdCall). */
export type EtcdCall = <T>(what: string, call: (client: Etcd3, options: { deadline: Date }) => Promise<T>) => Promise<T>;

export interface CompactionRound {
  /** This controller won the turn (its compare held). */
  won: boolean;
  /** The revision compacted to, when it won and had seen one an interval earlier. */
  compacted?: number;
}

export class EtcdCompactor {
  /** The version of compact_rev_key seen last (0: none yet). */
  private version = 0;
  /** The cluster's revision one interval ago: what the next turn compacts to (0: none yet). */
  private revision = 0;
  private timer?: NodeJS.Timeout;
  private running = false;
  private lastError?: string;

  constructor(
    private readonly call: EtcdCall,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Starts the rounds; an interval of 0 compacts never. */
  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    // The first round at once: it only reads the key's version and the revision (as kube's).
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const r = await this.round();
      if (this.lastError !== undefined) this.log.info('etcd compaction works again');
      this.lastError = undefined;
      if (r.compacted !== undefined) this.log.info({ revision: r.compacted }, 'etcd history compacted');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError) this.log.warn({ err }, 'etcd compaction failed; tried again next interval');
      this.lastError = message;
    } finally {
      this.running = false;
    }
  }

  /** One turn: the CAS on compact_rev_key, then (won, with a revision from a turn ago) the compaction. */
  async round(): Promise<CompactionRound> {
    const key = Buffer.from(COMPACT_REV_KEY);
    const target = this.revision;
    const res = await this.call('etcd compaction', (c, o) =>
      c.kv.txn(
        {
          compare: [{ key, target: CompareTarget.Version, result: CompareResult.Equal, version: String(this.version) }],
          success: [{ request_put: { key, value: Buffer.from(String(target)) } }],
          failure: [{ request_range: { key } }],
        },
        o,
      ),
    );
    // Whoever won, the next turn compacts to the revision of now (as kube's).
    this.revision = Number(res.header.revision);
    if (!res.succeeded) {
      const kv = res.responses[0]?.response_range?.kvs[0];
      this.version = kv ? Number(kv.version) : 0;
      return { won: false };
    }
    this.version += 1;
    if (target === 0) return { won: true };
    // Refused when the history was compacted beyond it already (by an operator): logged, and the
    // next turn compacts to a newer revision.
    await this.call('etcd compaction', (c, o) => c.kv.compact({ revision: String(target), physical: false }, o));
    return { won: true, compacted: target };
  }
}
