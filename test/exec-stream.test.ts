// The exec stream's framing, request query, resize and status (shared/exec-stream.ts), and the status
// an agent sends when a command ends (agent/api/exec-session.ts).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  CH_CLOSE,
  CH_STDIN,
  CH_STDOUT,
  FrameDecoder,
  MAX_FRAME,
  encodeFrame,
  encodeFrames,
  encodeResize,
  execQuery,
  exitStatus,
  failureStatus,
  parseExecQuery,
  parseResize,
  statusOutcome,
} from '../shared/exec-stream.js';
import { endStatus } from '../agent/api/exec-session.js';

t.test('a frame is channel, uint32 BE length, payload', async (t) => {
  t.same([...encodeFrame(CH_STDOUT, Buffer.from('hi'))], [1, 0, 0, 0, 2, 0x68, 0x69]);
  t.same([...encodeFrame(CH_CLOSE, Buffer.from([CH_STDIN]))], [255, 0, 0, 0, 1, 0]);
  t.same([...encodeFrame(CH_STDIN)], [0, 0, 0, 0, 0], 'an empty frame');
  t.throws(() => encodeFrame(CH_STDIN, Buffer.alloc(MAX_FRAME + 1)), RangeError);
});

t.test('frames split at any byte boundary decode to the same frames', async (t) => {
  const payloads = [Buffer.from('a'), Buffer.alloc(0), randomBytes(70_000), Buffer.from('end')];
  const wire = Buffer.concat(payloads.map((p, i) => encodeFrame(i % 2 === 0 ? CH_STDOUT : CH_STDIN, p)));
  for (const step of [1, 2, 5, 7, 4096, wire.length]) {
    const d = new FrameDecoder();
    const got = [];
    for (let i = 0; i < wire.length; i += step) got.push(...d.push(wire.subarray(i, i + step)));
    t.same(
      got.map((f) => [f.channel, f.payload.toString('hex')]),
      payloads.map((p, i) => [i % 2 === 0 ? CH_STDOUT : CH_STDIN, p.toString('hex')]),
      `in pieces of ${step} bytes`,
    );
    t.equal(d.pending, 0, 'nothing left over');
  }
});

t.test('a partial frame is held until the rest arrives', async (t) => {
  const d = new FrameDecoder();
  const f = encodeFrame(CH_STDOUT, Buffer.from('hello'));
  t.same(d.push(f.subarray(0, 6)), []);
  t.equal(d.pending, 6);
  t.same(
    d.push(f.subarray(6)).map((x) => x.payload.toString()),
    ['hello'],
  );
});

t.test('large data is split into frames of at most MAX_FRAME bytes', async (t) => {
  const data = randomBytes(2 * MAX_FRAME + 10);
  const frames = encodeFrames(CH_STDIN, data);
  t.equal(frames.length, 3);
  const d = new FrameDecoder();
  const back = frames.flatMap((f) => d.push(f));
  t.same(
    back.map((f) => f.payload.length),
    [MAX_FRAME, MAX_FRAME, 10],
  );
  t.ok(Buffer.concat(back.map((f) => f.payload)).equals(data), 'the bytes come back in order');
});

t.test('an unknown channel or an oversized frame is an error', async (t) => {
  t.throws(() => new FrameDecoder().push(Buffer.from([9, 0, 0, 0, 0])), { name: 'FrameError', message: /unknown exec stream channel 9/ });
  const big = Buffer.alloc(5);
  big[0] = CH_STDIN;
  big.writeUInt32BE(MAX_FRAME + 1, 1);
  t.throws(() => new FrameDecoder().push(big), /exceeds/, 'length above MAX_FRAME, before its payload arrives');
});

t.test('the request query round-trips and names a bad parameter', async (t) => {
  const q = execQuery({ command: ['sh', '-c', 'echo a&b=c'], container: 'side', stdin: true, tty: false });
  t.match(q, /^\?command=sh&command=-c&command=echo\+a%26b%3Dc&container=side/);
  t.same(parseExecQuery(new URLSearchParams(q)), { command: ['sh', '-c', 'echo a&b=c'], container: 'side', stdin: true, tty: false });
  t.same(parseExecQuery(new URLSearchParams(execQuery({ command: ['ls'], stdin: false, tty: true }))), { command: ['ls'], stdin: false, tty: true });
  t.match(parseExecQuery(new URLSearchParams('stdin=true')), { problem: /^command:/ });
  t.match(parseExecQuery(new URLSearchParams('command=ls&stdin=yes')), { problem: /^stdin must be true or false/ });
  t.match(parseExecQuery(new URLSearchParams('command=ls&tty=2')), { problem: /^tty must be true or false/ });
});

t.test('resize frames carry Width and Height', async (t) => {
  t.same(parseResize(encodeResize({ width: 120, height: 40 })), { width: 120, height: 40 });
  t.match(parseResize(Buffer.from('{')), { problem: /not JSON/ });
  t.match(parseResize(Buffer.from('{"Width":0,"Height":10}')), { problem: /Width and Height/ });
  t.match(parseResize(Buffer.from('{"Width":80}')), { problem: /Width and Height/ });
});

t.test('the status decides the exit code by its fields', async (t) => {
  const asBytes = (o: unknown) => Buffer.from(JSON.stringify(o));
  t.same(statusOutcome(asBytes(exitStatus(0))), { exitCode: 0 });
  t.same(statusOutcome(asBytes(exitStatus(7))), { exitCode: 7 }, 'a non-zero exit prints nothing more');
  t.same(exitStatus(7).details, { causes: [{ reason: 'ExitCode', message: '7' }] }, "Kubernetes' NonZeroExitCode shape");
  t.same(statusOutcome(asBytes(failureStatus('ContainerStopped', 'container main stopped', 137))), { exitCode: 137, message: 'container main stopped' });
  t.same(statusOutcome(asBytes(failureStatus('InternalError', 'engine gone'))), { exitCode: 1, message: 'engine gone' });
  t.same(statusOutcome(asBytes(failureStatus('X', 'odd code', 300))), { exitCode: 1, message: 'odd code' }, 'codes outside 1..255 become 1');
  t.match(statusOutcome(Buffer.from('nope')), { exitCode: 1, message: /not valid JSON/ });
});

t.test('the end of a command: its exit code, unless its container stopped under it', async (t) => {
  t.same(endStatus(0, true, 'main'), exitStatus(0));
  t.same(endStatus(7, true, 'main'), exitStatus(7));
  t.same(endStatus(137, true, 'main'), exitStatus(137), 'a signal in a running container is the end of the command itself');
  t.match(endStatus(137, false, 'main'), { status: 'Failure', reason: 'ContainerStopped', details: { causes: [{ reason: 'ExitCode', message: '137' }] } });
  t.same(statusOutcome(Buffer.from(JSON.stringify(endStatus(137, false, 'main')))), {
    exitCode: 137,
    message: 'container main stopped while the command ran (exit code 137)',
  });
  t.same(statusOutcome(Buffer.from(JSON.stringify(endStatus(undefined, false, 'main')))).exitCode, 1, 'no exit code: 1');
  t.match(endStatus(undefined, true, 'main'), { status: 'Failure', reason: 'InternalError' });
});
