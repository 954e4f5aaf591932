// Prerequisites of tests: a Docker engine, the offline images, root, ansible, other tools.
//
// A missing prerequisite FAILS the test that needs it, naming what is missing and how to get it.
// To run the rest of the suite on a machine that lacks some of them, name them explicitly:
//
//   BERTH_TEST_SKIP=docker,root npm test
//
// Then the tests needing them are skipped (tap counts them as skipped) with a reason that names
// the variable. Nothing skips without that variable, and CI (.ci/run) fails on any skip.
//
// Use in a test (return at once when it answers false: the test has failed or was skipped):
//
//   import { requireDocker, requireImage, requireRoot, requireCommand } from './helpers/prereq.js';
//   t.test('...', async (t) => {
//     if (!(await requireDocker(t))) return;
//     if (!(await requireImage(t, 'berth.local/redis:7'))) return;
//     if (!(await requireRoot(t))) return;
//     if (!(await requireCommand(t, 'ansible', 'ansible-playbook', ['--version']))) return;
//     ...
//   });
//
// A prerequisite this file does not know yet: add its name to PREREQS (so BERTH_TEST_SKIP accepts
// it) and check it with `requirePrereq(t, name, async () => problem | undefined)`.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';

const pexec = promisify(execFile);

/** Names BERTH_TEST_SKIP accepts, with what each stands for. */
export const PREREQS = {
  docker: 'a Docker engine answering `docker info` (scripts/setup)',
  images: 'the offline images berth.local/* (scripts/images)',
  root: 'running as root (network namespaces, bridges, iptables, tmpfs mounts)',
  ansible: 'ansible and ansible-playbook (scripts/setup installs ansible-core)',
  systemd: 'systemd-analyze, to verify unit files (the systemd package)',
  etcd: 'the etcd server binary, `etcd` on PATH or BERTH_ETCD (scripts/setup installs etcd-server: /usr/bin/etcd)',
  kubectl: 'kubectl v1.32 in .tools/bin of the checkout or BERTH_KUBECTL (scripts/test-clients, run by scripts/setup)',
  helm: 'helm v3 in .tools/bin of the checkout or BERTH_HELM (scripts/test-clients, run by scripts/setup)',
  'python-kubernetes': "Python 3 with the official Kubernetes client, /usr/bin/python3 or BERTH_PYTHON (scripts/setup installs Debian's python3-kubernetes)",
  chromium: "Debian's chromium, /usr/bin/chromium or BERTH_CHROMIUM, driven headless by playwright-core (scripts/setup installs it)",
} as const;
export type PrereqName = keyof typeof PREREQS;

/** A tap Test, or the root `t`. */
type PrereqTest = Test;

/** Names listed in BERTH_TEST_SKIP (comma- or space-separated), and any it lists that are unknown. */
export function skipList(env: string | undefined = process.env.BERTH_TEST_SKIP): { names: Set<string>; unknown: string[] } {
  const names = new Set(
    (env ?? '')
      .split(/[,\s]+/)
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return { names, unknown: [...names].filter((n) => !(n in PREREQS)) };
}

/**
 * Checks one prerequisite: `problem` answers undefined when it is there, else what is missing.
 * Missing and not named in BERTH_TEST_SKIP: the test fails. Named there: the test is skipped.
 * Answers whether the test may go on.
 */
export async function requirePrereq(t: PrereqTest, name: PrereqName, problem: () => Promise<string | undefined> | string | undefined): Promise<boolean> {
  const { names, unknown } = skipList();
  if (unknown.length > 0) {
    t.fail(`BERTH_TEST_SKIP names unknown prerequisites: ${unknown.join(', ')} (known: ${Object.keys(PREREQS).join(', ')})`);
    return false;
  }
  let why: string | undefined;
  try {
    why = await problem();
  } catch (err) {
    why = `checking ${name} failed: ${(err as Error).message}`;
  }
  if (why === undefined) return true;
  if (names.has(name)) {
    t.skip(`${why} (skipped: BERTH_TEST_SKIP names ${name})`, async () => {});
  } else {
    t.fail(`missing prerequisite ${name}: ${why}; needs ${PREREQS[name]}. Set BERTH_TEST_SKIP=${name} to skip such tests instead`);
  }
  return false;
}

/** The first line of an exec error, for messages. */
function firstLine(err: unknown): string {
  return ((err as Error).message ?? String(err)).split('\n')[0] ?? '';
}

/** A Docker engine answers `docker info`. */
export function requireDocker(t: PrereqTest): Promise<boolean> {
  return requirePrereq(t, 'docker', async () => {
    try {
      await pexec('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 20_000 });
      return undefined;
    } catch (err) {
      return `no Docker engine answers (docker info: ${firstLine(err)})`;
    }
  });
}

/** Each image is in the local engine (scripts/images builds them; nothing is ever pulled). */
export function requireImage(t: PrereqTest, ...images: string[]): Promise<boolean> {
  return requirePrereq(t, 'images', async () => {
    for (const image of images) {
      try {
        await pexec('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { timeout: 20_000 });
      } catch {
        return `image ${image} is missing (run scripts/images)`;
      }
    }
    return undefined;
  });
}

/** The test process runs as root. */
export function requireRoot(t: PrereqTest): Promise<boolean> {
  return requirePrereq(t, 'root', () => (process.getuid?.() === 0 ? undefined : `not running as root (uid ${process.getuid?.()})`));
}

/** The etcd server binary tests run: BERTH_ETCD, else `etcd` on PATH. */
export function etcdBinary(): string {
  return process.env.BERTH_ETCD ?? 'etcd';
}

/** The etcd server binary runs (`etcd --version`); tests start their own members (test/helpers/etcd.ts). */
export function requireEtcd(t: PrereqTest): Promise<boolean> {
  return requireCommand(t, 'etcd', etcdBinary(), ['--version']);
}

/** Where scripts/test-clients puts kubectl and helm: .tools/bin of this checkout, used by tests only. */
export const TOOLS_BIN = join(new URL('../../', import.meta.url).pathname, '.tools', 'bin');

/** The kubectl tests run: BERTH_KUBECTL, else .tools/bin/kubectl (never the one on PATH). */
export function kubectlBinary(): string {
  return process.env.BERTH_KUBECTL || join(TOOLS_BIN, 'kubectl');
}

/** The helm tests run: BERTH_HELM, else .tools/bin/helm (never the one on PATH). */
export function helmBinary(): string {
  return process.env.BERTH_HELM || join(TOOLS_BIN, 'helm');
}

/** The Python with the Kubernetes client: BERTH_PYTHON, else Debian's /usr/bin/python3 (python3-kubernetes). */
export function pythonBinary(): string {
  return process.env.BERTH_PYTHON || '/usr/bin/python3';
}

/** kubectl runs (`kubectl version --client`). */
export function requireKubectl(t: PrereqTest): Promise<boolean> {
  return requireCommand(t, 'kubectl', kubectlBinary(), ['version', '--client']);
}

/** helm runs (`helm version`), with a scratch home so it writes nothing to the user's. */
export function requireHelm(t: PrereqTest): Promise<boolean> {
  return requirePrereq(t, 'helm', async () => {
    const home = join(new URL('../../', import.meta.url).pathname, '.tools');
    try {
      await pexec(helmBinary(), ['version', '--short'], {
        timeout: 60_000,
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(home, 'helm-cache'),
          HELM_CONFIG_HOME: join(home, 'helm-config'),
          HELM_DATA_HOME: join(home, 'helm-data'),
        },
      });
      return undefined;
    } catch (err) {
      return `${helmBinary()} version fails (${firstLine(err)})`;
    }
  });
}

/** Python imports the official Kubernetes client. */
export function requirePythonKubernetes(t: PrereqTest): Promise<boolean> {
  return requireCommand(t, 'python-kubernetes', pythonBinary(), ['-c', 'import kubernetes.client, kubernetes.config, kubernetes.watch']);
}

/** The Chromium the UI tests drive: BERTH_CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumBinary(): string {
  return process.env.BERTH_CHROMIUM || '/usr/bin/chromium';
}

/** Chromium runs (`chromium --version`). */
export function requireChromium(t: PrereqTest): Promise<boolean> {
  return requireCommand(t, 'chromium', chromiumBinary(), ['--version']);
}

/** `cmd args` runs and exits 0 (e.g. `ansible-playbook --version`), under the prerequisite `name`. */
export function requireCommand(t: PrereqTest, name: PrereqName, cmd: string, args: string[]): Promise<boolean> {
  return requirePrereq(t, name, async () => {
    try {
      await pexec(cmd, args, { timeout: 60_000 });
      return undefined;
    } catch (err) {
      return `${cmd} ${args.join(' ')} fails (${firstLine(err)})`;
    }
  });
}
