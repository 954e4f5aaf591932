// The manifest directory (`berth controller up --manifests DIR`): every `.yaml`, `.yml` and
// `.json` file in it is applied like `berth apply -f FILE`, kept applied as it changes, and its
// objects are deleted when it is removed (also when that happened while the controller was down).
import { readFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { SourceProblem } from '../../shared/manifest/parse.js';
import type { Kind } from '../../shared/types.js';
import { StatusError } from '../errors.js';
import type { EventRecorder } from '../events/recorder.js';
import type { Operations } from '../objects/operations.js';
import type { Store } from '../store/types.js';
import { KeyedRetry } from '../retry/keyed-retry.js';
import type { BackoffOptions } from '../retry/backoff.js';
import { filesGone, isManifestFile, ownedBy, planFile, refKey, refOf, type AppliedFiles, type ObjectRef } from './plan.js';

/** Store meta key holding AppliedFiles as JSON. */
export const META_KEY = 'manifest-files';

export interface ManifestDirectoryOptions {
  dir: string;
  store: Store;
  ops: Operations;
  events: EventRecorder;
  log: Logger;
}

export class ManifestDirectory {
  private watcher?: FSWatcher;
  private chain: Promise<void> = Promise.resolve();
  /** Files refused because another file defines the same object: retried after every change. */
  private readonly blocked = new Set<string>();
  private readonly log: Logger;
  /** A file whose apply or removal fails (the store refuses a write) is retried with back-off. */
  private readonly retry: KeyedRetry;
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly opts: ManifestDirectoryOptions & { backoff?: BackoffOptions }) {
    this.log = opts.log.child({ part: 'manifests', dir: opts.dir });
    this.retry = new KeyedRetry(this.log, 'manifest file', 'file', opts.backoff);
  }

  async start(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    const seen = new Set<string>();
    let ready = false;
    const w = chokidar.watch(this.opts.dir, {
      ignoreInitial: false,
      atomic: true,
      depth: 0,
      awaitWriteFinish: { stabilityThreshold: 200, pollInterval: 50 },
    });
    this.watcher = w;
    const name = (path: string): string | undefined => {
      const n = basename(path);
      return join(this.opts.dir, n) === path && isManifestFile(n) ? n : undefined;
    };
    w.on('add', (path) => {
      const n = name(path);
      if (!n) return;
      if (!ready) seen.add(n);
      this.enqueueFile(n, () => this.sync(n));
    });
    w.on('change', (path) => {
      const n = name(path);
      if (n) this.enqueueFile(n, () => this.sync(n));
    });
    w.on('unlink', (path) => {
      const n = name(path);
      if (n) this.enqueueFile(n, () => this.remove(n));
    });
    w.on('error', (err) => this.log.error({ err }, 'watching the manifest directory failed'));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    ready = true;
    // Files removed while the controller was down: their objects go now.
    for (const f of filesGone(this.applied(), seen)) this.enqueueFile(f, () => this.remove(f));
    await this.idle();
    this.log.info({ files: seen.size }, 'watching the manifest directory');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    await this.watcher?.close();
    await this.idle();
  }

  /** Resolves once every queued change has been handled. */
  idle(): Promise<void> {
    return this.chain;
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => this.log.error({ err }, 'manifest directory change failed'));
  }

  /**
   * A change of one file, after the ones before it. A failure is retried with back-off (as a
   * sync, which reads the file afresh and removes the objects of a file that is gone); a new
   * change of the file replaces the pending retry and starts again from the base delay.
   */
  private enqueueFile(file: string, fn: () => Promise<void>, isRetry = false): void {
    if (this.stopped) return;
    if (!isRetry) {
      clearTimeout(this.retryTimers.get(file));
      this.retryTimers.delete(file);
      this.retry.changed(file);
    }
    this.enqueue(async () => {
      try {
        await fn();
        this.retry.succeeded(file);
        clearTimeout(this.retryTimers.get(file));
        this.retryTimers.delete(file);
      } catch (err) {
        const f = this.retry.failed(file, err);
        if (this.stopped) return;
        clearTimeout(this.retryTimers.get(file));
        const t = setTimeout(() => {
          this.retryTimers.delete(file);
          this.enqueueFile(file, () => this.sync(file), true);
        }, f.delayMs);
        t.unref();
        this.retryTimers.set(file, t);
      }
    });
  }

  private applied(): AppliedFiles {
    const raw = this.opts.store.getMeta(META_KEY);
    return raw ? (JSON.parse(raw) as AppliedFiles) : {};
  }

  private async record(file: string, refs: ObjectRef[] | undefined): Promise<void> {
    await this.opts.store.transaction((tx) => {
      const raw = tx.getMeta(META_KEY);
      const all = raw ? (JSON.parse(raw) as AppliedFiles) : {};
      if (refs) all[file] = refs;
      else delete all[file];
      tx.setMeta(META_KEY, JSON.stringify(all));
    });
  }

  private async sync(file: string): Promise<void> {
    const path = join(this.opts.dir, file);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.remove(file);
      return this.refuse(file, [{ file: path, line: 1, field: '(file)', message: `cannot read: ${(err as Error).message}` }]);
    }
    // The manifest parser and validation are loaded by the first file, not when the controller starts.
    const [{ loadManifests }, { formatProblem }] = await Promise.all([import('../../shared/manifest/load.js'), import('../../shared/manifest/parse.js')]);
    const loaded = loadManifests([{ file: path, text }], 'default', false);
    for (const w of loaded.warnings) this.log.warn({ file }, formatProblem(w));
    if (loaded.errors.length > 0) return this.refuse(file, loaded.errors);

    const plan = planFile(file, loaded.objects, this.applied());
    if (plan.conflicts.length > 0) {
      this.blocked.add(file);
      return this.refuse(
        file,
        plan.conflicts.map((c) => ({ file: path, line: 1, field: 'metadata.name', message: `${c.ref.kind} "${c.ref.name}" is already defined by ${c.file}` })),
      );
    }
    let summary: string[] = [];
    if (plan.apply.length > 0) {
      try {
        const { results } = await this.opts.ops.apply(plan.apply);
        summary = results.filter((r) => r.result !== 'unchanged').map((r) => `${r.kind}/${r.name} ${r.result}`);
      } catch (err) {
        if (!(err instanceof StatusError)) throw err;
        const causes = err.causes ?? [{ field: '', message: err.message }];
        return this.refuse(
          file,
          causes.map((c) => ({ file: path, line: 1, field: c.field, message: c.message })),
        );
      }
    }
    const deleted = await this.deleteOwned(file, plan.delete);
    await this.record(file, loaded.objects.map(refOf));
    this.blocked.delete(file);
    if (summary.length + deleted.length > 0) {
      const message = `applied ${file}: ${[...summary, ...deleted.map((d) => `${d} deleted`)].join(', ')}`;
      this.log.info({ file }, message);
      await this.opts.events.record(fileObject(file), 'Normal', 'Applied', message);
    }
    if (deleted.length > 0) this.retryBlocked();
  }

  private async remove(file: string): Promise<void> {
    const refs = this.applied()[file];
    this.blocked.delete(file);
    if (!refs) return;
    const deleted = await this.deleteOwned(file, refs);
    await this.record(file, undefined);
    const message = `removed ${file}: ${deleted.length > 0 ? deleted.map((d) => `${d} deleted`).join(', ') : 'nothing to delete'}`;
    this.log.info({ file }, message);
    await this.opts.events.record(fileObject(file), 'Normal', 'Removed', message);
    this.retryBlocked();
  }

  /** Normal deletes (pods terminate, claims stay unless the retention policy says otherwise). */
  private async deleteOwned(file: string, refs: ObjectRef[]): Promise<string[]> {
    const out: string[] = [];
    for (const r of refs) {
      const cur = this.opts.store.get(r.kind as Kind, r.namespace, r.name);
      if (!cur || !ownedBy(cur.metadata.annotations, file)) continue;
      try {
        await this.opts.ops.delete(r.kind as Kind, r.namespace, r.name, undefined);
        out.push(`${r.kind}/${r.name}`);
      } catch (err) {
        this.log.warn({ file, object: refKey(r), err: (err as Error).message }, 'deleting an object of a manifest file failed');
      }
    }
    return out;
  }

  private retryBlocked(): void {
    for (const f of [...this.blocked]) this.enqueueFile(f, () => this.sync(f));
  }

  /** A bad file changes nothing: what its last good version applied keeps running. */
  private async refuse(file: string, problems: SourceProblem[]): Promise<void> {
    const { formatProblem } = await import('../../shared/manifest/parse.js');
    for (const p of problems) this.log.warn({ file }, `manifest file refused: ${formatProblem(p)}`);
    const message = `${file} not applied, nothing changed: ${problems.map(formatProblem).join('; ')}`.slice(0, 1024);
    await this.opts.events.record(fileObject(file), 'Warning', 'InvalidManifest', message);
  }
}

/** Events about a file are recorded on a `ManifestFile` object named after it, in `default`. */
function fileObject(file: string) {
  return { kind: 'ManifestFile' as Kind, metadata: { name: file, namespace: 'default' } } as never;
}
