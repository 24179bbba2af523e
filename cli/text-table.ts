/**
 * Text tables of the CLI (`audit query`, `audit list`, `revocations list`, `approvals list`): each
 * column padded to its widest cell, columns two spaces apart, trailing spaces trimmed.
 */
export function alignedLines(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  opts: { underline?: boolean } = {},
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...(opts.underline ? [line(widths.map((w) => '-'.repeat(w)))] : []), ...rows.map(line)];
}
