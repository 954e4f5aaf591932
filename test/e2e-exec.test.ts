// `berth exec` end to end over the exec stream (CLI → controller → agent → Docker, real https):
// stdin with -i (size, bytes, end of input), exit codes, a terminal with -t, and a container
// killed under a running command.
import t from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, Cluster, docker, podReady, requireDocker, waitFor } from './helpers/cluster.js';
import { sleeperSet } from './helpers/manifests.js';

const pexec = promisify(execFile);

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

t.test('berth exec streams', async (t) => {
  if (!(await requireDocker(t))) return;
  const c = new Cluster('exec');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.startAgent(`exec-${process.pid}`);
  await c.ok(['apply', '-f', '-'], sleeperSet({ name: 'bb', grace: 1 }));
  await c.waitForPods('bb-0 ready', (ps) => ps.some((p) => p.metadata.name === 'bb-0' && podReady(p)));
  const env = { ...process.env, BERTH_CONFIG: join(c.controllerDir, 'admin.conf') };

  /** Starts the CLI; `input` is written to its stdin and then closed (undefined: closed at once). */
  const start = (args: string[], input?: Buffer) => {
    const started = Date.now();
    const p = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin!.on('error', () => undefined);
    const done = new Promise<Run>((resolve) =>
      p.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr, ms: Date.now() - started })),
    );
    if (input !== undefined) p.stdin!.end(input);
    return { p, done, stdout: () => Buffer.concat(out).toString() };
  };
  const run = (args: string[], input?: Buffer) => {
    const s = start(args, input);
    if (input === undefined) s.p.stdin!.end();
    return s.done;
  };

  t.test('exec -i passes 1 MiB of random bytes through wc -c and sha256sum', async (t) => {
    const data = randomBytes(1 << 20);
    const wc = await run(['exec', '-i', 'bb-0', '--', 'wc', '-c'], data);
    t.equal(wc.code, 0, wc.stderr);
    t.equal(wc.stdout.toString().trim(), '1048576', 'wc -c counts every byte: the end of stdin reached the command');
    const sum = await run(['exec', '-i', 'bb-0', '--', 'sha256sum'], data);
    t.equal(sum.code, 0, sum.stderr);
    t.equal(sum.stdout.toString().split(/\s+/)[0], createHash('sha256').update(data).digest('hex'), 'the same bytes in the same order');
    const md5 = await run(['exec', '-i', 'bb-0', '--', 'md5sum'], data);
    t.equal(md5.stdout.toString().split(/\s+/)[0], createHash('md5').update(data).digest('hex'), 'md5sum agrees too');
    t.comment(`1 MiB through sha256sum: ${sum.ms} ms`);
  });

  t.test('exec -i with an empty stdin ends the command', async (t) => {
    const r = await run(['exec', '-i', 'bb-0', '--', 'wc', '-c']);
    t.same([r.code, r.stdout.toString().trim()], [0, '0']);
  });

  t.test('exec -i: output comes back byte for byte, stdout and stderr apart', async (t) => {
    const data = randomBytes(300_000);
    const r = await run(['exec', '-i', 'bb-0', '--', 'sh', '-c', 'cat; echo done >&2'], data);
    t.equal(r.code, 0);
    t.ok(r.stdout.equals(data), 'cat echoes the exact bytes');
    t.equal(r.stderr, 'done\n');
  });

  t.test("the command's exit code is berth's", async (t) => {
    const r = await run(['exec', 'bb-0', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    t.same([r.code, r.stdout.toString(), r.stderr], [7, 'out\n', 'err\n']);
    const i = await run(['exec', '-i', 'bb-0', '--', 'sh', '-c', 'exit 7'], Buffer.from('ignored'));
    t.equal(i.code, 7, 'with -i too');
    const signalled = await run(['exec', 'bb-0', '--', 'sh', '-c', 'kill -9 $$']);
    t.same([signalled.code, signalled.stderr], [137, ''], 'a command killed by a signal in a running container: its code, no message');
    const missing = await run(['exec', 'bb-0', '--', 'no-such-command']);
    t.not(missing.code, 0, 'a command that does not exist fails');
  });

  t.test('exec without -i does not read stdin and works as before', async (t) => {
    const s = start(['exec', 'bb-0', '--', 'hostname']);
    // stdin stays open: berth must neither wait for it nor send it.
    const r = await s.done;
    s.p.stdin!.destroy();
    t.same([r.code, r.stdout.toString()], [0, 'bb-0\n']);
  });

  t.test('berth ends when the command ends, even while its stdin stays open', async (t) => {
    const s = start(['exec', '-i', 'bb-0', '--', 'head', '-c', '5']);
    s.p.stdin!.write('hello world\n');
    const r = await Promise.race([s.done, new Promise<undefined>((r) => setTimeout(r, 15_000))]);
    if (!r) s.p.kill('SIGKILL');
    t.ok(r, 'berth exited');
    t.same([r?.code, r?.stdout.toString()], [0, 'hello']);
  });

  t.test('a bad exec is refused with a clear error and a non-zero exit', async (t) => {
    const noCmd = await run(['exec', 'bb-0']);
    t.equal(noCmd.code, 1);
    t.match(noCmd.stderr, /at least one command/);
    const noPod = await run(['exec', '-i', 'nope-0', '--', 'true']);
    t.equal(noPod.code, 1);
    t.match(noPod.stderr, /NotFound.*nope-0/);
    const noContainer = await run(['exec', '-c', 'nope', 'bb-0', '--', 'true']);
    t.equal(noContainer.code, 1);
    t.match(noContainer.stderr, /container nope is not valid/);
  });

  t.test('exec -t runs the command in a terminal', async (t) => {
    const r = await run(['exec', '-t', 'bb-0', '--', 'sh', '-c', 'tty; exit 3']);
    t.equal(r.code, 3, 'exit code through the terminal');
    t.match(r.stdout.toString(), /^\/dev\/pts\/\d+\r\n$/, 'a pseudo-terminal, with its CRLF line ends');
  });

  t.test('exec -it from a local terminal: size, resize, raw keys, exit code', async (t) => {
    const hasScript = await pexec('script', ['--version']).then(
      () => true,
      () => false,
    );
    if (!hasScript) {
      t.fail('script (util-linux) is needed to run berth on a terminal');
      return;
    }
    // script gives berth a terminal of 33 rows and 111 columns; once the trigger file exists it
    // is resized to 40x100 (SIGWINCH). The command waits (at most 5 s) for each size, reads a
    // typed line, then sleeps until Ctrl-C, which only reaches it if the local terminal is raw.
    const trigger = join(c.dir, 'resize-now');
    const remote =
      'w() { i=0; while [ $i -lt 50 ]; do s=$(stty size); [ "$s" = "$1" ] && break; sleep 0.1; i=$((i+1)); done; echo "size $s"; }; ' +
      'trap "echo interrupted; exit 6" INT; w "33 111"; echo ready; read a; w "40 100"; echo "got $a"; echo waiting; sleep 30; echo slept';
    const file = join(c.dir, 'tty.sh');
    writeFileSync(
      file,
      [
        'stty rows 33 cols 111',
        `( while [ ! -e '${trigger}' ]; do sleep 0.1; done; stty rows 40 cols 100 < /dev/tty ) &`,
        `exec '${process.execPath}' '${BIN}' exec -it bb-0 -- sh -c '${remote.replace(/'/g, `'"'"'`)}'`,
        '',
      ].join('\n'),
    );
    const p = spawn('script', ['-qec', `sh ${file}`, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((r) => p.on('close', (code) => r(code ?? -1)));
    const see = (what: RegExp) =>
      waitFor(`${what} on the terminal`, () => (what.test(out) ? true : undefined), 15_000).catch((err: Error) => {
        throw new Error(`${err.message}; output so far: ${JSON.stringify(out)}`);
      });
    try {
      await see(/ready/);
      t.match(out, /size 33 111/, 'the remote terminal has the local size');
      writeFileSync(trigger, '');
      p.stdin.write('typed\r');
      await see(/waiting/);
      t.match(out, /size 40 100/, 'a local resize reaches the remote terminal');
      t.match(out, /got typed/, 'keys typed locally reach the command');
      p.stdin.write('\x03');
      const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-2), 15_000))]);
      t.match(out, /interrupted/, 'Ctrl-C went to the command, not to berth: the local terminal was raw');
      t.equal(code, 6, `the exit code of the command (output: ${JSON.stringify(out)})`);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
    }
  });

  /** Runs `cat` with -i and waits until a first line came back through it. */
  const catRunning = async () => {
    const s = start(['exec', '-i', 'bb-0', '--', 'cat']);
    s.p.stdin!.write('before\n');
    await waitFor('cat to echo a line', () => (s.stdout() === 'before\n' ? true : undefined), 15_000);
    return s;
  };
  const within = async (s: { p: ChildProcess; done: Promise<Run> }, ms: number) => {
    const r = await Promise.race([s.done, new Promise<undefined>((r) => setTimeout(r, ms))]);
    if (!r) s.p.kill('SIGKILL');
    s.p.stdin!.destroy();
    return r;
  };

  t.test('stdin is not buffered whole anywhere: a slow command holds the sender back', async (t) => {
    const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
    const controller = c.controller!.pid!;
    const agent = c.agents[0].proc.pid!;
    const before = { controller: rss(controller), agent: rss(agent) };
    const size = 64 << 20;
    // The command reads nothing for 4 s: 64 MiB offered meanwhile must wait at the CLI's stdin.
    const s = start(['exec', '-i', 'bb-0', '--', 'sh', '-c', 'sleep 4; wc -c']);
    let sent = 0;
    const chunk = Buffer.alloc(1 << 20, 7);
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!s.p.stdin!.write(chunk)) return s.p.stdin!.once('drain', pump);
      }
      s.p.stdin!.end();
    };
    pump();
    await new Promise((r) => setTimeout(r, 3000));
    const during = { controller: rss(controller), agent: rss(agent), cli: rss(s.p.pid!), accepted: sent };
    const r = await s.done;
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.toString().trim(), String(size), 'all of it arrived in the end');
    t.ok(during.accepted < size / 2, `the CLI stopped taking stdin while the command did not read (${during.accepted >> 20} of 64 MiB taken after 3 s)`);
    const mib = (n: number) => Math.round(n / (1 << 20));
    t.ok(during.controller - before.controller < 24 << 20, `controller memory grew by ${mib(during.controller - before.controller)} MiB`);
    t.ok(during.agent - before.agent < 24 << 20, `agent memory grew by ${mib(during.agent - before.agent)} MiB`);
    t.comment(`after 3 s: CLI ${mib(during.cli)} MiB resident; 64 MiB through wc -c in ${r.ms} ms`);
  });

  t.test('a container killed under a running exec ends berth non-zero with a message', async (t) => {
    const pod = (await c.pods()).find((p) => p.metadata.name === 'bb-0')!;
    const id = pod.status.containerStatuses![0].containerID!.replace('docker://', '');
    const s = await catRunning();
    const killedAt = Date.now();
    await docker(['kill', id]);
    const r = await within(s, 20_000);
    t.ok(r, 'berth exited instead of waiting');
    t.not(r?.code, 0, 'non-zero exit');
    t.match(r?.stderr, /container main stopped while the command ran/);
    t.comment(`berth ended ${Date.now() - killedAt} ms after the kill, exit code ${r?.code}`);
    await c.waitForPods('bb-0 ready again', (ps) => ps.some((p) => p.metadata.name === 'bb-0' && podReady(p)));
  });

  t.test('the agent stopping under a running exec ends berth non-zero with a message', async (t) => {
    const s = await catRunning();
    const name = c.agents[0].name;
    await c.stopAgent(name);
    const r = await within(s, 20_000);
    t.ok(r, 'berth exited instead of waiting');
    t.equal(r?.code, 1, 'exit code 1');
    t.match(r?.stderr, /the connection to the controller ended before the command finished/);
    await c.startAgent(name);
  });
});
