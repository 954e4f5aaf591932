// Manifest parsing and validation: every bad input is named by file, line and field.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseManifests, formatProblem } from '../shared/manifest/parse.js';

const good = readFileSync(new URL('../examples/web.yaml', import.meta.url), 'utf8');

function withSet(patch: (yaml: string) => string): string {
  return patch(good);
}

t.test('the example parses into a Service and a StatefulSet with defaults', async (t) => {
  const r = parseManifests(good, 'web.yaml');
  t.same(r.errors, []);
  t.same(r.warnings, []);
  t.same(
    r.objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`),
    ['Service/default/nginx', 'StatefulSet/default/web'],
  );
  const set = r.objects[1];
  if (set.kind !== 'StatefulSet') throw new Error('expected a StatefulSet');
  t.equal(set.spec.podManagementPolicy, 'OrderedReady');
  t.equal(set.spec.template.spec.containers[0].readinessProbe?.timeoutSeconds, 1);
  t.equal(set.spec.template.spec.containers[0].readinessProbe?.failureThreshold, 3);
});

t.test('not YAML: file and line', async (t) => {
  const r = parseManifests('apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n   bad: [\n', 'bad.yaml');
  t.equal(r.objects.length, 0);
  t.ok(r.errors.length > 0);
  t.match(formatProblem(r.errors[0]), /^bad\.yaml:\d+: \(yaml\): not valid YAML/);
});

t.test('unknown kind', async (t) => {
  const r = parseManifests('apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n', 'd.yaml');
  t.same(r.errors.map(formatProblem), [
    'd.yaml:2: kind: unknown kind "Deployment"; berth accepts StatefulSet (apps/v1), Service, ConfigMap, Secret, PersistentVolumeClaim and Pod (v1)',
  ]);
});

t.test('invalid names', async (t) => {
  for (const [name, expect] of [
    ['Web', /invalid name "Web": must be a lowercase RFC 1123 label/],
    ['../etc', /must not contain "\/"/],
    ['a..b', /must not contain "\.\."/],
    ['w'.repeat(53), /is 53 characters; at most 52 fit/],
  ] as const) {
    const r = parseManifests(
      withSet((y) => y.replace('kind: StatefulSet\nmetadata:\n  name: web\n', `kind: StatefulSet\nmetadata:\n  name: ${JSON.stringify(name)}\n`)),
      'n.yaml',
    );
    t.equal(r.objects.length, 1, `only the Service is valid (${name})`);
    t.match(r.errors[0], { file: 'n.yaml', line: 21, field: 'metadata.name', message: expect });
  }
});

t.test('negative replicas names the line of replicas', async (t) => {
  const r = parseManifests(
    withSet((y) => y.replace('replicas: 2', 'replicas: -1')),
    'r.yaml',
  );
  t.match(r.errors, [{ line: 24, field: 'spec.replicas', message: /expected number to be >=0/ }]);
});

t.test('selector that does not match the template labels', async (t) => {
  const r = parseManifests(
    withSet((y) => y.replace('    matchLabels:\n      app: nginx', '    matchLabels:\n      app: other')),
    's.yaml',
  );
  t.match(r.errors, [{ field: 'spec.template.metadata.labels', message: /`selector` does not match template `labels`/ }]);
});

t.test('a volumeMount with no matching volume or claim', async (t) => {
  const r = parseManifests(
    withSet((y) => y.replace('            - name: www\n', '            - name: wwx\n')),
    'v.yaml',
  );
  t.match(r.errors, [{ field: 'spec.template.spec.containers[0].volumeMounts[0].name', message: /"wwx" matches no volume/ }]);
  t.equal(r.errors[0].line, 47);
});

t.test('unsupported fields are named in warnings, never dropped silently', async (t) => {
  const y = withSet((s) =>
    s
      .replace('    spec:\n      containers:\n', '    spec:\n      schedulingGates:\n        - name: x\n      containers:\n')
      .replace('          imagePullPolicy: Never\n', '          imagePullPolicy: Never\n          securityContext:\n            privileged: true\n'),
  );
  const r = parseManifests(y, 'w.yaml');
  t.same(r.errors, []);
  t.same(
    r.warnings.map((w) => `${w.line} ${w.field}`),
    ['33 spec.template.spec.schedulingGates', '39 spec.template.spec.containers[0].securityContext'],
  );
  t.match(r.warnings[0].message, /not supported by berth yet/);
});

t.test('liveness and startup probes need successThreshold 1', async (t) => {
  const r = parseManifests(
    withSet((y) =>
      y.replace(
        '          imagePullPolicy: Never\n',
        '          imagePullPolicy: Never\n          livenessProbe:\n            tcpSocket:\n              port: 80\n            successThreshold: 2\n',
      ),
    ),
    'l.yaml',
  );
  t.match(r.errors, [{ field: 'spec.template.spec.containers[0].livenessProbe.successThreshold', message: 'must be 1' }]);
  t.same(
    parseManifests(
      withSet((y) =>
        y.replace(
          '          imagePullPolicy: Never\n',
          '          imagePullPolicy: Never\n          startupProbe:\n            tcpSocket:\n              port: 80\n',
        ),
      ),
      's.yaml',
    ).errors,
    [],
  );
});

t.test('several documents: every error is reported, the valid ones are kept', async (t) => {
  const r = parseManifests('kind: Nope\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok.conf\ndata:\n  a: b\n---\n', 'm.yaml');
  t.equal(r.objects.length, 1);
  t.match(r.errors, [{ line: 1, field: 'kind' }]);
});

t.test('secrets: stringData folds into base64 data; bad base64 is refused', async (t) => {
  const r = parseManifests('apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n', 's.yaml');
  t.match(r.objects[0], { kind: 'Secret', data: { password: Buffer.from('hunter2').toString('base64') } });
  const bad = parseManifests('apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: "***"\n', 's.yaml');
  t.match(bad.errors, [{ field: 'data.password', line: 6, message: /base64/ }]);
});

t.test('a ClusterIP Service is accepted; a clusterIP that is no address is refused', async (t) => {
  const svc = (extra: string) => `apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n${extra}  ports:\n    - port: 80\n`;
  t.same(parseManifests(svc('  clusterIP: 10.96.0.1\n'), 'x.yaml').errors, []);
  t.same(parseManifests(svc(''), 'x.yaml').errors, []);
  t.same(parseManifests(svc(''), 'x.yaml').warnings, [], 'no clusterIP: one is allocated, nothing to warn about');
  t.match(parseManifests(svc('  clusterIP: 10.96.0\n'), 'x.yaml').errors, [{ field: 'spec.clusterIP', message: /IPv4/ }]);
  t.match(parseManifests(svc('  type: LoadBalancer\n'), 'x.yaml').errors, [{ field: 'spec.type' }]);
});

t.test('kind: List items are validated with their own paths', async (t) => {
  const r = parseManifests('apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: Bad\n', 'l.yaml');
  t.match(r.errors, [{ line: 7, field: 'metadata.name' }]);
});
