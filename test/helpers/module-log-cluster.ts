// A Cluster whose agents or whose controllers run with the module log hook (module-log.mjs), so
// a test can tell which dependencies that process brought into memory.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster } from './cluster.js';

export class ModuleLoggedCluster extends Cluster {
  /** The file the hook appends each module to. */
  readonly moduleLog: string;

  constructor(
    prefix: string,
    private readonly logged: 'agent' | 'controller',
  ) {
    super(prefix);
    this.moduleLog = join(this.dir, `${logged}-modules.log`);
  }

  /** Starts the logged kind of process with the hook; everything else as Cluster does. */
  protected override spawnLogged(args: string[], env: Record<string, string> = {}, wrapper: string[] = []) {
    if (args[0] !== this.logged) return super.spawnLogged(args, env, wrapper);
    const hook = fileURLToPath(new URL('./module-log.mjs', import.meta.url));
    const options = `${process.env.NODE_OPTIONS ?? ''} --import ${hook}`.trim();
    return super.spawnLogged(args, { ...env, NODE_OPTIONS: options, BERTH_TEST_MODULE_LOG: this.moduleLog }, wrapper);
  }
}
