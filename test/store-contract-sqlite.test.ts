// The store contract (test/helpers/store-contract.ts) against SqliteStore: a new file per
// subtest. One controller per data dir (controller/store/lock.ts), so never two stores on one
// file at once, and no fence: every write passes.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../controller/store/sqlite.js';
import { storeContract } from './helpers/store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-contract-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
storeContract(t, {
  fresh: () => join(dir, `${++n}.db`),
  open: async (file) => new SqliteStore(file),
  shared: false,
});
