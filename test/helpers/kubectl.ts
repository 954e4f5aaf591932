// The real Kubernetes clients against a berth controller: kubectl and helm (from .tools/bin,
// scripts/test-clients), the official Python client (Debian's python3-kubernetes) and the
// official JavaScript client (@kubernetes/client-node). Each run gets KUBECONFIG and a scratch
// HOME, so nothing is read from or written to the user's ~/.kube or Helm directories.
//
// Prerequisites: requireKubectl, requireHelm, requirePythonKubernetes (./prereq.ts).
//
//   const c = new Cluster('kubectl'); await c.startController(); ...
//   const kubeconfig = await writeKubeconfig(c);                 // berth config kubeconfig -o ...
//   const r = await kubectl(['get', 'pods', '-o', 'json'], { kubeconfig });
//   const w = kubectlStream(['get', 'pods', '-w'], { kubeconfig }); await w.waitFor(/web-1/); await w.stop();
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as K8s from '@kubernetes/client-node';
import { type Cluster, runCli, stopProcess } from './cluster.js';
import { helmBinary, kubectlBinary, pythonBinary } from './prereq.js';

export { requireHelm, requireKubectl, requirePythonKubernetes, kubectlBinary, helmBinary, pythonBinary } from './prereq.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The run was stopped (SIGTERM, then SIGKILL) because it took longer than timeoutMs. */
  timedOut: boolean;
}

export interface ClientRunOptions {
  /** KUBECONFIG of the run; required for anything that talks to a server. */
  kubeconfig?: string;
  /** Written to stdin, which is then closed. */
  input?: string;
  /** Stop the run after this long (default 60 s); the result says timedOut. */
  timeoutMs?: number;
  /** More environment variables. */
  env?: Record<string, string>;
  /** Working directory (default: this process's). */
  cwd?: string;
}

let scratch: string | undefined;

/** A HOME for the clients of this process, removed when it exits. */
export function scratchHome(): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'berth-kube-clients-'));
    scratch = dir;
    for (const d of ['helm/cache', 'helm/config', 'helm/data', '.kube']) mkdirSync(join(dir, d), { recursive: true });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

/** The environment every client run gets: the process's, a scratch HOME, KUBECONFIG, `extra`. */
function clientEnv(opts: ClientRunOptions): NodeJS.ProcessEnv {
  const home = scratchHome();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    HELM_CACHE_HOME: join(home, 'helm/cache'),
    HELM_CONFIG_HOME: join(home, 'helm/config'),
    HELM_DATA_HOME: join(home, 'helm/data'),
    ...opts.env,
  };
  // Never the user's kubeconfig: without one the client finds none.
  if (opts.kubeconfig) env.KUBECONFIG = opts.kubeconfig;
  else env.KUBECONFIG = join(home, '.kube', 'none');
  return env;
}

/** Runs `cmd args` to its end (or timeoutMs) and collects what it printed. */
export function runClient(cmd: string, args: string[], opts: ClientRunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: clientEnv(opts), stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.on('error', () => undefined); // a client that exits without reading its stdin
    const timer = setTimeout(() => {
      timedOut = true;
      void stopProcess(p, 5_000);
    }, opts.timeoutMs ?? 60_000);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, timedOut });
    });
    p.stdin.end(opts.input ?? '');
  });
}

/** kubectl ARGS with the kubeconfig given. */
export function kubectl(args: string[], opts: ClientRunOptions = {}): Promise<RunResult> {
  return runClient(kubectlBinary(), args, opts);
}

/** kubectl ARGS; a non-zero exit (or a timeout) throws with everything it printed. Answers stdout. */
export async function kubectlOk(args: string[], opts: ClientRunOptions = {}): Promise<string> {
  const r = await kubectl(args, opts);
  if (r.code !== 0 || r.timedOut) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** helm ARGS with the kubeconfig given, its cache, config and data in the scratch HOME. */
export function helm(args: string[], opts: ClientRunOptions = {}): Promise<RunResult> {
  return runClient(helmBinary(), args, opts);
}

/** Runs a Python script (its text) with the Kubernetes client; `env` reaches it (KUBECONFIG: opts.kubeconfig). */
export function runPython(script: string, env: Record<string, string> = {}, opts: Omit<ClientRunOptions, 'env' | 'input'> = {}): Promise<RunResult> {
  return runClient(pythonBinary(), ['-c', script], { ...opts, env });
}

/** A client that keeps running (get -w, port-forward, logs -f): what it printed so far, and a way to stop it. */
export interface ClientStream {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with stdout once it matches `re`; rejects after timeoutMs or when the client exits first. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<string>;
  /** Stops the client (SIGTERM, by PID) and waits for it; answers its exit code. */
  stop: () => Promise<number | null>;
}

/** Starts `cmd args` in the background; the caller stops it (stop()), tap teardown is a good place. */
export function startClient(cmd: string, args: string[], opts: Omit<ClientRunOptions, 'timeoutMs'> = {}): ClientStream {
  const p = spawn(cmd, args, { env: clientEnv(opts), stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of [...waiters]) w();
  };
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    poke();
  });
  p.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    poke();
  });
  p.on('exit', poke);
  p.stdin!.on('error', () => undefined);
  if (opts.input !== undefined) p.stdin!.end(opts.input);
  const waitFor = (re: RegExp, timeoutMs = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (re.test(out)) {
          done();
          resolve(out);
        } else if (p.exitCode !== null || p.signalCode !== null) {
          done();
          reject(new Error(`${cmd} ${args.join(' ')} exited (${p.exitCode ?? p.signalCode}) before printing ${re}: ${out}${err}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${cmd} ${args.join(' ')}: ${out}${err}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const stop = async () => {
    await stopProcess(p, 5_000);
    return p.exitCode;
  };
  return { proc: p, stdout: () => out, stderr: () => err, waitFor, stop };
}

/** kubectl ARGS in the background (get -w, port-forward). */
export function kubectlStream(args: string[], opts: Omit<ClientRunOptions, 'timeoutMs'> = {}): ClientStream {
  return startClient(kubectlBinary(), args, opts);
}

/**
 * Writes the kubeconfig of the cluster's controller with the built CLI (`berth config
 * kubeconfig -o FILE`, from its admin.conf) into the cluster's directory, removed with it.
 * `extra`: more arguments (e.g. `--token`, `--context`, `-n`). Answers the file's path.
 */
export async function writeKubeconfig(cluster: Cluster, extra: string[] = [], file = join(cluster.dir, 'kubeconfig')): Promise<string> {
  const r = await runCli([...extra, 'config', 'kubeconfig', '-o', file], {
    BERTH_CONFIG: join(cluster.controllerDir, 'admin.conf'),
    BERTH_SERVER: '',
    BERTH_TOKEN: '',
  });
  if (r.code !== 0) throw new Error(`berth config kubeconfig exited ${r.code}: ${r.stdout}${r.stderr}`);
  return file;
}

/** The official JavaScript client for a kubeconfig file: the config and the APIs the tests use. */
export interface NodeClients {
  k8s: typeof K8s;
  kc: K8s.KubeConfig;
  core: K8s.CoreV1Api;
  apps: K8s.AppsV1Api;
  /** Watches `path` (e.g. /api/v1/namespaces/default/pods); answers a way to stop it. */
  watch: (
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, obj: K8s.KubernetesObject) => void,
  ) => Promise<() => void>;
}

/** Loads @kubernetes/client-node (only when a test asks for it) with the kubeconfig at `file`. */
export async function nodeClients(file: string): Promise<NodeClients> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  const watcher = new k8s.Watch(kc);
  return {
    k8s,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    watch: async (path, query, onEvent) => {
      const ctl = await watcher.watch(
        path,
        query,
        (type, obj) => onEvent(type, obj as K8s.KubernetesObject),
        () => undefined,
      );
      return () => ctl.abort();
    },
  };
}
