// The holder container of a pod with init containers: it owns the pod's network namespace and
// hostname for the pod's whole life, so init containers, sidecars and app containers can all
// join it although the first of them exits. Kubernetes uses its pause image for this; berth
// pulls nothing and builds nothing on the hosts, so the holder runs `sleep` from the image of
// the pod's first app container (which must therefore have /bin/sh and sleep).
import type Docker from 'dockerode';
import { DOCKER_LABEL } from '../../shared/naming.js';
import type { Pod } from '../../shared/types.js';
import { HOLDER } from './plan.js';
import { applyPodNetwork, containerLabels, dockerName, type PodNetworkContext } from './spec.js';

export const HOLDER_COMMAND = ['/bin/sh', '-c', 'exec sleep 2147483647'];

/** Exit codes of a shell that could not run the command: the image lacks /bin/sh or sleep. */
export function holderExitHint(exitCode: number): string {
  return exitCode === 126 || exitCode === 127
    ? 'the image of the first container needs /bin/sh and sleep to hold the pod network'
    : 'the pod network holder stopped';
}

export function holderImage(pod: Pod): string {
  return pod.spec.containers[0].image;
}

export function holderOptions(pod: Pod, nodeName: string, net?: PodNetworkContext): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    name: dockerName(pod, HOLDER),
    Image: holderImage(pod),
    Labels: { ...containerLabels(pod, HOLDER, nodeName), [DOCKER_LABEL.role]: 'holder' },
    Entrypoint: HOLDER_COMMAND,
    WorkingDir: '/',
    StopTimeout: 2,
    HostConfig: {
      // tini as PID 1 passes SIGTERM on to sleep, so the holder stops at once.
      Init: true,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
    },
  };
  return applyPodNetwork(options, pod, net);
}
