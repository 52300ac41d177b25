/** Plain-text tables for the terminal. */

export type Cell = string | number | boolean;

function show(cell: Cell): string {
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell)) return '—';
    const digits = Math.abs(cell) >= 100 ? 0 : Math.abs(cell) >= 10 ? 1 : 2;
    return cell.toLocaleString('en-US', { maximumFractionDigits: digits });
  }
  return String(cell);
}

export function formatTable(title: string, header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = [header.map(String), ...rows.map((row) => row.map(show))];
  const widths = header.map((_, column) => Math.max(...text.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [`\n${title}`, line(text[0]!), widths.map((width) => '-'.repeat(width)).join('  '), ...text.slice(1).map(line)].join('\n') + '\n';
}
