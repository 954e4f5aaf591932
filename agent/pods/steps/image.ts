// The image step: an image present as the pull policy wants it (Kubernetes' Always,
// IfNotPresent, Never), pulled with progress in the log and in the pod's events.
import type { Container } from '../../../shared/manifest/schema.js';
import { errorMessage } from '../../log.js';
import { describePull } from '../../metrics/pull-progress.js';
import { pullPolicy } from '../spec.js';
import { engineStep, StepError, type StepContext } from './context.js';

/** `as`: the container the failure is reported for, when the image serves another one. */
export async function ensureImage(ctx: StepContext, spec: Container, as = spec.name): Promise<void> {
  const { runtime, log } = ctx;
  const policy = pullPolicy(spec);
  const present = await engineStep(log, 'image inspect', as, () => runtime.imageExists(spec.image), 'ErrImagePull');
  if (policy === 'Never') {
    if (!present) throw new StepError('ErrImageNeverPull', `Container image "${spec.image}" is not present with pull policy of Never`);
    return;
  }
  if (policy === 'IfNotPresent' && present) return;
  log.info({ container: spec.name, image: spec.image, policy }, 'pulling image');
  ctx.event('Normal', 'Pulling', `Pulling image "${spec.image}"`);
  let lastLog = Date.now();
  let lastEvent = Date.now();
  try {
    await runtime.pull(spec.image, (_p, summary) => {
      // One line for all layers every ~2 s; the pod's Pulling event less often, to keep events few.
      const now = Date.now();
      if (now - lastLog < 2000) return;
      lastLog = now;
      const line = describePull(spec.image, summary);
      log.info({ image: spec.image, ...summary }, line);
      if (now - lastEvent >= 10_000) {
        lastEvent = now;
        ctx.event('Normal', 'Pulling', line);
      }
    });
  } catch (err) {
    log.warn({ container: as, image: spec.image, err: errorMessage(err) }, 'docker pull failed');
    throw new StepError('ErrImagePull', `failed to pull image "${spec.image}": ${errorMessage(err)}`);
  }
  log.info({ image: spec.image }, 'image pulled');
  ctx.event('Normal', 'Pulled', `Successfully pulled image "${spec.image}"`);
}
