// Sends each pod's status as soon as it changes, in order, never the same status twice; keeps
// retrying while the controller is away. Also finalizes terminated pods.
import { ApiError } from '../../shared/client.js';
import type { Pod, PodStatus } from '../../shared/types.js';
import { ANN_FENCING_EPOCH } from '../../shared/fencing.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../log.js';
import type { ControllerConnection } from './connection.js';
import { podPath } from './connection.js';
import type { ControllerHealth } from './health.js';

/** The parts of a status that matter, insensitive to key order and to fields the controller may add. */
export function statusDigest(s: PodStatus | undefined): string {
  if (!s) return '';
  return JSON.stringify([
    s.phase,
    s.podIP ?? '',
    (s.conditions ?? []).map((c) => `${c.type}=${c.status}@${c.lastTransitionTime}`).sort(),
    (s.containerStatuses ?? []).map((c) => [
      c.name,
      c.ready,
      c.restartCount,
      c.containerID ?? '',
      Object.keys(c.state ?? {})
        .sort()
        .join(),
    ]),
  ]);
}

interface Entry {
  namespace: string;
  name: string;
  json: string;
  status: PodStatus;
  sent?: string;
  /** Digests of the last statuses sent, to tell late echoes of our own reports from changes made by others. */
  recent: string[];
  /** Whether `status` was computed here (not just the controller's copy). */
  ours: boolean;
  sending?: Promise<void>;
  retry?: NodeJS.Timeout;
  delay: number;
  /** The pod's fencing epoch: the controller refuses reports from an older copy. */
  epoch?: string;
}

export class StatusReporter {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    private readonly conn: ControllerConnection,
    private readonly health: ControllerHealth,
    private readonly log: Logger,
  ) {}

  /** What the controller already holds for a pod (from a list or watch): no need to send it. */
  known(pod: Pod): void {
    const e = this.entries.get(pod.metadata.uid);
    if (!e && pod.status) {
      const json = JSON.stringify(pod.status);
      this.entries.set(pod.metadata.uid, {
        namespace: pod.metadata.namespace ?? 'default',
        name: pod.metadata.name,
        json,
        status: pod.status,
        sent: json,
        recent: [statusDigest(pod.status)],
        ours: false,
        delay: 1000,
      });
    }
  }

  /**
   * The controller's copy of a pod, from the watch. When someone else changed its status (not a
   * late echo of one of our reports), our latest status is sent again.
   */
  reconcile(pod: Pod): void {
    const e = this.entries.get(pod.metadata.uid);
    if (!e?.ours || e.sending || e.retry || e.sent !== e.json) return;
    const d = statusDigest(pod.status);
    if (d === statusDigest(e.status) || e.recent.includes(d)) return;
    this.log.info({ pod: `${e.namespace}/${e.name}` }, 'pod status was changed by someone else; reporting it again');
    e.sent = undefined;
    this.kick(pod.metadata.uid, e);
  }

  update(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata.uid;
    const json = JSON.stringify(status);
    let e = this.entries.get(uid);
    if (!e) {
      e = { namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name, json, status, recent: [], ours: true, delay: 1000 };
      this.entries.set(uid, e);
    }
    e.json = json;
    e.status = status;
    e.ours = true;
    e.epoch = pod.metadata.annotations?.[ANN_FENCING_EPOCH];
    if (e.sent !== json) this.kick(uid, e);
  }

  /**
   * Sends every status computed here again, changed or not: after an outage or a
   * re-registration the controller may hold anything (e.g. Unknown from the node-lost check).
   */
  resendAll(): void {
    for (const [uid, e] of this.entries) {
      if (!e.ours) continue;
      e.sent = undefined;
      if (e.retry) {
        clearTimeout(e.retry);
        e.retry = undefined;
      }
      e.delay = 1000;
      this.kick(uid, e);
    }
  }

  forget(uid: string): void {
    const e = this.entries.get(uid);
    if (e?.retry) clearTimeout(e.retry);
    this.entries.delete(uid);
  }

  /** Waits (at most timeoutMs) until the latest status was sent. */
  async flush(uid: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.entries.get(uid);
      if (!e || e.sent === e.json || Date.now() >= deadline) return;
      if (e.sending) await Promise.race([e.sending, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) if (e.retry) clearTimeout(e.retry);
  }

  private kick(uid: string, e: Entry): void {
    if (e.sending || e.retry || this.stopped) return;
    e.sending = this.send(uid, e).finally(() => {
      e.sending = undefined;
      if (this.entries.get(uid) === e && e.sent !== e.json && !e.retry) this.kick(uid, e);
    });
  }

  private async send(uid: string, e: Entry): Promise<void> {
    const json = e.json;
    const status = e.status;
    try {
      // The uid guards against a late report landing on a re-created pod of the same name.
      const epoch = e.epoch ? `&epoch=${encodeURIComponent(e.epoch)}` : '';
      await this.conn.api.request('PUT', `${podPath(e.namespace, e.name, 'status')}?uid=${encodeURIComponent(uid)}${epoch}`, status);
      e.sent = json;
      e.recent = [...e.recent.slice(-4), statusDigest(status)];
      e.delay = 1000;
      this.health.ok();
      this.log.debug({ pod: `${e.namespace}/${e.name}`, phase: status.phase }, 'status reported');
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 409)) {
        // The pod object is gone (or is another pod now): nothing to report to.
        this.log.debug({ pod: `${e.namespace}/${e.name}`, uid }, 'status not reported: pod is gone');
        this.forget(uid);
        return;
      }
      if (err instanceof ApiError && err.status >= 400 && err.status < 500 && ![401, 408, 429].includes(err.status)) {
        // Sending the same body again cannot succeed; the next change is sent as usual.
        this.log.warn({ pod: `${e.namespace}/${e.name}`, status: err.status, err: errorMessage(err) }, 'the controller refused the pod status');
        e.sent = json;
        return;
      }
      if (!this.health.failed(err, 'report pod status')) {
        this.log.warn({ pod: `${e.namespace}/${e.name}`, err: errorMessage(err) }, 'status report failed');
      }
      if (this.stopped) return;
      e.retry = setTimeout(() => {
        e.retry = undefined;
        if (this.entries.get(uid) === e && e.sent !== e.json) this.kick(uid, e);
      }, e.delay);
      e.delay = Math.min(e.delay * 2, 10_000);
    }
  }
}

/**
 * Tells the controller a terminating pod's containers are gone. A 404 (no such pod) or 409
 * (the name now belongs to another uid) means this object is already gone.
 */
export async function finalizePod(conn: ControllerConnection, pod: Pod): Promise<void> {
  try {
    const epoch = pod.metadata.annotations?.[ANN_FENCING_EPOCH];
    await conn.api.request('POST', podPath(pod.metadata.namespace ?? 'default', pod.metadata.name, 'finalize'), {
      uid: pod.metadata.uid,
      ...(epoch ? { epoch } : {}),
    });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 409)) return;
    throw err;
  }
}

/** Records an event on a pod, best effort: events are for people, never worth a retry loop. */
export function postPodEvent(conn: ControllerConnection, pod: Pod, type: 'Normal' | 'Warning', reason: string, message: string, log: Logger): void {
  conn.api
    .request('POST', podPath(pod.metadata.namespace ?? 'default', pod.metadata.name, 'events'), { uid: pod.metadata.uid, type, reason, message })
    .catch((err: unknown) => log.debug({ pod: pod.metadata.name, reason, err: errorMessage(err) }, 'event not recorded'));
}
