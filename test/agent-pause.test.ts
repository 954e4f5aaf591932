// The pause image: its tag, whether to build it, the static-binary check, the tarball, and the
// build-once-and-retry flow against an in-memory engine.
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAUSE_LABEL, PauseImage, pauseImageDecision, pauseImageTag, staticElfProblem, tarOneFile, type PauseRuntime } from '../agent/pods/pause.js';
import { createLogger } from '../agent/log.js';

/** A minimal 64-bit little-endian ELF with program headers of these types. */
function elf(types: number[]): Buffer {
  const phoff = 64;
  const b = Buffer.alloc(phoff + 56 * types.length);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b.writeBigUInt64LE(BigInt(phoff), 32);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(types.length, 56);
  types.forEach((type, i) => b.writeUInt32LE(type, phoff + i * 56));
  return b;
}

const SHA = 'ab'.repeat(32);

t.test('pause image tag and the decision to build it', async (t) => {
  t.equal(pauseImageTag(SHA), 'berth.local/pause:abababababababab');
  t.equal(pauseImageDecision(SHA, undefined), 'build', 'no image with the tag');
  t.equal(pauseImageDecision(SHA, {}), 'build', 'an image without the label (someone else tagged it)');
  t.equal(pauseImageDecision(SHA, { [PAUSE_LABEL]: 'cd'.repeat(32) }), 'build', 'another binary');
  t.equal(pauseImageDecision(SHA, { [PAUSE_LABEL]: SHA, other: 'x' }), 'present');
});

t.test('only a statically linked ELF executable can be the pause binary', async (t) => {
  t.equal(staticElfProblem(elf([1, 1, 4])), undefined, 'no PT_INTERP: static');
  t.match(staticElfProblem(elf([6, 3, 1])), /linked dynamically/);
  t.equal(staticElfProblem(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(80))), 'not an ELF executable');
  t.equal(staticElfProblem(elf([1, 1]).subarray(0, 100)), 'a truncated ELF file');
  t.match(staticElfProblem(readFileSync(process.execPath)), /linked dynamically/, 'node itself is dynamic');
  if (existsSync('/usr/bin/catatonit')) t.equal(staticElfProblem(readFileSync('/usr/bin/catatonit')), undefined, "Debian's catatonit is static");
});

t.test('the pause tarball is a ustar archive tar reads', async (t) => {
  const content = Buffer.from('hello pause\n');
  const tar = tarOneFile('pause', content);
  t.equal(tar.length % 512, 0);
  t.equal(tar.length, 512 + 512 + 1024);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[i];
  t.equal(parseInt(tar.subarray(148, 155).toString(), 8), sum, 'header checksum');
  const listing = await new Promise<string>((resolve, reject) => {
    const p = execFile('tar', ['-tvf', '-'], (err, out) => (err ? reject(err) : resolve(out)));
    p.stdin!.end(tar);
  });
  t.match(listing, /^-rwxr-xr-x root\/root\s+12 .* pause\n$/);
});

function fakeEngine(): PauseRuntime & {
  images: Map<string, Record<string, string>>;
  imports: { tag: string; changes: string[]; size: number }[];
  failNext: number;
} {
  const e = {
    images: new Map<string, Record<string, string>>(),
    imports: [] as { tag: string; changes: string[]; size: number }[],
    failNext: 0,
    async imageLabels(image: string) {
      return e.images.get(image);
    },
    async importImage(tar: Buffer, tag: string, changes: string[]) {
      await new Promise((r) => setTimeout(r, 5));
      if (e.failNext > 0) {
        e.failNext--;
        throw new Error('engine unavailable');
      }
      e.imports.push({ tag, changes, size: tar.length });
      const label = changes.find((c) => c.startsWith(`LABEL ${PAUSE_LABEL}=`))!.split('=')[1];
      e.images.set(tag, { [PAUSE_LABEL]: label });
    },
  };
  return e;
}

t.test('PauseImage: built once when missing, shared by concurrent callers, retried after an engine failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pause-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'catatonit');
  const content = elf([1]);
  writeFileSync(bin, content);
  const sha = createHash('sha256').update(content).digest('hex');
  const log = createLogger({ test: 'pause' });

  const engine = fakeEngine();
  engine.failNext = 1;
  const p = new PauseImage(engine, bin, log);
  await t.rejects(p.ensure(), /engine unavailable/);
  t.equal(p.ready, undefined);
  const [a, b] = await Promise.all([p.ensure(), p.ensure()]);
  t.equal(a, pauseImageTag(sha));
  t.equal(b, a);
  t.equal(engine.imports.length, 1, 'one import for both callers');
  t.same(engine.imports[0].changes, ['ENTRYPOINT ["/pause","-P"]', `LABEL ${PAUSE_LABEL}=${sha}`]);
  t.equal(engine.imports[0].size, tarOneFile('pause', content).length);
  t.equal(await p.ensure(), a);
  t.equal(engine.imports.length, 1, 'present: not built again');
  engine.images.clear();
  t.equal(await p.ensure(), a);
  t.equal(engine.imports.length, 2, 'removed meanwhile: built again');

  // A missing or dynamic binary: a clear error naming the path and the package.
  await t.rejects(new PauseImage(engine, join(dir, 'nope'), log).ensure(), {
    message: new RegExp(`cannot read the pause binary ${join(dir, 'nope')}.*apt-get install catatonit`),
  });
  const dyn = join(dir, 'dyn');
  writeFileSync(dyn, elf([3]));
  await t.rejects(new PauseImage(engine, dyn, log).ensure(), /is linked dynamically.*catatonit/);

  // At agent start: retried until the engine answers.
  const e2 = fakeEngine();
  e2.failNext = 2;
  const waits: number[] = [];
  const p2 = new PauseImage(e2, bin, log);
  let readyCalls = 0;
  await p2.setup(
    new AbortController().signal,
    async (ms) => {
      waits.push(ms);
    },
    () => readyCalls++,
  );
  t.same(waits, [2000, 4000]);
  t.equal(readyCalls, 1, 'waiting pods are told once it is there');
  t.equal(p2.ready, pauseImageTag(sha));
});
