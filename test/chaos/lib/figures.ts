// The figures table of the chaos suite: one row per scenario, printed as a test comment at the
// end of a file and written to .tap/chaos/<file>.md (and .json), where CI keeps tap's output.
//   samples     rounds of the at-most-one monitor during the scenario (all hosts, one every 200 ms)
//   violations  rounds in which one pod ran on two hosts (or on one while an unanswering host that
//               last ran it was not known dead)
//   bytes lost  acknowledged volume bytes missing or changed after the scenario
//   detect      fault injected → the controller shows it (what it shows is in the row's note)
//   recover     fault removed → every pod of the set Ready again
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../helpers/cluster.js';

export interface Figure {
  scenario: string;
  samples: number;
  violations: number;
  bytesLost: number;
  /** ms; undefined: not applicable, null: never detected. */
  detectMs?: number | null;
  recoverMs?: number | null;
  note?: string;
}

const ms = (v: number | null | undefined) => (v === undefined ? '–' : v === null ? 'never' : `${(v / 1000).toFixed(1)} s`);

export function table(rows: Figure[]): string {
  const head = '| scenario | samples | violations | bytes lost | detect | recover | note |';
  const sep = '|---|---:|---:|---:|---:|---:|---|';
  return [
    head,
    sep,
    ...rows.map((r) => `| ${r.scenario} | ${r.samples} | ${r.violations} | ${r.bytesLost} | ${ms(r.detectMs)} | ${ms(r.recoverMs)} | ${r.note ?? ''} |`),
  ].join('\n');
}

export class Figures {
  readonly rows: Figure[] = [];
  constructor(readonly file: string) {}

  add(f: Figure): void {
    this.rows.push(f);
  }

  /** Writes .tap/chaos/<file>.md and .json; returns the table. */
  write(): string {
    const dir = join(ROOT, '.tap', 'chaos');
    mkdirSync(dir, { recursive: true });
    const text = table(this.rows);
    writeFileSync(join(dir, `${this.file}.md`), `${text}\n`);
    writeFileSync(join(dir, `${this.file}.json`), `${JSON.stringify(this.rows, null, 2)}\n`);
    return text;
  }
}

/** Resolves with the time (ms since the epoch) when `check` first holds, polling every `everyMs`; null on timeout. */
export async function whenTrue(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now();
    try {
      if (await check()) return now;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
