// The Ansible role in scripts/ansible, run for real: a package tarball from `npm pack`, a
// controller and two agents as local-connection hosts (each with its own data dir, ports and
// pidfiles under a temp dir, the agents on the real Docker engine, the service manager in
// pidfile mode since no systemd runs here), the nodes Ready, and a second run that changes
// nothing. Also scripts/install.sh into the same prefix, and `systemd-analyze verify` on the
// units it writes when that binary exists.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ROOT, removeContainers, runCli, waitFor } from './helpers/cluster.js';
import { requireCommand, requireDocker } from './helpers/prereq.js';

const PLAYBOOK = join(ROOT, 'scripts/ansible/site.yml');
const INSTALL_SH = join(ROOT, 'scripts/install.sh');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Run {
  code: number;
  out: string;
  ms: number;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, out, ms: Date.now() - started }));
  });
}

/** PLAY RECAP lines: host → counters. */
function recap(out: string): Map<string, Record<string, number>> {
  const hosts = new Map<string, Record<string, number>>();
  const at = out.lastIndexOf('PLAY RECAP');
  for (const line of out.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s*:\s*(ok=.*)$/.exec(line.trim());
    if (!m) continue;
    const counts: Record<string, number> = {};
    for (const [, k, v] of m[2]!.matchAll(/(\w+)=(\d+)/g)) counts[k!] = Number(v);
    hosts.set(m[1]!, counts);
  }
  return hosts;
}

/** SIGTERM the process of a pidfile (only if its command line is ours), wait, then SIGKILL. */
async function stopPidfile(pidfile: string, mustContain: string): Promise<void> {
  if (!existsSync(pidfile)) return;
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(mustContain);
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
}

// `npm install` of the tarball builds better-sqlite3 from source: minutes on a busy 2-core host.
t.setTimeout(1_200_000);

t.test('Ansible role: controller and agents, idempotent', async (t) => {
  if (!(await requireDocker(t))) return;
  if (!(await requireCommand(t, 'ansible', 'ansible-playbook', ['--version']))) return;

  const dir = mkdtempSync(join(tmpdir(), 'berth-ansible-'));
  const prefix = join(dir, 'prefix');
  const agents = [`ans-a-${process.pid}`, `ans-b-${process.pid}`];
  const hostDir = (h: string) => join(dir, h);
  const pidfile = (h: string, role: string) => join(hostDir(h), 'run', `berth-${role}.pid`);
  t.teardown(async () => {
    // Agents first, so they do not retry against a stopped controller.
    for (const a of agents) await stopPidfile(pidfile(a, 'agent'), dir);
    await stopPidfile(pidfile('ctl', 'controller'), dir);
    await removeContainers(agents);
    rmSync(dir, { recursive: true, force: true });
  });

  // (a) the package
  const packed = await run('npm', ['pack', '--pack-destination', dir, '--silent']);
  if (packed.code !== 0) t.comment(packed.out);
  t.equal(packed.code, 0, 'npm pack');
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) return t.fail(`npm pack made no tarball: ${packed.out}`);
  const pkg = join(dir, tarball);

  // (b) inventory: local-connection hosts, each with its own directories and ports
  const port = await freePort();
  const perHost = (h: string) => ({
    berth_env_dir: join(hostDir(h), 'etc'),
    berth_run_dir: join(hostDir(h), 'run'),
    berth_log_dir: join(hostDir(h), 'log'),
    berth_systemd_dir: join(hostDir(h), 'systemd'),
  });
  const inventory = {
    all: {
      vars: {
        ansible_connection: 'local',
        ansible_python_interpreter: 'auto_silent',
        ansible_become: false,
        berth_service_manager: 'pidfile',
        berth_prefix: prefix,
        berth_cache_dir: join(dir, 'cache'),
        berth_package_file: pkg,
        // From npm's cache where it can; cpu-features (optional, for ssh2) is not worth a build.
        berth_npm_install_args: ['--prefer-offline', '--omit=optional'],
        berth_install_node: false,
        berth_install_docker: false,
      },
      children: {
        controller: {
          hosts: {
            ctl: { ...perHost('ctl'), berth_controller_data_dir: join(hostDir('ctl'), 'data'), berth_controller_listen: `127.0.0.1:${port}` },
          },
        },
        agents: {
          hosts: Object.fromEntries(
            agents.map((a) => [
              a,
              {
                ...perHost(a),
                berth_agent_data_dir: join(hostDir(a), 'data'),
                berth_agent_listen: '127.0.0.1:0',
                // Two agents on one host and engine: no DNS on port 53, the default bridge network.
                berth_agent_args: ['--advertise-address', '127.0.0.1', '--dns-listen', 'none', '--pod-network', 'bridge'],
              },
            ]),
          ),
        },
      },
    },
  };
  const invFile = join(dir, 'inventory.yml');
  writeFileSync(invFile, YAML.stringify(inventory));
  mkdirSync(join(dir, 'ansible-tmp'));
  const ansibleEnv = {
    ANSIBLE_CONFIG: join(ROOT, 'scripts/ansible/ansible.cfg'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
    ANSIBLE_REMOTE_TEMP: join(dir, 'ansible-tmp'),
  };
  const playbook = () => run('ansible-playbook', ['-i', invFile, PLAYBOOK], ansibleEnv);

  const first = await playbook();
  t.comment(`first ansible-playbook run: ${first.ms} ms`);
  if (first.code !== 0) {
    const logs = ['ctl', ...agents].map((h) => {
      const d = join(hostDir(h), 'log');
      return existsSync(d)
        ? readdirSync(d)
            .map((f) => readFileSync(join(d, f), 'utf8').slice(-3000))
            .join('\n')
        : '';
    });
    t.comment(first.out.slice(-8000));
    t.comment(logs.join('\n'));
    t.fail(`ansible-playbook exited ${first.code} (its output is above)`);
    return;
  }
  const r1 = recap(first.out);
  t.same([...r1.keys()].sort(), ['ctl', ...agents].sort(), 'every host in the recap');
  for (const [h, c] of r1) t.equal(c.failed, 0, `${h}: nothing failed`);

  // (c) the controller answers and both nodes are Ready
  const adminConf = join(hostDir('ctl'), 'data', 'admin.conf');
  t.ok(existsSync(adminConf), 'admin.conf written');
  const env = { BERTH_CONFIG: adminConf };
  const nodes = await waitFor(
    'both nodes Ready',
    async () => {
      const r = await runCli(['get', 'nodes', '-o', 'json'], env);
      if (r.code !== 0) return undefined;
      const list = JSON.parse(r.stdout) as { items: { metadata: { name: string }; status: { conditions: { type: string; status: string }[] } }[] };
      const ready = list.items.filter((n) => agents.includes(n.metadata.name) && n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === agents.length ? list.items : undefined;
    },
    90_000,
    500,
  ).catch((err: Error) => {
    const logs = agents
      .map((a) => (existsSync(join(hostDir(a), 'log', 'berth-agent.log')) ? readFileSync(join(hostDir(a), 'log', 'berth-agent.log'), 'utf8').slice(-3000) : ''))
      .join('\n');
    throw new Error(`${err.message}\n${logs}`);
  });
  t.same(nodes.map((n) => n.metadata.name).sort(), agents.slice().sort(), 'the agents joined as nodes');
  const envFile = readFileSync(join(hostDir(agents[0]!), 'etc', 'berth-agent'), 'utf8');
  t.match(envFile, /^BERTH_SERVER=\S+:\d+$/m, 'agent env file names the server');
  t.match(envFile, /^BERTH_JOIN_TOKEN=\S+$/m, 'agent env file has the join token');
  t.match(envFile, new RegExp(`^BERTH_AGENT_ARGS=".*--node-name ${agents[0]} .*"$`, 'm'), 'agent env file has the node flags');
  const joinCommand = join(hostDir('ctl'), 'data', 'join-command');
  if (existsSync(joinCommand)) {
    const line = readFileSync(joinCommand, 'utf8').trim();
    const server = /--server[= ](\S+)/.exec(line)?.[1];
    t.match(envFile, `BERTH_SERVER=${server}\n`, "the server is the join command's, unchanged");
  }
  for (const h of ['ctl', ...agents]) {
    const role = h === 'ctl' ? 'controller' : 'agent';
    const pid = readFileSync(pidfile(h, role), 'utf8').trim();
    t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), `${prefix}/bin/berth`, `${h}: the pidfile names berth from the prefix`);
  }

  // (d) a second run changes nothing
  const second = await playbook();
  t.comment(`second ansible-playbook run: ${second.ms} ms`);
  t.equal(second.code, 0, 'second run succeeds');
  const r2 = recap(second.out);
  t.same([...r2.keys()].sort(), ['ctl', ...agents].sort(), 'every host in the second recap');
  for (const [h, c] of r2) {
    t.equal(c.changed, 0, `${h}: changed=0 on the second run`);
    t.equal(c.failed, 0, `${h}: failed=0 on the second run`);
  }
  if ([...r2.values()].some((c) => c.changed !== 0)) t.comment(second.out.slice(-6000));

  // scripts/install.sh into the same prefix: the package is there already, units and env file
  // go to temp dirs; a second run changes nothing.
  const units = join(dir, 'install-sh', 'systemd');
  const defaults = join(dir, 'install-sh', 'default');
  const shEnv = { BERTH_UNIT_DIR: units, BERTH_DEFAULT_DIR: defaults, BERTH_INSTALL_NONROOT: '1' };
  const join1 = existsSync(joinCommand) ? readFileSync(joinCommand, 'utf8').trim() : `berth agent --server https://127.0.0.1:${port} --token t0`;
  const shArgs = ['--package', pkg, '--prefix', prefix, '--no-start', '--skip-node', '--skip-docker'];
  const sh1 = await run('bash', [INSTALL_SH, 'agent', ...shArgs, '--join', join1, '--args', '--node-name n1'], shEnv);
  if (sh1.code !== 0) t.comment(sh1.out);
  t.equal(sh1.code, 0, 'install.sh agent');
  t.match(sh1.out, /already installed/, 'install.sh sees the installed package');
  const sh2 = await run('bash', [INSTALL_SH, 'controller', ...shArgs], shEnv);
  if (sh2.code !== 0) t.comment(sh2.out);
  t.equal(sh2.code, 0, 'install.sh controller');
  const agentUnit = readFileSync(join(units, 'berth-agent.service'), 'utf8');
  t.match(agentUnit, `ExecStart=${prefix}/bin/berth agent`, 'the unit runs berth from the prefix');
  const shEnvFile = readFileSync(join(defaults, 'berth-agent'), 'utf8');
  t.match(shEnvFile, `BERTH_SERVER=${/--server[= ](\S+)/.exec(join1)?.[1]}\n`, 'install.sh took the server from the join command');
  t.match(shEnvFile, 'BERTH_AGENT_ARGS="--node-name n1"', 'install.sh wrote the agent flags');
  const sh3 = await run('bash', [INSTALL_SH, 'agent', ...shArgs], shEnv);
  t.equal(sh3.code, 0, 'install.sh again');
  t.notMatch(sh3.out, /wrote /, 'install.sh again writes nothing');
  t.match(sh3.out, /berth-agent unchanged/, 'install.sh says so');
  t.equal(readFileSync(join(defaults, 'berth-agent'), 'utf8'), shEnvFile, 'the env file is kept as it was');

  t.test('systemd-analyze verify accepts the units install.sh wrote', async (t) => {
    if (!(await requireCommand(t, 'systemd', 'systemd-analyze', ['--version']))) return;
    const v = await run('systemd-analyze', ['verify', join(units, 'berth-agent.service'), join(units, 'berth-controller.service')]);
    if (v.code !== 0) t.comment(v.out);
    t.equal(v.code, 0, 'systemd-analyze verify of the units install.sh wrote');
  });
});

t.test('the role renders the units of scripts/systemd', async (t) => {
  if (!(await requireCommand(t, 'ansible', 'ansible', ['--version']))) return;
  const dir = mkdtempSync(join(tmpdir(), 'berth-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const settings = (text: string) => text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  for (const role of ['controller', 'agent']) {
    const dest = join(dir, `berth-${role}.service`);
    const vars = { berth_prefix: '/usr/local', berth_envfile: `/etc/default/berth-${role}`, [`berth_${role}_data_dir`]: `/var/lib/berth/${role}` };
    const r = await run(
      'ansible',
      [
        'localhost',
        '-c',
        'local',
        '-m',
        'template',
        '-a',
        `src=${join(ROOT, `scripts/ansible/roles/berth/templates/berth-${role}.service.j2`)} dest=${dest}`,
        '-e',
        JSON.stringify(vars),
      ],
      {
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCALHOST_WARNING: 'False',
        ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
        ANSIBLE_LOCAL_TEMP: dir,
        ANSIBLE_REMOTE_TEMP: dir,
      },
    );
    if (r.code !== 0) t.comment(r.out);
    t.equal(r.code, 0, `ansible template berth-${role}`);
    if (r.code !== 0) continue;
    t.same(
      settings(readFileSync(dest, 'utf8')),
      settings(readFileSync(join(ROOT, `scripts/systemd/berth-${role}.service`), 'utf8')),
      `berth-${role}.service: same settings with the default variables`,
    );
  }
});
