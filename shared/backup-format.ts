// The controller backup file (docs/operations.md#backup-and-restore): JSON lines, one record a
// line, independent of the store that wrote it, so a restore into SQLite (or later etcd) loads
// the same file.
//
//   {"kind":"BerthBackup","version":1,"createdAt":…,"backend":"sqlite","resourceVersion":…,…}   header
//   {"type":"file","path":"pki/ca.key","mode":384,"data":"<base64>"}                          files: CA, manifests
//   {"type":"meta","key":"…","value":"…"}
//   {"type":"object","object":{…}}                                                           API objects
//   {"type":"token","hash":"…","id":"…","role":"…",…}                                        token hashes
//   {"type":"binding","namespace":"…","statefulset":"…","ordinal":0,"node":"…","epoch":1}
//   {"type":"end","records":N,"sha256":"<hex>"}                                               trailer
//
// The trailer counts the records between header and trailer and carries the SHA-256 of every
// byte before its own line: a file cut short (an interrupted download, a full disk) or changed
// has no valid trailer and is refused before anything is restored.
import { createHash, type Hash } from 'node:crypto';
import type { AnyObject } from './types.js';

export const BACKUP_KIND = 'BerthBackup';
export const BACKUP_VERSION = 1;

export interface BackupHeader {
  kind: typeof BACKUP_KIND;
  version: number;
  /** When the snapshot was taken (ISO 8601). */
  createdAt: string;
  /** The store the snapshot came from. */
  backend: string;
  /** The highest resourceVersion the store had handed out at the snapshot. */
  resourceVersion: number;
  controllerVersion: string;
}

export interface FileRecord {
  type: 'file';
  /** Relative to the data dir, e.g. pki/ca.key. */
  path: string;
  mode: number;
  /** Base64 of the content. */
  data: string;
}

export interface MetaRecord {
  type: 'meta';
  key: string;
  value: string;
}

export interface ObjectRecord {
  type: 'object';
  object: AnyObject;
}

/** A bearer token's record, as the store keeps it; only the hash of its secret is kept. */
export interface StoredToken {
  id: string;
  role: string;
  subject: string;
  created: string;
  expires: string | null;
  description: string | null;
}

export interface TokenRecord extends StoredToken {
  type: 'token';
  hash: string;
}

export interface BindingRecord {
  type: 'binding';
  namespace: string;
  statefulset: string;
  ordinal: number;
  node: string;
  epoch: number;
}

export type BackupRecord = FileRecord | MetaRecord | ObjectRecord | TokenRecord | BindingRecord;

export interface EndRecord {
  type: 'end';
  records: number;
  sha256: string;
}

/** The files of the data dir a backup carries, and their modes. */
export const BACKUP_FILES: { path: string; mode: number }[] = [
  { path: 'pki/ca.crt', mode: 0o644 },
  { path: 'pki/ca.key', mode: 0o600 },
  { path: 'metrics-token', mode: 0o600 },
];

/** Files of the manifest directory travel as `manifests/NAME` (one level, no hidden names). */
export const MANIFESTS_PREFIX = 'manifests/';

/** Whether a backup may carry a file at this path (relative to the data dir). */
export function isBackupFilePath(path: string): boolean {
  if (BACKUP_FILES.some((f) => f.path === path)) return true;
  if (!path.startsWith(MANIFESTS_PREFIX)) return false;
  const name = path.slice(MANIFESTS_PREFIX.length);
  return /^[^/\\.][^/\\]*$/.test(name) && ![...name].some((ch) => ch.charCodeAt(0) < 0x20) && Buffer.byteLength(name) <= 255;
}

/** A backup file that cannot be restored; the message says where and why. */
export class BackupFormatError extends Error {
  override name = 'BackupFormatError';
}

/** Writes a backup as lines, keeping the count and the hash the trailer needs. */
export class BackupEncoder {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  header(h: Omit<BackupHeader, 'kind' | 'version'>): string {
    return this.line({ kind: BACKUP_KIND, version: BACKUP_VERSION, ...h });
  }

  record(r: BackupRecord): string {
    this.count++;
    return this.line(r);
  }

  /** The trailer line; nothing may follow it. */
  end(): string {
    const end: EndRecord = { type: 'end', records: this.count, sha256: this.hash.digest('hex') };
    return `${JSON.stringify(end)}\n`;
  }

  private line(value: unknown): string {
    const text = `${JSON.stringify(value)}\n`;
    this.hash.update(text);
    return text;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Why a record is unusable, or undefined. */
function recordProblem(r: Record<string, unknown>): string | undefined {
  switch (r.type) {
    case 'file': {
      if (!isString(r.path) || !isBackupFilePath(r.path)) return `file path ${JSON.stringify(r.path)} is not one a backup carries`;
      if (!isCount(r.mode) || r.mode > 0o777) return 'file mode must be a permission number';
      if (!isString(r.data) || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.data)) return 'file data must be base64';
      return undefined;
    }
    case 'meta':
      return isString(r.key) && isString(r.value) ? undefined : 'meta needs a string key and value';
    case 'object': {
      const o = r.object;
      if (!isObject(o) || !isString(o.kind) || !isObject(o.metadata) || !isString(o.metadata.name) || o.metadata.name === '') {
        return 'object needs a kind and metadata.name';
      }
      if (o.metadata.namespace !== undefined && !isString(o.metadata.namespace)) return 'object metadata.namespace must be a string';
      return undefined;
    }
    case 'token':
      return isString(r.hash) &&
        isString(r.id) &&
        isString(r.role) &&
        isString(r.subject) &&
        isString(r.created) &&
        isStringOrNull(r.expires) &&
        isStringOrNull(r.description)
        ? undefined
        : 'token needs hash, id, role, subject, created (strings), expires and description (string or null)';
    case 'binding':
      return isString(r.namespace) && isString(r.statefulset) && isCount(r.ordinal) && isString(r.node) && isCount(r.epoch) && r.epoch >= 1
        ? undefined
        : 'binding needs namespace, statefulset, node (strings), ordinal (≥ 0) and epoch (≥ 1)';
    default:
      return `unknown record type ${JSON.stringify(r.type)}`;
  }
}

/**
 * Checks a backup line by line as it arrives (the CLI checks a download before publishing it;
 * restore checks a file before writing anything). `push` takes the bytes in any pieces;
 * `finish` throws BackupFormatError unless the whole backup, trailer included, was seen.
 */
export class BackupDecoder {
  private readonly hash: Hash = createHash('sha256');
  private pending = Buffer.alloc(0);
  private lineNo = 0;
  private count = 0;
  private ended = false;
  header: BackupHeader | undefined;

  constructor(private readonly onRecord: (r: BackupRecord) => void = () => {}) {}

  push(chunk: Uint8Array): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    let i: number;
    while ((i = buf.indexOf(0x0a)) >= 0) {
      this.line(buf.subarray(0, i + 1));
      buf = buf.subarray(i + 1);
    }
    this.pending = Buffer.from(buf);
  }

  finish(): BackupHeader {
    if (this.pending.length > 0) throw this.fail(this.lineNo + 1, 'the file ends in the middle of a line: it was cut short');
    if (!this.header) throw new BackupFormatError('the file is empty: not a berth backup');
    if (!this.ended) throw new BackupFormatError(`the file ends after line ${this.lineNo} without its end record: it was cut short`);
    return this.header;
  }

  private fail(line: number, why: string): BackupFormatError {
    return new BackupFormatError(`line ${line}: ${why}`);
  }

  private line(bytes: Buffer): void {
    const n = ++this.lineNo;
    if (this.ended) throw this.fail(n, 'data after the end record');
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      throw this.fail(n, this.header || n > 1 ? 'not a JSON record' : 'not a berth backup (the first line is not its JSON header)');
    }
    if (!isObject(value)) throw this.fail(n, 'not a JSON object');
    if (n === 1) {
      if (value.kind !== BACKUP_KIND) throw this.fail(n, `not a berth backup (kind ${JSON.stringify(value.kind)}, expected ${BACKUP_KIND})`);
      if (value.version !== BACKUP_VERSION) {
        throw this.fail(n, `backup format version ${JSON.stringify(value.version)}; this berth reads version ${BACKUP_VERSION}`);
      }
      if (!isString(value.createdAt) || Number.isNaN(Date.parse(value.createdAt))) throw this.fail(n, 'header createdAt must be a time');
      if (!isCount(value.resourceVersion)) throw this.fail(n, 'header resourceVersion must be a whole number');
      if (!isString(value.backend) || !isString(value.controllerVersion)) throw this.fail(n, 'header backend and controllerVersion must be strings');
      this.header = value as unknown as BackupHeader;
      this.hash.update(bytes);
      return;
    }
    if (value.type === 'end') {
      const digest = this.hash.digest('hex');
      if (value.sha256 !== digest) throw this.fail(n, 'the checksum does not match the content: the file was changed or damaged');
      if (value.records !== this.count) throw this.fail(n, `the end record counts ${String(value.records)} records, the file has ${this.count}`);
      this.ended = true;
      return;
    }
    const problem = recordProblem(value);
    if (problem) throw this.fail(n, problem);
    this.hash.update(bytes);
    this.count++;
    this.onRecord(value as unknown as BackupRecord);
  }
}

/** Decodes a whole backup held in memory; throws BackupFormatError for anything but a complete one. */
export function decodeBackup(bytes: Uint8Array): { header: BackupHeader; records: BackupRecord[] } {
  const records: BackupRecord[] = [];
  const d = new BackupDecoder((r) => records.push(r));
  d.push(bytes);
  return { header: d.finish(), records };
}
