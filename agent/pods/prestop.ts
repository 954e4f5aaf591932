// preStop hooks (F22): run before a container is sent its stop signal, within the grace period.
import type { Container } from '../../shared/manifest/schema.js';
import { httpProbe, resolvePort } from '../probes/handlers.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { sleep } from '../../shared/async.js';

export interface HookResult {
  ok: boolean;
  message?: string;
}

/**
 * Runs the container's preStop hook, if it has one, giving up at `deadline` (epoch ms): exec in
 * the container, an HTTP GET from the agent to the pod (or the hook's host), or a sleep.
 * Undefined when there is no hook.
 */
export async function runPreStop(
  spec: Container,
  ctx: { runtime: ContainerRuntime; containerId: string; podIP?: string },
  deadline: number,
  signal?: AbortSignal,
): Promise<HookResult | undefined> {
  const hook = spec.lifecycle?.preStop;
  if (!hook) return undefined;
  const left = deadline - Date.now();
  if (left <= 0) return { ok: false, message: 'no time left in the grace period' };
  if (hook.sleep) {
    await sleep(Math.min(hook.sleep.seconds * 1000, left), signal);
    return { ok: true };
  }
  if (hook.exec) {
    let output = '';
    const timeout = AbortSignal.timeout(left);
    try {
      const code = await ctx.runtime.exec(
        ctx.containerId,
        hook.exec.command,
        (_kind, data) => {
          if (output.length < 1024) output += data.toString();
        },
        signal ? AbortSignal.any([timeout, signal]) : timeout,
      );
      return code === 0
        ? { ok: true }
        : { ok: false, message: `command ${JSON.stringify(hook.exec.command)} exited with ${code}${output ? `: ${output.trim().slice(0, 200)}` : ''}` };
    } catch (err) {
      if (timeout.aborted) return { ok: false, message: 'the hook outlived the grace period' };
      return { ok: false, message: (err as Error).message };
    }
  }
  if (hook.httpGet) {
    const port = resolvePort(hook.httpGet.port, spec);
    if (port === undefined) return { ok: false, message: `unknown port "${hook.httpGet.port}"` };
    const host = hook.httpGet.host ?? ctx.podIP;
    if (!host) return { ok: false, message: 'the pod has no IP' };
    const r = await httpProbe(
      {
        scheme: hook.httpGet.scheme ?? 'HTTP',
        host,
        port,
        path: hook.httpGet.path ?? '/',
        ...(hook.httpGet.httpHeaders ? { headers: hook.httpGet.httpHeaders } : {}),
      },
      left,
    );
    return r.ok ? { ok: true } : { ok: false, message: r.message ?? 'HTTP request failed' };
  }
  return undefined;
}
