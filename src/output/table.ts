/**
 * Plain-text tables for stdout: columns padded to their widest cell, no colour. Cells may come
 * from a remote, so control and invisible characters are shown as escapes, never sent raw.
 */
import { printable } from "../errors.ts";

/** Renders rows as aligned columns separated by two spaces, one line each. */
export function renderTable(header: string[] | null, rows: string[][]): string {
  const all = (header ? [header, ...rows] : rows).map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of all) {
    row.forEach((cell, index) => widths[index] = Math.max(widths[index] ?? 0, cell.length));
  }
  return all.map((row) =>
    row.map((cell, index) => index === row.length - 1 ? cell : cell.padEnd(widths[index]))
      .join("  ")
  ).map((line) => line + "\n").join("");
}
