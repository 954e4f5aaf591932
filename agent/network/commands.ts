// Thin adapters over the `ip` and `iptables` commands (iproute2 and iptables): they run in the
// agent's network namespace, which is the host's.
import { execFile, spawn } from 'node:child_process';
import { DOCKER_USER_CHAIN, FORWARD_CHAIN, POSTROUTING_CHAIN, ROUTE_PROTO, parseRoutes, type FirewallState, type PodRoute } from './plan.js';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | string | undefined,
    readonly stderr: string,
  ) {
    super(`${command}: ${stderr.trim() || `exit ${String(code)}`}`);
  }
}

export function run(file: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(`${file} ${args.join(' ')}`, (err as NodeJS.ErrnoException).code ?? undefined, stderr || err.message));
      else resolve(stdout);
    });
  });
}

/** The routes berth installed (its protocol number). */
export async function listPodRoutes(): Promise<PodRoute[]> {
  return parseRoutes(await run('ip', ['-4', 'route', 'show', 'proto', ROUTE_PROTO]));
}

export function ip(args: string[]): Promise<string> {
  return run('ip', args);
}

/** `-w`: wait for the xtables lock that Docker takes too. */
export function iptables(args: string[]): Promise<string> {
  return run('iptables', ['-w', '5', ...args]);
}

/**
 * The `iptables -S` lines of one chain of a whole-table listing, undefined when the chain does
 * not exist. (Asking for a missing chain by name, iptables-nft 1.8 answers "incompatible".)
 */
export function chainOf(tableLines: string[], chain: string): string[] | undefined {
  const lines = tableLines.filter((l) => {
    const w = l.trim().split(/\s+/);
    return (w[0] === '-N' || w[0] === '-P' || w[0] === '-A') && w[1] === chain;
  });
  return lines.some((l) => /^-[NP] /.test(l.trim())) ? lines : undefined;
}

async function tableLines(table: string): Promise<string[]> {
  return (await iptables(['-t', table, '-S'])).split('\n').filter((l) => l.trim() !== '');
}

export async function firewallState(): Promise<FirewallState> {
  const [filter, nat] = await Promise.all([tableLines('filter'), tableLines('nat')]);
  const forwardChain = chainOf(filter, FORWARD_CHAIN);
  const dockerUser = chainOf(filter, DOCKER_USER_CHAIN);
  const postroutingChain = chainOf(nat, POSTROUTING_CHAIN);
  const postrouting = chainOf(nat, 'POSTROUTING');
  return {
    ...(forwardChain ? { forwardChain } : {}),
    ...(postroutingChain ? { postroutingChain } : {}),
    ...(dockerUser ? { dockerUser } : {}),
    ...(postrouting ? { postrouting } : {}),
  };
}

/** `iptables-save -t <table>` as lines. */
export async function iptablesSave(table: 'nat' | 'filter'): Promise<string[]> {
  return (await run('iptables-save', ['-t', table])).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** `iptables-restore -w 5 --noflush` with `text` on stdin: all of it applies, or none (one transaction per table). */
export function iptablesRestore(text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-w', '5', '--noflush'];
    const child = spawn('iptables-restore', args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => reject(new CommandError(`iptables-restore ${args.join(' ')}`, err.code, err.message)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CommandError(`iptables-restore ${args.join(' ')}`, code ?? signal ?? undefined, stderr));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(text);
  });
}
