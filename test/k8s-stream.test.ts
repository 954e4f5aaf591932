// The pure parts of exec, attach and port forwarding over WebSocket: protocol choice, query
// flags and ports, and the first message of a port's channels.
import t from 'tap';
import { chooseStreamProtocol, parseAttachQuery, parseStreamFlags } from '../shared/exec-stream.js';
import { parsePort, parsePorts, portPrefix } from '../shared/port-forward.js';

t.test('the newest channel protocol the client offers is chosen; older ones are not spoken', async (t) => {
  t.equal(chooseStreamProtocol(['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io']), 'v5.channel.k8s.io');
  t.equal(chooseStreamProtocol([' v4.channel.k8s.io', 'v3.channel.k8s.io']), 'v4.channel.k8s.io', 'blanks around a listed name are ignored');
  t.equal(chooseStreamProtocol(['v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']), undefined);
  t.equal(chooseStreamProtocol(['v4.base64.channel.k8s.io']), undefined, 'the base64 variant is not spoken');
});

t.test('stream flags: true/false spellings, at least one stream, a bad value named', async (t) => {
  t.same(parseStreamFlags(new URLSearchParams('stdout=true&stderr=1')), { stdin: false, stdout: true, stderr: true });
  t.same(parseStreamFlags(new URLSearchParams('stdin=true')), { stdin: true, stdout: false, stderr: false });
  t.match(parseStreamFlags(new URLSearchParams('')), { problem: /at least 1 of stdin, stdout, stderr/ });
  t.match(parseStreamFlags(new URLSearchParams('stdout=yes')), { problem: /^stdout must be true or false/ });
});

t.test('attach takes no command; container, stdin and tty as exec', async (t) => {
  t.same(parseAttachQuery(new URLSearchParams('container=main&stdin=true&tty=true')), { container: 'main', stdin: true, tty: true });
  t.same(parseAttachQuery(new URLSearchParams('')), { stdin: false, tty: false });
  t.match(parseAttachQuery(new URLSearchParams('tty=maybe')), { problem: /^tty/ });
});

t.test('ports: repeated or comma-separated, each from 1 to 65535', async (t) => {
  t.same(parsePorts(new URLSearchParams('ports=80&ports=8080')), [80, 8080]);
  t.same(parsePorts(new URLSearchParams('ports=80,443')), [80, 443]);
  t.match(parsePorts(new URLSearchParams('')), { problem: /^ports: at least one/ });
  for (const bad of ['0', '65536', 'http', '80.5', '-1', ''])
    t.match(parsePorts(new URLSearchParams({ ports: bad })), { problem: /^ports: / }, `"${bad}" is refused`);
  t.equal(parsePort(new URLSearchParams('port=8080')), 8080);
  t.match(parsePort(new URLSearchParams('port=1,2')), { problem: /^port: exactly one/ });
  t.match(parsePort(new URLSearchParams('')), { problem: /^port: / });
});

t.test("a port channel's first message is the port, little endian, after the channel byte", async (t) => {
  t.same([...portPrefix(3, 8080)], [3, 0x90, 0x1f]);
});
