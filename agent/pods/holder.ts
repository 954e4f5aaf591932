// The holder container of a pod with init containers: it owns the pod's network namespace and
// hostname for the pod's whole life, so init containers, sidecars and app containers can all
// join it although the first of them exits. Like Kubernetes' pause container it runs berth's
// own pause image (pause.ts: `catatonit -P`, built by the agent at start), so the pod's images
// need nothing for it: a distroless image without a shell works.
//
// Holders created by older agents run `/bin/sh -c 'exec sleep …'` from the pod's first app
// image; they are adopted as they are (the plan never looks at a holder's image).
import type Docker from 'dockerode';
import { DOCKER_LABEL } from '../../shared/naming.js';
import type { Pod } from '../../shared/types.js';
import { HOLDER } from './plan.js';
import { PAUSE_COMMAND } from './pause.js';
import { applyPodNetwork, containerLabels, dockerName, type PodNetworkContext } from './spec.js';

/** `pauseImage`: the tag PauseImage.ensure() returned. */
export function holderOptions(pod: Pod, nodeName: string, pauseImage: string, net?: PodNetworkContext): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    name: dockerName(pod, HOLDER),
    Image: pauseImage,
    Labels: { ...containerLabels(pod, HOLDER, nodeName), [DOCKER_LABEL.role]: 'holder' },
    Entrypoint: PAUSE_COMMAND,
    WorkingDir: '/',
    StopTimeout: 2,
    HostConfig: {
      // catatonit -P is PID 1 itself and exits on SIGTERM: no init process needed.
      Init: false,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } },
    },
  };
  return applyPodNetwork(options, pod, net);
}
