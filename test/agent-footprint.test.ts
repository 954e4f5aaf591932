// What the agent keeps in memory: node facts read from /proc and /etc without an inventory
// library (parsers on fixture text, then this host against node:os), and the modules a running
// agent (cluster DNS on, two pods) has loaded: none of the libraries it does without. Memory
// figures themselves are measured by scripts/bench/footprint.
import t from 'tap';
import { createSocket } from 'node:dgram';
import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { collectStaticFacts, cpuModelOf, currentFacts, memAvailableOf, osNameOf, parseKeyValues } from '../agent/facts.js';
import { podReady, requireDocker } from './helpers/cluster.js';
import { ModuleLoggedCluster } from './helpers/module-log-cluster.js';
import { sleeperSet } from './helpers/manifests.js';
import type { Logger } from '../agent/log.js';

const DEBIAN = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`;
const UBUNTU_OS = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
`;
const UBUNTU_LSB = `DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=22.04
DISTRIB_CODENAME=jammy
DISTRIB_DESCRIPTION="Ubuntu 22.04.4 LTS"
`;
const ALPINE = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
`;
const ROCKY = `NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
VERSION_ID="9.3"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
`;

t.test('the OS name from os-release (and lsb-release) text', async (t) => {
  t.equal(osNameOf(DEBIAN), 'Debian GNU/Linux 12', 'codename left out');
  t.equal(osNameOf(UBUNTU_OS, UBUNTU_LSB), 'Ubuntu 22.04.4 LTS', 'point release from PRETTY_NAME');
  t.equal(osNameOf(ALPINE), 'Alpine Linux v3.19');
  t.equal(osNameOf(ROCKY), 'Rocky Linux 9.3');
  t.equal(osNameOf('NAME=Minimal\n'), 'Minimal', 'no version: the name alone');
  t.equal(osNameOf('VERSION_ID=1\n'), undefined, 'no name: undefined');
  t.equal(osNameOf(''), undefined, 'no file');
  t.same(parseKeyValues('# comment\nA="x \\"y\\""\nb=\'z\'\nnot a pair\n'), { A: 'x "y"', B: 'z' }, 'quotes, escapes, comments and stray lines');
});

const INTEL = `processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
stepping\t: 6

processor\t: 1
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
`;
const AMD = `processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7763 64-Core Processor
`;
const ARM = `processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
`;

t.test('the CPU model from /proc/cpuinfo text', async (t) => {
  t.equal(cpuModelOf(INTEL), 'Intel Xeon® Gold 6338', 'vendor first, trade marks as symbols, no "CPU", no clock');
  t.equal(cpuModelOf(AMD), 'AMD EPYC 7763 64-Core Processor');
  t.equal(cpuModelOf(ARM), 'Neoverse-N1', 'an Arm core by its part number');
  t.equal(cpuModelOf('processor\t: 0\n', 'Some CPU'), 'Some', 'no model name: the fallback, cleaned alike');
  t.equal(cpuModelOf('processor\t: 0\n'), undefined, 'neither: undefined');
  t.equal(memAvailableOf('MemTotal:       16318412 kB\nMemAvailable:    8000000 kB\n'), 8_000_000 * 1024);
  t.equal(memAvailableOf('MemTotal: 1 kB\n'), undefined);
});

const quiet = { warn: () => undefined } as unknown as Logger;

t.test("this host's facts from /proc and /etc agree with node:os", { skip: os.platform() !== 'linux' && 'Linux only' }, async (t) => {
  const st = await collectStaticFacts(quiet);
  t.equal(st.kernel, os.release());
  t.equal(st.arch, os.arch());
  t.equal(st.hostname, os.hostname());
  t.equal(st.cpus, os.availableParallelism());
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  if (/^model name/m.test(cpuinfo)) t.equal(st.cpuModel, cpuModelOf('', os.cpus()[0]!.model), 'the model node:os reads, cleaned the same way');
  const release = existsSync('/etc/os-release') ? parseKeyValues(readFileSync('/etc/os-release', 'utf8')) : {};
  if (release.NAME) t.ok(st.os.startsWith(release.NAME), `the distribution (${st.os}) rather than the kernel`);
  const f = await currentFacts(st, os.tmpdir());
  t.equal(f.memoryBytes, os.totalmem());
  t.ok(f.memoryAvailableBytes > 0 && f.memoryAvailableBytes <= f.memoryBytes, 'MemAvailable within the memory');
  t.ok(f.diskBytes > 0 && f.diskAvailableBytes <= f.diskBytes, 'the data dir file system');
});

t.test('a running agent with cluster DNS and two pods has loaded none of the libraries it does without', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new ModuleLoggedCluster('footprint', 'agent');
  t.teardown(() => c.teardown());
  await c.startController();
  const node = `footprint-${process.pid}`;
  await c.startAgent(node, ['--dns-listen', '127.0.0.1:0', '--dns-upstream', 'none']);
  await c.ok(['apply', '-f', '-'], sleeperSet({ name: 'lean', replicas: 2 }));
  await c.waitForPods('lean-0 and lean-1 Ready', (ps) => ps.filter((p) => p.metadata.name.startsWith('lean-') && podReady(p)).length === 2);
  const loaded = readFileSync(c.moduleLog, 'utf8');
  const has = (pkg: string) => loaded.includes(`/node_modules/${pkg}/`);
  t.ok(has('dns2') && has('pino'), 'the log sees the dependencies the agent uses (dns2, pino)');
  t.ok(/agent\/dns\/fast\.(js|ts)/.test(loaded), "the agent's DNS fast path is loaded");
  for (const pkg of [
    'dockerode',
    'docker-modem',
    'ssh2',
    '@grpc/grpc-js',
    'protobufjs',
    'tar-fs',
    'systeminformation',
    'node-forge',
    'zod',
    'yaml',
    'fastify',
  ]) {
    t.notOk(has(pkg), `${pkg} not loaded`);
  }
  t.notOk(/agent\/dns\/worker\.(js|ts)/.test(loaded), "DNS answers in the agent's own thread: no worker thread was started");
  t.notOk(/\/cli\/commands\/(?!daemons)/.test(loaded), 'no kubectl-shaped command module');
});

/** A free UDP port on loopback (bound, read, released). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(r));
  return port;
}

/** One A question for `name` to 127.0.0.1:port; resolves with the reply's bytes. */
async function askA(port: number, name: string, id: number): Promise<Buffer> {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  const query = Buffer.concat([Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  const s = createSocket('udp4');
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 500);
        s.once('message', (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        s.send(query, port, '127.0.0.1');
      });
      if (reply) return reply;
    }
    throw new Error(`no DNS answer from 127.0.0.1:${port}`);
  } finally {
    s.close();
  }
}

t.test('with --dns-thread the agent answers DNS from its worker thread', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new ModuleLoggedCluster('footprint-thread', 'agent');
  t.teardown(() => c.teardown());
  await c.startController();
  const port = await freeUdpPort();
  await c.startAgent(`footprint-thread-${process.pid}`, ['--dns-listen', `127.0.0.1:${port}`, '--dns-upstream', 'none', '--dns-thread']);
  // Until the zone is synced the agent may answer SERVFAIL: ask again then.
  let reply = await askA(port, 'nothing-here.default.svc.cluster.local', 0x4242);
  for (let i = 0; i < 50 && (reply[3]! & 0x0f) === 2; i++) {
    await new Promise((r) => setTimeout(r, 200));
    reply = await askA(port, 'nothing-here.default.svc.cluster.local', 0x4242);
  }
  t.equal(reply.readUInt16BE(0), 0x4242, 'the answer to our question');
  t.equal(reply[2]! & 0x04, 0x04, 'authoritative: the cluster zone');
  t.equal(reply[3]! & 0x0f, 3, 'NXDOMAIN for a service that does not exist');
  t.ok(/agent\/dns\/worker\.(js|ts)/.test(readFileSync(c.moduleLog, 'utf8')), 'the DNS worker thread was started');
});
