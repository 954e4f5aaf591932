// The StatefulSet most tests need: busybox pods that sleep until SIGTERM, with optional
// readiness probe, claim template and extra spec lines, as YAML text for `berth apply -f -`.

export interface SleeperSetOptions {
  name: string;
  replicas?: number;
  annotations?: Record<string, string>;
  /** Extra lines under `spec:` (each indented two spaces), e.g. `  progressDeadlineSeconds: 3`. */
  spec?: string;
  grace?: number;
  /** Command of an exec readiness probe run every second. */
  readiness?: string;
  /** A `data` claim template mounted at /data. */
  volume?: boolean;
}

export function sleeperSet(o: SleeperSetOptions): string {
  const annotations = Object.entries(o.annotations ?? {});
  return [
    'apiVersion: apps/v1',
    'kind: StatefulSet',
    'metadata:',
    `  name: ${o.name}`,
    ...(annotations.length > 0 ? ['  annotations:', ...annotations.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)] : []),
    'spec:',
    `  replicas: ${o.replicas ?? 1}`,
    ...(o.spec ? [o.spec] : []),
    `  selector: {matchLabels: {app: ${o.name}}}`,
    '  template:',
    `    metadata: {labels: {app: ${o.name}}}`,
    '    spec:',
    `      terminationGracePeriodSeconds: ${o.grace ?? 2}`,
    '      containers:',
    '        - name: main',
    '          image: berth.local/busybox:1',
    '          imagePullPolicy: Never',
    `          command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`,
    ...(o.readiness ? ['          readinessProbe:', `            exec: {command: ["${o.readiness}"]}`, '            periodSeconds: 1'] : []),
    ...(o.volume ? ['          volumeMounts: [{name: data, mountPath: /data}]', '  volumeClaimTemplates:', '    - metadata: {name: data}'] : []),
    '',
  ].join('\n');
}

/**
 * A bare pod `logger` whose container prints `start MARK` and `second MARK` (MARK: its run's own
 * uuid), waits until /tmp/stop exists, prints `stop MARK` and exits 3; started again in the same
 * container, it removes /tmp/stop first, so each run has lines of its own.
 */
export function loggerPod(image: string, labels?: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'logger', ...(labels ? { labels } : {}) },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'log',
          image,
          imagePullPolicy: 'Never',
          command: [
            'sh',
            '-c',
            'rm -f /tmp/stop; m=$(cat /proc/sys/kernel/random/uuid); echo "start $m"; echo "second $m"; ' +
              'while [ ! -e /tmp/stop ]; do sleep 0.2; done; echo "stop $m"; exit 3',
          ],
        },
      ],
    },
  };
}
