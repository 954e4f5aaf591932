// What the pod logic needs of a container engine. DockerRuntime (docker.ts) is the real one;
// tests drive the pod manager and its workers with an in-memory one (test/helpers/fake-runtime.ts).
import type Docker from 'dockerode';
import type { ObservedContainer } from '../pods/types.js';
import type { PullProgress, PullSummary } from '../metrics/pull-progress.js';
import type { StreamKind } from './demux.js';

/** Writes one demultiplexed chunk (a returned promise is awaited: back-pressure). */
export type FrameSink = (kind: StreamKind, data: Buffer) => void;

export interface ContainerRuntime {
  /** Containers of this node (berth's labels), running or not; `extra` narrows by more labels. */
  listManaged(nodeName: string, extra?: Record<string, string>): Promise<Docker.ContainerInfo[]>;
  /** Every container carrying `label`, whatever node made it (pod addresses are per engine). */
  listLabelled(label: string): Promise<Docker.ContainerInfo[]>;
  /** Container id → IPv4 address of the containers attached to a network. */
  networkAddresses(network: string): Promise<Map<string, string>>;
  inspect(id: string): Promise<ObservedContainer | undefined>;
  /** This node's containers (of one pod when `podUid` is given), inspected. */
  observe(nodeName: string, podUid?: string): Promise<ObservedContainer[]>;
  imageExists(image: string): Promise<boolean>;
  /** The image's labels ({} when it has none); undefined when no image has this name. */
  imageLabels(image: string): Promise<Record<string, string> | undefined>;
  /** An image from a root file system tarball, with Dockerfile `changes`. */
  importImage(tar: Buffer, tag: string, changes: string[]): Promise<void>;
  /** Pulls an image; resolves when it is there, rejects with the registry's error. */
  pull(image: string, onProgress?: (p: PullProgress, summary: PullSummary) => void): Promise<void>;
  create(options: Docker.ContainerCreateOptions): Promise<string>;
  start(id: string): Promise<void>;
  /** Stops with SIGTERM, then SIGKILL after `t` seconds. */
  stop(id: string, t?: number): Promise<void>;
  remove(id: string): Promise<void>;
  /** Runs a command in a running container; resolves with its exit code. */
  exec(id: string, cmd: string[], sink: FrameSink, signal?: AbortSignal): Promise<number>;
}
