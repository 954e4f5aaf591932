// Column alignment as Go's text/tabwriter does it, which is what kubectl's output is made of:
// cells end with a tab, a column block is a run of consecutive lines that have a cell in that
// column, and the last cell of a line is never padded.

export interface TabOptions {
  /** Minimal cell width including padding. */
  minWidth: number;
  /** Spaces added to the widest cell of a column. */
  padding: number;
}

/** `kubectl get` tables. */
export const TABLE_TABS: TabOptions = { minWidth: 6, padding: 3 };
/** `kubectl describe` text. */
export const DESCRIBE_TABS: TabOptions = { minWidth: 0, padding: 2 };

/** Display width: code points, as Go counts runes. */
export function textWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Aligns tab-separated text; a trailing newline is kept. */
export function tabwrite(text: string, opts: TabOptions): string {
  if (text === '') return '';
  const trailing = text.endsWith('\n');
  const lines = (trailing ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const widths: number[] = [];
  const out: string[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const line = lines[i];
      let s = '';
      line.forEach((cell, j) => {
        s += cell;
        if (j < widths.length && j < line.length - 1) s += ' '.repeat(Math.max(0, widths[j] - textWidth(cell)));
      });
      out.push(s);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let cur = line0; cur < line1; cur++) {
      if (column >= lines[cur].length - 1) continue;
      // A block of lines with a cell in this column starts here.
      writeLines(line0, cur);
      line0 = cur;
      let width = opts.minWidth;
      for (; cur < line1; cur++) {
        const line = lines[cur];
        if (column >= line.length - 1) break;
        width = Math.max(width, textWidth(line[column]) + opts.padding);
      }
      widths.push(width);
      format(line0, cur);
      widths.pop();
      line0 = cur;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (trailing ? '\n' : '');
}

/**
 * Rows of a `get` table, printed in several batches (as `get -w` does) with column widths
 * that only grow, like kubectl's tabwriter with RememberWidths.
 */
export class TableWriter {
  private widths: number[] = [];

  constructor(private readonly opts: TabOptions = TABLE_TABS) {}

  format(rows: string[][]): string {
    for (const row of rows) {
      row.forEach((cell, j) => {
        if (j === row.length - 1) return;
        this.widths[j] = Math.max(this.widths[j] ?? 0, this.opts.minWidth, textWidth(cell) + this.opts.padding);
      });
    }
    return rows
      .map((row) => row.map((cell, j) => (j === row.length - 1 ? cell : cell + ' '.repeat(this.widths[j] - textWidth(cell)))).join(''))
      .map((line) => line + '\n')
      .join('');
  }
}
