// admin.conf written and read without a YAML library: the same text the yaml package writes for
// the values a controller puts there, values that need quotes read back unchanged, and a token
// read from any admin.conf the yaml package reads.
import t from 'tap';
import YAML from 'yaml';
import { adminConfText, adminConfToken } from '../controller/auth/admin-conf.js';

const CA = Buffer.from('-----BEGIN CERTIFICATE-----\n'.repeat(40)).toString('base64');

t.test('the text of the values a controller writes is what the yaml package writes', async (t) => {
  const cases = [
    { server: 'https://127.0.0.1:45921', token: 'g0yepw.Z_Y13dL8qNJx9N5ynAd_b9smKXsAoYTf', 'certificate-authority-data': CA },
    { server: 'https://10.0.0.1:7443', servers: ['https://10.0.0.1:7443', 'https://ctl-2.example:7443'], token: '3hdxrp.HAJv0CFaKtdUMRGw-_' },
    { server: 'http://[fd00::1]:7443', token: '0123ab.x' },
  ];
  for (const c of cases) t.equal(adminConfText(c), YAML.stringify(c), c.server);
  t.equal(
    adminConfText({ server: 'https://a:1', token: undefined }),
    YAML.stringify({ server: 'https://a:1', token: undefined }),
    'an undefined value is left out',
  );
});

t.test('values that need quotes read back unchanged', async (t) => {
  for (const v of [
    '123',
    '1.5',
    '0x1f',
    '1e3',
    '.inf',
    'true',
    'NULL',
    '~',
    '',
    'a: b',
    'a #b',
    '-x',
    'é',
    'ends:',
    "it's",
    'say "hi"',
    'back\\slash',
    ' lead',
  ]) {
    const conf = { server: v, servers: [v, 'https://b:1'], token: v };
    t.same(YAML.parse(adminConfText(conf)), conf, JSON.stringify(v));
    t.equal(await adminConfToken(adminConfText(conf)), v, `token ${JSON.stringify(v)}`);
  }
});

t.test('the token of an admin.conf the yaml package wrote or a person edited', async (t) => {
  t.equal(await adminConfToken(YAML.stringify({ server: 'https://a:1', token: 'abc.def' })), 'abc.def', 'plain');
  t.equal(await adminConfToken("server: https://a:1\ntoken: 'it''s'\n"), "it's", 'single-quoted');
  t.equal(await adminConfToken('server: https://a:1\ntoken: abc.def # mine\n'), 'abc.def', 'a comment after it');
  t.equal(await adminConfToken('server: https://a:1\ntoken: >-\n  folded\n'), 'folded', 'a block scalar');
  t.equal(await adminConfToken('token:   abc.def\n'), 'abc.def', 'more spaces');
  t.equal(await adminConfToken('{"server": "https://a:1", "token": "abc"}\n'), 'abc', 'JSON');
  t.equal(await adminConfToken('server: https://a:1\n'), undefined, 'no token');
  t.equal(await adminConfToken('server: https://a:1\ntoken: 12\n'), undefined, 'a number is no token');
});
