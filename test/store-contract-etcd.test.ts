// The store contract (test/helpers/store-contract.ts) against EtcdStore on a real etcd member:
// each subtest on its own key prefix, two stores on one prefix for the concurrency subtests,
// and a fence key a test client puts and deletes as a leadership key would be.
import { Etcd3 } from 'etcd3';
import t from 'tap';
import { EtcdStore } from '../controller/store/etcd.js';
import { startEtcd } from './helpers/etcd.js';
import { storeContract } from './helpers/store-contract.js';

const etcd = await startEtcd(t);
if (etcd) {
  const client = new Etcd3({ hosts: etcd.endpoints });
  t.teardown(() => client.close());
  let n = 0;
  storeContract(t, {
    fresh: () => `/contract-${++n}`,
    open: (prefix) => EtcdStore.open({ endpoints: etcd.endpoints, prefix }),
    shared: true,
    fence: {
      async take(prefix) {
        const key = `${prefix}-leader`;
        await client.put(key).value('me');
        const kv = (await client.kv.range({ key: Buffer.from(key) })).kvs[0]!;
        return { key, revision: Number(kv.create_revision) };
      },
      async end(fence) {
        await client.delete().key(fence.key!);
      },
    },
  });
}
