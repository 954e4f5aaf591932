// `berth config kubeconfig`: the kubeconfig made from the CLI's connection (admin.conf), as an
// object (pure) and through the built CLI (stdout, -o FILE, errors that write nothing).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import YAML from 'yaml';
import { contextNameProblem, kubeconfigOf, renderKubeconfig, SERVERS_EXTENSION } from '../cli/commands/kubeconfig.js';
import { CliError } from '../cli/errors.js';
import { runCli } from './helpers/cluster.js';

// Any PEM-shaped text: the command copies it, it does not parse the certificate.
const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const CA_DATA = Buffer.from(CA).toString('base64');

t.test('one controller: one cluster, user and context named berth, the CA as base64 PEM, the token', async (t) => {
  t.same(kubeconfigOf({ server: 'https://10.0.0.1:7443', servers: ['https://10.0.0.1:7443'], token: 'ab12.secret', ca: CA }), {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name: 'berth', cluster: { server: 'https://10.0.0.1:7443', 'certificate-authority-data': CA_DATA } }],
    users: [{ name: 'berth', user: { token: 'ab12.secret' } }],
    contexts: [{ name: 'berth', context: { cluster: 'berth', user: 'berth' } }],
    'current-context': 'berth',
  });
});

t.test('plain http without a CA: no certificate-authority-data; a namespace goes into the context', async (t) => {
  const k = kubeconfigOf({ server: 'http://127.0.0.1:7080', servers: ['http://127.0.0.1:7080'], token: 'x' }, { context: 'dev', namespace: 'web' });
  t.same(k.clusters, [{ name: 'dev', cluster: { server: 'http://127.0.0.1:7080' } }]);
  t.same(k.contexts, [{ name: 'dev', context: { cluster: 'dev', user: 'dev', namespace: 'web' } }]);
  t.equal(k['current-context'], 'dev');
});

t.test('several controllers: the first is the current context, each other one a context of its own, the list in an extension', async (t) => {
  const servers = ['https://127.0.0.1:7443', 'https://10.0.0.2:7443', 'https://10.0.0.3:7443'];
  const k = kubeconfigOf({ server: servers[0], servers, token: 'x', ca: CA });
  t.same(
    k.clusters.map((c) => [c.name, c.cluster.server]),
    [
      ['berth', servers[0]],
      ['berth-2', servers[1]],
      ['berth-3', servers[2]],
    ],
  );
  t.same(k.clusters[0].cluster.extensions, [{ name: SERVERS_EXTENSION, extension: { servers } }], 'the first cluster lists every controller');
  t.notOk(k.clusters[1].cluster.extensions, 'the others do not repeat the list');
  t.ok(
    k.clusters.every((c) => c.cluster['certificate-authority-data'] === CA_DATA),
    'every cluster trusts the one cluster CA',
  );
  t.same(
    k.contexts.map((c) => [c.name, c.context.cluster, c.context.user]),
    [
      ['berth', 'berth', 'berth'],
      ['berth-2', 'berth-2', 'berth'],
      ['berth-3', 'berth-3', 'berth'],
    ],
  );
  t.equal(k['current-context'], 'berth');
  const text = renderKubeconfig({ server: servers[0], servers, token: 'x', ca: CA });
  t.match(text, /^# kubeconfig of the berth cluster at https:\/\/127\.0\.0\.1:7443/);
  t.match(text, /\n# {3}berth-2: https:\/\/10\.0\.0\.2:7443\n/, 'the comment names each other context and its controller');
  t.same(YAML.parse(text), k, 'the text is the object as YAML');
});

t.test('context names: a shell- and file-safe name is taken, anything else refused naming --context', async (t) => {
  for (const ok of ['berth', 'prod-1', 'admin@berth', 'a.b_c:d']) t.equal(contextNameProblem(ok), undefined, ok);
  for (const bad of ['', '-x', 'a b', 'a/b', 'ä', 'x'.repeat(254)]) t.match(contextNameProblem(bad), /^invalid --context /, JSON.stringify(bad));
  let thrown: unknown;
  try {
    kubeconfigOf({ server: 'https://h:1', servers: ['https://h:1'], token: 'x' }, { context: 'a b' });
  } catch (err) {
    thrown = err;
  }
  t.ok(thrown instanceof CliError, 'kubeconfigOf refuses it with a CliError');
  t.match((thrown as Error).message, /^invalid --context "a b"/);
});

/** A directory with an admin.conf like the controller's; removed after the test. */
function adminConf(t: Test, extra = ''): { dir: string; conf: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-kubeconfig-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'admin.conf');
  writeFileSync(conf, `server: https://127.0.0.1:7443\ntoken: ab12.secret\ncertificate-authority-data: ${CA_DATA}\n${extra}`);
  return { dir, conf };
}

const env = (conf: string) => ({ BERTH_CONFIG: conf, BERTH_SERVER: '', BERTH_TOKEN: '', BERTH_CERTIFICATE_AUTHORITY: '' });

t.test('berth config kubeconfig prints the kubeconfig of admin.conf on stdout', async (t) => {
  const { conf } = adminConf(t);
  const r = await runCli(['config', 'kubeconfig'], env(conf));
  t.equal(r.stderr, '');
  t.equal(r.code, 0);
  t.same(YAML.parse(r.stdout), kubeconfigOf({ server: 'https://127.0.0.1:7443', servers: ['https://127.0.0.1:7443'], token: 'ab12.secret', ca: CA }));
});

t.test('with servers: in admin.conf, one context per controller; --server puts another one first', async (t) => {
  const { conf } = adminConf(t, 'servers:\n  - https://127.0.0.1:7443\n  - https://10.0.0.2:7443\n');
  const all = YAML.parse((await runCli(['config', 'kubeconfig'], env(conf))).stdout);
  t.same(
    all.contexts.map((c: { name: string }) => c.name),
    ['berth', 'berth-2'],
  );
  t.equal(all.clusters[1].cluster.server, 'https://10.0.0.2:7443');
  const r = await runCli(['--server', '10.0.0.2:7443', 'config', 'kubeconfig'], env(conf));
  t.equal(r.code, 0, r.stderr);
  const one = YAML.parse(r.stdout);
  t.same(
    one.clusters,
    [{ name: 'berth', cluster: { server: 'https://10.0.0.2:7443', 'certificate-authority-data': CA_DATA } }],
    'the token and CA still come from admin.conf',
  );
  t.equal(one.users[0].user.token, 'ab12.secret');
});

t.test('-o FILE writes it with mode 0600 and says where; -n and --context shape the context', async (t) => {
  const { dir, conf } = adminConf(t);
  const file = join(dir, 'kubeconfig');
  const r = await runCli(['-n', 'web', 'config', 'kubeconfig', '-o', file, '--context', 'lab'], env(conf));
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, `kubeconfig for https://127.0.0.1:7443 written to ${file} (KUBECONFIG=${file} kubectl get pods)\n`);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const k = YAML.parse(readFileSync(file, 'utf8'));
  t.same(k.contexts, [{ name: 'lab', context: { cluster: 'lab', user: 'lab', namespace: 'web' } }]);
  t.equal(k['current-context'], 'lab');
});

t.test('bad input: an error naming the flag, a non-zero status, no file written', async (t) => {
  const { dir, conf } = adminConf(t);
  const file = join(dir, 'kubeconfig');
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['config', 'kubeconfig', '-o', file, '--context', 'a b'], env(conf), /^error: invalid --context "a b": /],
    [['-n', 'Web', 'config', 'kubeconfig', '-o', file], env(conf), /^error: invalid --namespace "Web": must be a lowercase RFC 1123 label/],
    [['config', 'kubeconfig', '-o', file], env(join(dir, 'missing.conf')), /^error: cannot read config file .*missing\.conf \(named by BERTH_CONFIG\)/],
    [['config', 'kubeconfig', '-o', file], env('/dev/null'), /^error: no berth controller configured/],
    [['config', 'kubeconfig', '-o', join(dir, 'no-such-dir', 'kubeconfig')], env(conf), /^error: cannot write --output .*: ENOENT/],
  ];
  for (const [args, e, message] of cases) {
    const r = await runCli(args, e);
    t.not(r.code, 0, args.join(' '));
    t.match(r.stderr, message, args.join(' '));
    t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
    t.notOk(existsSync(file), `${args.join(' ')}: no file`);
  }
});
