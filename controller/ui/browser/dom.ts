// Small DOM helpers of the status page: elements from tag, attributes and children (text is
// always set as text, never parsed as HTML), and virtualised lists and grids that keep only the
// rows (and columns) in view in the document, so 10,000 pods cost what a screenful does.

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'object' ? c : String(c));
  return el;
}

/**
 * A vertical list of `count()` rows of `rowHeight` px in a scrolling box: only the rows in view
 * (and a few around them) are in the document. `refresh()` after the data changed.
 */
export class VirtualList {
  readonly el: HTMLDivElement;
  private readonly sizer: HTMLDivElement;
  private readonly rows: HTMLDivElement;

  constructor(
    private readonly rowHeight: number,
    private readonly count: () => number,
    private readonly renderRow: (i: number) => HTMLElement,
    cls = '',
  ) {
    this.rows = h('div', { class: 'vrows' });
    this.sizer = h('div', { class: 'vsizer' }, this.rows);
    this.el = h('div', { class: `vlist ${cls}` }, this.sizer);
    this.el.addEventListener('scroll', () => this.refresh(), { passive: true });
  }

  refresh(): void {
    const n = this.count();
    this.sizer.style.height = `${n * this.rowHeight}px`;
    const view = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.el.scrollTop / this.rowHeight) - 5);
    const last = Math.min(n, Math.ceil((this.el.scrollTop + view) / this.rowHeight) + 5);
    const out: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const row = this.renderRow(i);
      row.style.transform = `translateY(${i * this.rowHeight}px)`;
      row.style.height = `${this.rowHeight}px`;
      row.classList.add('vrow');
      out.push(row);
    }
    this.rows.replaceChildren(...out);
  }
}

/**
 * A grid of columns (hosts) of cells (pods), scrolling both ways: only the columns and the cells
 * in view are in the document. Column `i` has `cells(i)` cells of `cellHeight` under a header
 * of `headHeight`.
 */
export class VirtualGrid {
  readonly el: HTMLDivElement;
  private readonly sizer: HTMLDivElement;
  private readonly layer: HTMLDivElement;

  constructor(
    private readonly colWidth: number,
    private readonly headHeight: number,
    private readonly cellHeight: number,
    private readonly source: {
      columns(): number;
      cells(col: number): number;
      maxCells(): number;
      head(col: number): HTMLElement;
      cell(col: number, row: number): HTMLElement;
    },
  ) {
    this.layer = h('div', { class: 'glayer' });
    this.sizer = h('div', { class: 'gsizer' }, this.layer);
    this.el = h('div', { class: 'grid' }, this.sizer);
    this.el.addEventListener('scroll', () => this.refresh(), { passive: true });
  }

  refresh(): void {
    const s = this.source;
    const cols = s.columns();
    this.sizer.style.width = `${cols * this.colWidth}px`;
    this.sizer.style.height = `${this.headHeight + s.maxCells() * this.cellHeight}px`;
    const w = this.el.clientWidth || 1200;
    const hgt = this.el.clientHeight || 700;
    const c0 = Math.max(0, Math.floor(this.el.scrollLeft / this.colWidth) - 1);
    const c1 = Math.min(cols, Math.ceil((this.el.scrollLeft + w) / this.colWidth) + 1);
    const top = this.el.scrollTop;
    const r0 = Math.max(0, Math.floor((top - this.headHeight) / this.cellHeight) - 2);
    const r1 = Math.ceil((top + hgt) / this.cellHeight) + 2;
    const out: HTMLElement[] = [];
    for (let c = c0; c < c1; c++) {
      const x = c * this.colWidth;
      // The header stays at the top of the view while the cells scroll under it.
      const head = s.head(c);
      head.classList.add('ghead');
      head.style.transform = `translate(${x}px, ${top}px)`;
      head.style.width = `${this.colWidth - 4}px`;
      head.style.height = `${this.headHeight - 4}px`;
      const n = Math.min(s.cells(c), r1);
      for (let r = r0; r < n; r++) {
        const cell = s.cell(c, r);
        cell.classList.add('gcell');
        cell.style.transform = `translate(${x}px, ${this.headHeight + r * this.cellHeight}px)`;
        cell.style.width = `${this.colWidth - 4}px`;
        cell.style.height = `${this.cellHeight - 3}px`;
        out.push(cell);
      }
      out.push(head);
    }
    this.layer.replaceChildren(...out);
  }
}
