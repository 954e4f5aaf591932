// The page's calls of the controller's API: fetch with the token as a Bearer header (never in a
// URL), and list+watch informers over the watch API (streamed JSON lines read from fetch), which
// list again when a watch ends or answers 410 Expired, as client-go's reflector does.
import { keyOf, splitLines, watchStep } from './model.js';

const TOKEN_KEY = 'berth.token';

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer other than 2xx: its status and the Status message the controller sent. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  /** Called when the token is refused (401): the page shows the login again. */
  onUnauthorized: () => void = () => {};

  constructor(readonly token: string) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, accept: 'application/json', ...extra };
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<T> {
    const res = await fetch(path, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': contentType }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      cache: 'no-store',
      credentials: 'omit',
      ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      if (res.status === 401) this.onUnauthorized();
      const msg = (json as { message?: string } | undefined)?.message ?? `${res.status} ${res.statusText}`;
      throw new ApiFailure(res.status, msg);
    }
    return json as T;
  }

  /** The watch stream of `path` from `resourceVersion`: each event to `onEvent`; resolves when the stream ends. */
  async watch(path: string, resourceVersion: string, onEvent: (e: WatchLine) => boolean | undefined, signal: AbortSignal): Promise<void> {
    const sep = path.includes('?') ? '&' : '?';
    const res = await fetch(`${path}${sep}watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(resourceVersion)}`, {
      headers: this.headers(),
      cache: 'no-store',
      credentials: 'omit',
      signal,
    });
    if (!res.ok || !res.body) {
      if (res.status === 401) this.onUnauthorized();
      throw new ApiFailure(res.status, `watch ${path}: ${res.status}`);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let rest = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const split = splitLines(rest, value);
        rest = split.rest;
        for (const line of split.lines) if (onEvent(JSON.parse(line) as WatchLine) === false) return;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}

export interface WatchLine {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: { kind?: string; code?: number; metadata: { name: string; namespace?: string; resourceVersion?: string } } & Record<string, unknown>;
}

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string } };

/**
 * The objects of one list path, kept current: list, then watch from the list's resourceVersion;
 * when the watch ends (the controller restarted, a timeout) or sends an ERROR (410 Expired),
 * list again. Failures are retried after a pause growing to 5 s. `onChange` runs after each
 * change or re-list (the page batches its renders per frame).
 */
export class Informer<T extends Obj> {
  readonly items = new Map<string, T>();
  /** Whether the first list arrived. */
  synced = false;
  /** The last failure, shown in the page's status line until the next success. */
  error = '';
  /** Lists made (the first included): the page's status line and the tests see re-lists. */
  lists = 0;
  private readonly abort = new AbortController();

  constructor(
    private readonly api: Api,
    readonly path: string,
    private readonly onChange: () => void,
  ) {}

  start(): void {
    void this.run();
  }

  stop(): void {
    this.abort.abort();
  }

  private async run(): Promise<void> {
    let pause = 250;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const list = await this.api.request<{ metadata: { resourceVersion: string }; items: T[] }>('GET', this.path, undefined, undefined, signal);
        this.items.clear();
        for (const o of list.items) this.items.set(keyOf(o), o);
        this.synced = true;
        this.lists++;
        this.error = '';
        this.onChange();
        let rv = list.metadata.resourceVersion;
        pause = 250;
        await this.api.watch(
          this.path,
          rv,
          (e) => {
            const step = watchStep(e);
            if (step === 'relist') return false;
            const o = e.object as unknown as T;
            if (o.metadata?.resourceVersion) rv = o.metadata.resourceVersion;
            if (step === 'bookmark') return true;
            if (e.type === 'DELETED') this.items.delete(keyOf(o));
            else this.items.set(keyOf(o), o);
            this.onChange();
            return true;
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted) return;
        this.error = (err as Error).message;
        this.onChange();
        pause = Math.min(pause * 2, 5000);
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
