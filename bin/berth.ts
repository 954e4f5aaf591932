#!/usr/bin/env node
// The berth command: the controller, the agent, and kubectl-shaped commands for users.
import { Command, Option } from 'commander';
import { WATCH_BUFFER_TOTAL_BYTES } from '../shared/limits.js';
import { VERSION } from '../shared/version.js';
import type { DrainOptions } from '../cli/commands/cordon.js';
import { agentOptions, controllerOptions, storeChoice, type AgentCliOptions, type ControllerUpOptions } from '../cli/commands/daemons.js';
import type { DeleteOptions } from '../cli/commands/delete.js';
import type { DescribeOptions } from '../cli/commands/describe.js';
import type { ExecOptions } from '../cli/commands/exec.js';
import type { GetOptions } from '../cli/commands/get.js';
import type { LogsOptions } from '../cli/commands/logs.js';
import type { PatchOptions } from '../cli/commands/patch.js';
import type { HistoryOptions, StatusOptions } from '../cli/commands/rollout.js';
import { globalsOf } from '../cli/globals.js';
import { agentTlsOptions, controllerTlsOptions } from '../cli/tls-options.js';
import type { TokenCreateOptions } from '../cli/commands/token.js';
import { CliError, printError, SilentFailure } from '../cli/errors.js';
import type { ForgetOptions, MoveOptions } from '../cli/commands/host-loss.js';
import type { KubeconfigOptions } from '../cli/commands/kubeconfig.js';

/**
 * A command's function whose module is loaded only when that command runs: `berth agent` and
 * `berth controller up` never load the kubectl-shaped commands (nor YAML, tables, manifests).
 */
function lazy<M, K extends keyof M>(load: () => Promise<M>, name: K): M[K] {
  return (async (...args: unknown[]) => ((await load())[name] as (...a: unknown[]) => unknown)(...args)) as M[K];
}
const apply = lazy(() => import('../cli/commands/apply.js'), 'apply');
const cordon = lazy(() => import('../cli/commands/cordon.js'), 'cordon');
const drain = lazy(() => import('../cli/commands/cordon.js'), 'drain');
const uncordon = lazy(() => import('../cli/commands/cordon.js'), 'uncordon');
const del = lazy(() => import('../cli/commands/delete.js'), 'del');
const describe = lazy(() => import('../cli/commands/describe.js'), 'describe');
const exec = lazy(() => import('../cli/commands/exec.js'), 'exec');
const get = lazy(() => import('../cli/commands/get.js'), 'get');
const logs = lazy(() => import('../cli/commands/logs.js'), 'logs');
const patch = lazy(() => import('../cli/commands/patch.js'), 'patch');
const rolloutHistory = lazy(() => import('../cli/commands/rollout.js'), 'rolloutHistory');
const rolloutRestart = lazy(() => import('../cli/commands/rollout.js'), 'rolloutRestart');
const rolloutStatusCommand = lazy(() => import('../cli/commands/rollout.js'), 'rolloutStatusCommand');
const rolloutUndo = lazy(() => import('../cli/commands/rollout.js'), 'rolloutUndo');
const scale = lazy(() => import('../cli/commands/scale.js'), 'scale');
const controllerStatus = lazy(() => import('../cli/commands/version.js'), 'controllerStatus');
const version = lazy(() => import('../cli/commands/version.js'), 'version');
const tokenCreate = lazy(() => import('../cli/commands/token.js'), 'tokenCreate');
const tokenList = lazy(() => import('../cli/commands/token.js'), 'tokenList');
const tokenRevoke = lazy(() => import('../cli/commands/token.js'), 'tokenRevoke');
const nodeForget = lazy(() => import('../cli/commands/host-loss.js'), 'nodeForget');
const podMove = lazy(() => import('../cli/commands/host-loss.js'), 'podMove');
const configKubeconfig = lazy(() => import('../cli/commands/kubeconfig.js'), 'configKubeconfig');
const controllerBackupCommand = lazy(() => import('../cli/commands/controller-backup.js'), 'controllerBackupCommand');
const restoreHoldEndCommand = lazy(() => import('../cli/commands/controller-backup.js'), 'restoreHoldEndCommand');
const restoreHoldStatusCommand = lazy(() => import('../cli/commands/controller-backup.js'), 'restoreHoldStatusCommand');

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Like collect, without a default: an absent flag stays undefined (global and command options merge). */
function collectServers(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Runs a command body; any failure becomes a message on stderr and a non-zero exit status. */
async function run(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    printError(e);
    process.exitCode = e instanceof SilentFailure ? e.exitCode : 1;
  }
}

// A reader that goes away (`berth get pods -w | head`) ends the command quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const program = new Command('berth')
  .description('StatefulSet semantics on bare-metal Docker hosts')
  .version(VERSION, '--version', 'print the berth version')
  .option('-n, --namespace <namespace>', 'namespace of the objects', 'default')
  .option(
    '--server <url>',
    'controller URL; without a scheme https://; repeatable or a comma list for several controllers (default: BERTH_SERVER, then the config file)',
    collectServers,
  )
  .option('--token <token>', 'bearer token (default: BERTH_TOKEN, then the config file)')
  .option('--certificate-authority <file>', 'CA certificate (PEM) to trust for the controller (default: certificate-authority-data in the config file)')
  .showSuggestionAfterError();

// ---- processes ----

const controller = program.command('controller').description('the berth controller');
controller
  .command('up')
  .description('run the controller: store, HTTP API and control loops')
  .option('--data-dir <dir>', 'where the store, admin.conf and join-token live', '/var/lib/berth/controller')
  .option('--listen <host:port>', 'address of the HTTP API', '0.0.0.0:7443')
  .option('--zone <zone>', 'DNS zone of services and pods', 'cluster.local')
  .option('--node-grace-seconds <n>', 'seconds without heartbeat before a node is NotReady', '5')
  .option('--volume-copy-stall-seconds <n>', 'pod move --copy-volume: abort an attempt when no byte moved for this long', '30')
  .option('--volume-copy-attempts <n>', 'pod move --copy-volume: attempts per volume before the move fails', '5')
  .option('--volume-copy-backoff-seconds <n>', 'pod move --copy-volume: wait after the first failed attempt (doubles each time)', '2')
  .option('--volume-copy-backoff-max-seconds <n>', 'pod move --copy-volume: longest wait between attempts', '300')
  .option('--cluster-cidr <cidr>', 'IPv4 network the pod subnets of the nodes are cut from', '10.244.0.0/16')
  .option('--node-cidr-mask-size <n>', "prefix length of each node's pod subnet", '24')
  .option('--service-cluster-ip-range <cidr>', 'IPv4 network the virtual IPs of ClusterIP Services come from (must not overlap --cluster-cidr)', '10.96.0.0/16')
  .option('--manifests <dir>', 'directory of manifests kept applied (default: <data-dir>/manifests)')
  .option('--max-replicas-per-set <n>', 'largest spec.replicas a StatefulSet may ask for', '10000')
  .option('--max-pods <n>', 'largest sum of spec.replicas over all StatefulSets', '20000')
  .option(
    '--watch-buffer-total-bytes <n>',
    'unsent bytes all watches together may hold; past it the watch holding the most ends with 410 Expired',
    String(WATCH_BUFFER_TOTAL_BYTES),
  )
  .option(
    '--store-sync <mode>',
    'sqlite: full (default): every store commit is on disk before it is acknowledged; normal: faster, a power cut can undo the last commits',
  )
  .option('--store <kind>', 'sqlite: a file in the data dir, one controller; etcd: an etcd cluster, several controllers with one leader (docs/ha.md)', 'sqlite')
  .option('--etcd-endpoints <urls>', '--store etcd: the etcd client URLs, comma list (https://HOST:2379,...)')
  .option('--etcd-ca <file>', '--store etcd: CA certificate (PEM) that signed the etcd members')
  .option('--etcd-cert <file>', "--store etcd: this controller's client certificate (PEM) for etcd")
  .option('--etcd-key <file>', "--store etcd: this controller's client key (PEM) for etcd")
  .option('--etcd-prefix <prefix>', '--store etcd: the key prefix of this cluster in etcd (default /berth)')
  .option(
    '--etcd-compaction-interval <duration>',
    "--store etcd: how often etcd's history is compacted (one controller per interval compacts, as kube-apiserver); 0: never (default 5m)",
  )
  .option('--name <name>', 'this controller among several: its identity in the leader election (default: the host name)')
  .option(
    '--advertise-address <addr>',
    'address or name agents reach the controller at: in the serving certificate and the join command (repeatable or comma list)',
    collect,
    [],
  )
  .option(
    '--api-servers <urls>',
    'URL of every controller serving this cluster, this one included (repeatable or comma list): the join command and admin.conf list them all (docs/ha-clients.md)',
    collect,
    [],
  )
  .option('--insecure', 'serve plain HTTP without TLS: development only')
  .option(
    '--pod-security <level>',
    'what pod templates may do: baseline (no host namespaces, privileged containers, extra capabilities, host ports or hostPath outside --allowed-host-paths) or privileged (everything)',
    'baseline',
  )
  .option('--allowed-host-paths <dirs>', 'host directories hostPath volumes may use under --pod-security baseline (comma list or repeatable)', collect, [])
  .action((options: ControllerUpOptions & { manifests?: string; advertiseAddress?: string[]; insecure?: boolean; apiServers?: string[] }) =>
    run(async () => {
      const opts = controllerOptions(options);
      const tls = controllerTlsOptions(options);
      // Before the store is loaded: how the heap grows (controller/v8-heap.ts).
      (await import('../controller/v8-heap.js')).applyControllerHeapFlags();
      const { runController } = await import('../controller/main.js');
      await runController({ ...opts, ...tls, ...(options.manifests ? { manifestsDir: options.manifests } : {}) });
    }),
  );

controller
  .command('status')
  .description('show the store backend, the controller that answers and the one that leads')
  .action((_o: unknown, cmd: Command) => run(() => controllerStatus(globalsOf(cmd))));

controller
  .command('reset-admin')
  .description('make a new admin token and write a new admin.conf with it (on the controller host, as root; the controller may run or not)')
  .option('--data-dir <dir>', "the controller's data dir", '/var/lib/berth/controller')
  .action((o: { dataDir: string }) =>
    run(async () => {
      if (process.getuid?.() !== 0) throw new CliError('berth controller reset-admin must run as root: it writes the store and admin.conf of the controller');
      const { resetAdmin } = await import('../controller/auth/reset-admin.js');
      let r;
      try {
        r = resetAdmin(o.dataDir);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      process.stdout.write(
        `new admin token ${r.id} written to ${r.adminConf} (export BERTH_CONFIG=${r.adminConf}); the old admin tokens still work until revoked\n`,
      );
    }),
  );

controller
  .command('backup')
  .description('save a consistent snapshot of the running controller (store, token hashes, CA key) to FILE, through its API with the admin token')
  .argument('<file>', 'where the backup goes (written whole or not at all, mode 0600); - for stdout (the exit status says whether it was whole)')
  .action((file: string, _o: unknown, cmd: Command) => run(() => controllerBackupCommand(file, globalsOf(cmd))));

type EtcdFlags = Pick<ControllerUpOptions, 'etcdEndpoints' | 'etcdCa' | 'etcdCert' | 'etcdKey' | 'etcdPrefix'>;

/** The --etcd-* flags of restore and migrate, on the command given. */
function etcdFlags(cmd: Command): Command {
  return cmd
    .option('--etcd-endpoints <urls>', '--store etcd: the etcd client URLs, comma list (https://HOST:2379,...)')
    .option('--etcd-ca <file>', '--store etcd: CA certificate (PEM) that signed the etcd members')
    .option('--etcd-cert <file>', '--store etcd: client certificate (PEM) for etcd')
    .option('--etcd-key <file>', '--store etcd: client key (PEM) for etcd')
    .option('--etcd-prefix <prefix>', '--store etcd: the key prefix to load into; it must hold no key (default /berth)');
}

/** What to print after a load into etcd, and how to start the controllers on it. */
function etcdLoaded(r: import('../controller/backup/etcd-restore.js').EtcdRestoreResult, flags: EtcdFlags, what: string): string {
  const store =
    `--store etcd --etcd-endpoints ${flags.etcdEndpoints}` +
    (flags.etcdPrefix ? ` --etcd-prefix ${r.prefix}` : '') +
    (flags.etcdCa ? ` --etcd-ca ${flags.etcdCa}` : '') +
    (flags.etcdCert ? ` --etcd-cert ${flags.etcdCert} --etcd-key ${flags.etcdKey}` : '');
  return (
    `${what} into etcd prefix ${r.prefix}/: ${r.objects} objects, ${r.tokens} tokens, ${r.bindings} bindings (${r.txns} etcd transactions, revision ${r.revision})\n` +
    `  resourceVersions continue after ${r.resourceVersion}; every fencing epoch went up by ${r.epochStep}\n` +
    (r.newAdminToken
      ? `  the backup held no admin token to keep: a new one is in the store; each controller writes it to its admin.conf\n`
      : '  the admin token of the old admin.conf works on the controllers on etcd\n') +
    `  start each controller on it with a new, empty data dir:\n    berth controller up --data-dir DIR ${store} --name NAME --advertise-address ADDR --api-servers URL,URL,...\n` +
    '  (docs/ha.md); the agents keep their CA and tokens; point them at the new controllers with --server\n'
  );
}

controller
  .command('restore')
  .description(
    'make a controller data dir (or, with --store etcd, an etcd prefix) from a backup, the controller stopped; epochs and resourceVersions move past the old ones',
  )
  .argument('<file>', 'a file written by berth controller backup')
  .option('--data-dir <dir>', 'the data dir to create (--store sqlite)')
  .option('--force', 'move a non-empty data dir aside to DIR.before-restore-TIME (never deleted) instead of refusing (--store sqlite)')
  .option('--store <kind>', 'sqlite: a new data dir; etcd: an empty prefix of an etcd cluster (docs/ha.md)', 'sqlite')
  .addHelpText('after', '\nWith --store etcd the prefix must hold no key: a restore never deletes nor moves keys; pick a new --etcd-prefix.')
  .action((file: string, o: { dataDir?: string; force?: boolean; store?: string } & EtcdFlags) =>
    run(async () => {
      if (o.store === 'etcd') {
        if (o.dataDir !== undefined) throw new CliError('--data-dir is only for --store sqlite (with etcd the backup goes into --etcd-prefix)');
        if (o.force) throw new CliError('--force is only for --store sqlite: a restore into etcd never deletes nor moves keys; pick a new --etcd-prefix');
        const choice = storeChoice({ ...o, store: 'etcd' });
        if (choice.kind !== 'etcd') throw new CliError('--store etcd expected');
        const { restoreBackupIntoEtcd } = await import('../controller/backup/etcd-restore.js');
        let r;
        try {
          r = await restoreBackupIntoEtcd(file, choice);
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        process.stdout.write(etcdLoaded(r, o, `restored the backup taken at ${r.header.createdAt} (resourceVersion ${r.header.resourceVersion})`));
        return;
      }
      storeChoice({ ...o, store: o.store });
      if (!o.dataDir) throw new CliError('--data-dir is required (the data dir to create), or --store etcd with --etcd-endpoints');
      const { restoreBackup } = await import('../controller/backup/restore.js');
      let r;
      try {
        r = await restoreBackup(file, o.dataDir, { force: o.force === true });
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      process.stdout.write(
        `restored the backup taken at ${r.header.createdAt} (resourceVersion ${r.header.resourceVersion}) into ${r.dataDir}: ` +
          `${r.objects} objects, ${r.tokens} tokens, ${r.bindings} bindings\n` +
          (r.movedAside ? `  the data dir that was there is now ${r.movedAside}\n` : '') +
          `  resourceVersions continue after ${r.resourceVersion}; every fencing epoch went up by ${r.epochStep}\n` +
          `  start the controller on it: berth controller up --data-dir ${r.dataDir} (it writes a new admin.conf and join token)\n` +
          '  nodes that joined after the backup get 401 and register again with their join token, or need berth agent --token\n' +
          '  every pod is held (agents keep what runs, start nothing) until the controller knows no other copy runs: berth controller restore-hold\n',
      );
    }),
  );
etcdFlags(controller.commands[controller.commands.length - 1]!);

etcdFlags(
  controller
    .command('migrate')
    .description(
      'load a stopped SQLite controller (store, CA, tokens) into an empty etcd prefix, as a restore of its backup would; the data dir is left as it is',
    )
    .requiredOption('--to <store>', 'the store to move to: etcd')
    .option('--data-dir <dir>', "the SQLite controller's data dir", '/var/lib/berth/controller')
    .option('--manifests <dir>', 'its manifest directory, if not <data-dir>/manifests (the files travel in the restore record only)'),
).action((o: { to: string; dataDir: string; manifests?: string } & EtcdFlags) =>
  run(async () => {
    if (o.to !== 'etcd') throw new CliError(`invalid --to "${o.to}": must be etcd`);
    const choice = storeChoice({ ...o, store: 'etcd' });
    if (choice.kind !== 'etcd') throw new CliError('--to etcd expected');
    const { migrateToEtcd } = await import('../controller/backup/migrate.js');
    let r;
    try {
      r = await migrateToEtcd(o.dataDir, choice, o.manifests ? { manifestsDir: o.manifests } : {});
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    process.stdout.write(
      etcdLoaded(r, o, `migrated the SQLite controller of ${o.dataDir} (resourceVersion ${r.header.resourceVersion})`) +
        `  ${o.dataDir} is unchanged: do not start the SQLite controller on it again once controllers on etcd took over\n`,
    );
  }),
);

const restoreHold = controller
  .command('restore-hold')
  .description('after a restore: whether pods are still held (agents start none) and what the controller waits for')
  .action((_o: unknown, cmd: Command) => run(() => restoreHoldStatusCommand(globalsOf(cmd))));
restoreHold
  .command('end')
  .description('end the restore hold now, without waiting: only once you checked that no host runs a copy of a pod bound elsewhere')
  .option('--force', 'required: you checked the hosts by hand')
  .action((o: { force?: boolean }, cmd: Command) => run(() => restoreHoldEndCommand(o.force === true, globalsOf(cmd))));

program
  .command('agent')
  .description('run an agent: registers this host as a node and runs its pods on Docker')
  .option(
    '--server <url>',
    'controller URL; without a scheme https://; repeatable or a comma list for several controllers (default: BERTH_SERVER, then the list saved in --data-dir)',
    collectServers,
  )
  .option('--token <token>', 'join token (default: BERTH_JOIN_TOKEN)')
  .option('--node-name <name>', 'node name (default: the hostname)')
  .option('--data-dir <dir>', 'where volumes and the node token live', '/var/lib/berth/agent')
  .option('--docker-host <host>', 'Docker engine (default: DOCKER_HOST or unix:///var/run/docker.sock)')
  .option('--listen <host:port>', 'address of the agent API (logs, exec)', '0.0.0.0:7444')
  .option('--advertise-address <ip>', 'address the controller and pods use to reach this node')
  .option('--label <key=value>', 'node label (repeatable)', collect, [])
  .option('--pod-network <name>', 'Docker network the pods attach to; "auto": a bridge on the node\'s podCIDR with routes to the other nodes', 'auto')
  .option(
    '--dns-listen <addrs>',
    'ADDR[:PORT],... where the agent answers cluster DNS (port 53 by default; "none": no DNS) (default: the pod network\'s gateway and 127.0.0.1)',
  )
  .option('--dns-upstream <addrs>', 'ADDR[:PORT],... resolvers for names outside the zone ("none": refuse them) (default: the nameservers in /etc/resolv.conf)')
  .option('--dns-ttl <seconds>', 'TTL of DNS records and of negative answers', '5')
  .option('--dns-thread', "answer DNS in a worker thread of its own (a second V8 heap, about 10 MB more) instead of the agent's thread")
  .option('--pause-binary <path>', "statically linked catatonit the pods' network holder image is built from (package catatonit)", '/usr/bin/catatonit')
  .option(
    '--ca-hash <sha256:hex>',
    'hash of the controller CA\'s public key to trust at the first join (repeatable; default: BERTH_CA_HASH; printed by "berth controller up")',
    collect,
    [],
  )
  .option('--insecure-skip-ca-verification', 'join without checking the controller CA (trusts whatever answers): development only')
  .action((_o: AgentCliOptions, cmd: Command) =>
    run(async () => {
      // --server and --token are also global options, so they may land on the program.
      const all = cmd.optsWithGlobals<AgentCliOptions & { caHash?: string[]; insecureSkipCaVerification?: boolean }>();
      const opts = agentOptions(all, process.env);
      const tls = agentTlsOptions(all);
      const { runAgent } = await import('../agent/main.js');
      await runAgent({ ...opts, ...tls });
    }),
  );

// ---- kubectl-shaped commands ----

program
  .command('apply')
  .description('create or update objects from manifests, all or nothing')
  .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect, [])
  .addOption(
    new Option('--dry-run [strategy]', 'client: only print what would happen; server: validate on the controller').choices(['none', 'client', 'server']),
  )
  .option('--wait', "wait until the applied statefulsets are rolled out, printing each pod's progress")
  .option('--timeout <duration>', 'how long --wait waits, e.g. 5m (0: no limit)', '5m')
  .action((o: { filename: string[]; dryRun?: string | boolean; wait?: boolean; timeout?: string }, cmd: Command) => run(() => apply(o, globalsOf(cmd))));

program
  .command('get')
  .description('list objects: pods, statefulsets, services, nodes, pvc, configmaps, secrets, controllerrevisions, events')
  .argument('[resource...]', 'KIND [NAME...] or KIND/NAME...')
  .option('-l, --selector <selector>', 'label selector, e.g. app=web,tier!=db')
  .option('--field-selector <selector>', 'field selector, e.g. spec.nodeName=n1')
  .option('-o, --output <format>', 'wide, json, yaml or name')
  .option('-w, --watch', 'after listing, print changes as they happen')
  .option('--watch-only', 'print changes only, without listing first')
  .option('-A, --all-namespaces', 'list across all namespaces')
  .option('--show-labels', 'add a LABELS column')
  .option('--no-headers', 'leave out the header line')
  .option('--ignore-not-found', 'no error for names that do not exist')
  .option('--for <kind/name>', 'events only: those about this object, e.g. pod/web-0')
  .option('--types <types>', 'events only: Normal, Warning or both (comma-separated)')
  .action((args: string[], opts: GetOptions & { headers?: boolean }, cmd: Command) =>
    run(() => get(args, { ...opts, noHeaders: opts.headers === false }, globalsOf(cmd))),
  );

program
  .command('describe')
  .description('show details of objects, with their events')
  .argument('[resource...]', 'KIND [NAME...] or KIND/NAME...')
  .option('-l, --selector <selector>', 'label selector')
  .option('-A, --all-namespaces', 'across all namespaces')
  .action((args: string[], opts: DescribeOptions, cmd: Command) => run(() => describe(args, opts, globalsOf(cmd))));

program
  .command('delete')
  .description('delete objects by name, by selector, or as named in manifests')
  .argument('[resource...]', 'KIND NAME... or KIND/NAME...')
  .option('-f, --filename <path>', 'delete the objects of these manifests (repeatable)', collect, [])
  .option('-l, --selector <selector>', 'delete the objects this label selector matches')
  .option('--all', 'delete every object of the kind in the namespace')
  .option('--cascade [strategy]', 'background (default) deletes the pods of a set, orphan leaves them running', 'background')
  .option('--ignore-not-found', 'no error for objects that do not exist')
  .option('--wait [bool]', 'wait until the objects are gone', 'true')
  .option('--timeout <duration>', 'how long to wait, e.g. 60s (0: no limit)', '0')
  .action((args: string[], opts: DeleteOptions, cmd: Command) => run(() => del(args, opts, globalsOf(cmd))));

program
  .command('scale')
  .description('set the number of replicas of a statefulset')
  .argument('<resource...>', 'statefulset NAME or statefulset/NAME')
  .option('--replicas <count>', 'the new number of replicas')
  .action((args: string[], o: { replicas?: string }, cmd: Command) => run(() => scale(args, o, globalsOf(cmd))));

program
  .command('patch')
  .description('change fields of a statefulset with a JSON merge patch')
  .argument('<resource...>', 'statefulset NAME or statefulset/NAME')
  .option('-p, --patch <json>', 'the patch, e.g. \'{"spec":{"replicas":3}}\'')
  .option('--type <type>', 'patch type; only merge is supported', 'merge')
  .action((args: string[], opts: PatchOptions, cmd: Command) => run(() => patch(args, opts, globalsOf(cmd))));

program
  .command('cordon')
  .description('mark a node unschedulable: no new pods are placed on it')
  .argument('<node>', 'node name')
  .action((node: string, _o: unknown, cmd: Command) => run(() => cordon(node, globalsOf(cmd))));

program
  .command('uncordon')
  .description('mark a node schedulable again')
  .argument('<node>', 'node name')
  .action((node: string, _o: unknown, cmd: Command) => run(() => uncordon(node, globalsOf(cmd))));

program
  .command('drain')
  .description('cordon a node and evict its pods, waiting until they are gone')
  .argument('<node>', 'node name')
  .option('--timeout <duration>', 'how long to wait for the pods to terminate, e.g. 2m (0: no limit)', '0')
  .option('--force', 'also evict pods that no StatefulSet controls')
  .option('--delete-emptydir-data', 'also evict pods with emptyDir volumes (their data is lost)')
  .option('--ignore-daemonsets', 'accepted for kubectl compatibility (berth has no DaemonSets)')
  .action((node: string, opts: DrainOptions, cmd: Command) => run(() => drain(node, opts, globalsOf(cmd))));

const rollout = program.command('rollout').description('follow, list, undo and restart the rollouts of a statefulset');
rollout
  .command('status')
  .description('wait until the rollout of a statefulset is complete, showing its progress')
  .argument('<resource...>', 'statefulset/NAME or statefulset NAME')
  .option('-w, --watch [bool]', 'wait for the rollout to finish; false: print the status once', 'true')
  .option('--timeout <duration>', 'how long to wait, e.g. 30s or 5m (0: no limit)', '0')
  .action((args: string[], opts: StatusOptions, cmd: Command) => run(() => rolloutStatusCommand(args, opts, globalsOf(cmd))));
rollout
  .command('history')
  .description('list the revisions of a statefulset')
  .argument('<resource...>', 'statefulset/NAME or statefulset NAME')
  .option('--revision <n>', 'show the pod template of this revision')
  .option('-o, --output <format>', 'json or yaml: print the ControllerRevision objects')
  .action((args: string[], opts: HistoryOptions, cmd: Command) => run(() => rolloutHistory(args, opts, globalsOf(cmd))));
rollout
  .command('undo')
  .description('roll a statefulset back to an earlier revision')
  .argument('<resource...>', 'statefulset/NAME or statefulset NAME')
  .option('--to-revision <n>', 'the revision to go back to (0: the previous one)', '0')
  .action((args: string[], o: { toRevision?: string }, cmd: Command) => run(() => rolloutUndo(args, o, globalsOf(cmd))));
rollout
  .command('restart')
  .description('replace the pods of a statefulset one by one, as a rolling update does')
  .argument('<resource...>', 'statefulset/NAME or statefulset NAME')
  .action((args: string[], _o: unknown, cmd: Command) => run(() => rolloutRestart(args, globalsOf(cmd))));

program
  .command('exec')
  .description('run a command in a container of a pod')
  .argument('<pod>', 'pod name')
  .argument('[command...]', 'the command, after --')
  .option('-c, --container <name>', 'container name (default: the first)')
  .option('-i, --stdin', "pass berth's stdin to the command (its end closes the command's stdin)")
  .option('-t, --tty', 'run the command in a terminal (with -i on a terminal: raw keys, window size followed)')
  .action((pod: string, command: string[], opts: ExecOptions, cmd: Command) => run(() => exec(pod, command, opts, globalsOf(cmd))));

program
  .command('logs')
  .description('print the log of a container in a pod')
  .argument('<pod>', 'pod name')
  .option('-c, --container <name>', 'container name (default: the first)')
  .option('-f, --follow', 'keep streaming new lines')
  .option('-p, --previous', 'the run of the container before the current one (it restarted)')
  .option('--tail <lines>', 'only the last N lines (-1: all)')
  .option('--since <duration>', 'only lines newer than this, e.g. 30s, 5m, 1h (not with --since-time)')
  .option('--since-time <time>', 'only lines from this time on, RFC 3339, e.g. 2026-01-02T15:04:05Z (not with --since)')
  .option('--limit-bytes <bytes>', 'at most this many bytes of the log')
  .option('--timestamps', 'prefix each line with its time')
  .action((pod: string, opts: LogsOptions, cmd: Command) => run(() => logs(pod, opts, globalsOf(cmd))));

const nodeCmd = program.command('node').description('nodes after a host loss (docs/host-loss.md)');
nodeCmd
  .command('forget')
  .description('declare a NotReady node dead: revoke its credential and remove its pods so they can be moved')
  .argument('<node>', 'node name')
  .option('--wait', 'if its self-fencing pods may still run, wait until they have stopped, then forget it (default: refuse, saying how long remains)')
  .option('--timeout <duration>', 'with --wait: give up after this long, e.g. 10m (0: no limit)', '0')
  .action((name: string, opts: ForgetOptions, cmd: Command) => run(() => nodeForget(name, globalsOf(cmd), opts)));

const podCmd = program.command('pod').description('pods after a host loss (docs/host-loss.md)');
podCmd
  .command('move')
  .description('re-home a pod of a statefulset to another node, stopping it on the old one first')
  .argument('<pod>', 'pod name, e.g. web-1')
  .option('--to <node>', 'the node the pod moves to (Ready, not cordoned)')
  .option('--copy-volume', "copy the pod's volumes from the old node (it must be Ready)")
  .option('--empty-volume', 'start on the new node with empty volumes (the old data stays on the old node)')
  .option('--timeout <duration>', 'how long to wait for the pod to run on the new node, e.g. 5m (0: no limit)', '10m')
  .option('--no-wait', 'start the move and return')
  .option('--cancel', 'cancel the move under way (or failed) of the pod: it starts again on its old node, where its data is')
  .action((pod: string, opts: MoveOptions, cmd: Command) => run(() => podMove(pod, opts, globalsOf(cmd))));

const token = program.command('token').description('join tokens, viewer tokens and node credentials');
token
  .command('create')
  .description('create a join token (or, with --role viewer, a read-only token for people) and print it')
  .option('--role <role>', "join (a host joins with it) or viewer (reads everything but Secrets' data, changes nothing: the status page, berth get)", 'join')
  .option('--ttl <duration>', 'how long the token is valid, e.g. 30m, 24h, 7d (0: never expires)', '24h')
  .option('--description <text>', 'what the token is for, shown by token list')
  .option('--print-join-command', 'print the whole berth agent command line instead of the token')
  .action((opts: TokenCreateOptions, cmd: Command) => run(() => tokenCreate(opts, globalsOf(cmd))));
token
  .command('list')
  .description('list join tokens and node credentials (never their secrets)')
  .action((_o: unknown, cmd: Command) => run(() => tokenList(globalsOf(cmd))));
token
  .command('revoke')
  .description('revoke a token or a node credential by its ID')
  .argument('<id>', 'token ID (the part before the dot), as token list shows it')
  .action((id: string, _o: unknown, cmd: Command) => run(() => tokenRevoke(id, globalsOf(cmd))));

const configCmd = program.command('config').description('the connection to the controller, for other clients');
configCmd
  .command('kubeconfig')
  .description(
    'print a kubeconfig for kubectl, Helm and the Kubernetes client libraries, made from the connection this command uses (--server/--token, BERTH_*, the config file such as admin.conf); -n sets the namespace of its contexts (docs/kubectl.md)',
  )
  .option('-o, --output <file>', 'write it to FILE (mode 0600, replaced whole) instead of stdout')
  .option('--context <name>', 'name of the context, its cluster and its user', 'berth')
  .action((opts: KubeconfigOptions, cmd: Command) => run(() => configKubeconfig(opts, globalsOf(cmd))));

program
  .command('version')
  .description('print the client and the controller version')
  .action((_o: unknown, cmd: Command) => run(() => version(globalsOf(cmd))));

await run(async () => {
  await program.parseAsync(process.argv);
});
