// What the controller keeps in memory while idle: the manifest validation (every kind's schema),
// the manifest parser and the OpenAPI generator (the schemas and field descriptions it serves) are
// loaded by the first write, manifest file or OpenAPI request, not at start-up; admin.conf is
// written without a YAML library; fastify's JSON schema compilers are never loaded, the
// WebSocket library only with the first exec, attach or port-forward.
// Memory figures themselves are measured by scripts/bench/footprint.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ModuleLoggedCluster } from './helpers/module-log-cluster.js';

const GENERATOR = /shared\/openapi\/generate\.(js|ts)/;
const SCHEMAS = /shared\/manifest\/schema\.(js|ts)/;
const PARSER = /shared\/manifest\/parse\.(js|ts)/;

t.test('the controller loads the manifest schemas and the OpenAPI generator with the first write, not at start-up', async (t) => {
  const c = new ModuleLoggedCluster('controller-footprint', 'controller');
  t.teardown(() => c.teardown());
  await c.startController();
  await c.ok(['get', 'pods']);
  const idle = readFileSync(c.moduleLog, 'utf8');
  t.ok(/controller\/objects\/writes\.(js|ts)/.test(idle), 'the log sees the controller modules loaded at start-up');
  t.notOk(GENERATOR.test(idle), 'started and answering reads: the OpenAPI generator is not loaded');
  t.notOk(SCHEMAS.test(idle), 'nor the manifest schemas');
  t.notOk(PARSER.test(idle), 'nor the manifest parser (the manifests directory is empty)');
  t.notOk(idle.includes('/node_modules/yaml/'), 'nor a YAML library (admin.conf is written and read without one)');
  t.ok(idle.includes('/node_modules/fastify/'), 'fastify is loaded');
  t.notOk(idle.includes('/node_modules/ajv/'), "but not fastify's JSON schema validator (no route declares a schema)");
  t.notOk(idle.includes('/node_modules/@fastify/fast-json-stringify-compiler/'), 'nor its schema serializer compiler');
  t.notOk(idle.includes('/node_modules/ws/'), 'nor the WebSocket library (exec, attach and port-forward load it)');
  const res = await c.api.raw('POST', '/api/v1/namespaces/default/configmaps', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'lazy' },
    data: { a: 'b' },
    dataa: { c: 'd' },
  });
  t.equal(res.status, 201, 'the write is validated and stored');
  t.match(res.headers.get('warning') ?? '', /unknown field \\?"dataa\\?"/, 'and its unknown field is reported, which needs the generator');
  const after = readFileSync(c.moduleLog, 'utf8');
  t.ok(GENERATOR.test(after), 'the OpenAPI generator is loaded now');
  t.ok(SCHEMAS.test(after), 'and the manifest schemas');
});
