/**
 * The export's manifest (`manifest.json`) and README (`README.md`), both at the export's root next to one
 * folder per source. The manifest is what verification checks the stored parts against and what a data
 * subject (or their tool) checks a download against; the README explains every file and field in words.
 */
import type { DataSource } from '../data-sources/data-source';
import type { ExportPart } from './part-writer';

/** Bumped when a field changes meaning or goes; new optional fields keep the version. */
export const MANIFEST_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const README_FILE = 'README.md';

export interface ManifestSource {
  /** The source's name: also its folder in the export. */
  readonly name: string;
  /** Records the source held when the export counted it. */
  readonly expected: number;
  /** Records written to its parts (equal to `expected` in a verified export). */
  readonly exported: number;
  readonly parts: readonly ExportPart[];
}

export interface ExportManifest {
  readonly formatVersion: typeof MANIFEST_FORMAT_VERSION;
  readonly tenantId: string;
  readonly exportId: string;
  /** When the export was requested (ISO 8601, UTC). */
  readonly requestedAt: string;
  /** When this manifest was written, after every part (ISO 8601, UTC). */
  readonly generatedAt: string;
  /** Every part is gzip (RFC 1952) of NDJSON: one JSON object per line, UTF-8, `\n`-terminated. */
  readonly format: 'ndjson+gzip';
  readonly sources: readonly ManifestSource[];
}

/** The README of an export: what each file holds and what each field means, from the sources' own descriptions. */
export function exportReadme(manifest: ExportManifest, sources: readonly DataSource[]): string {
  const lines = [
    `# Data export of tenant ${manifest.tenantId}`,
    '',
    `Export ${manifest.exportId}, requested ${manifest.requestedAt}, generated ${manifest.generatedAt}.`,
    '',
    '## Files',
    '',
    `- \`${MANIFEST_FILE}\`: the list of every file below with its number of records, its size in bytes and its SHA-256, and per source how many records it held (\`expected\`) and how many were exported (\`exported\`). Check a download with \`sha256sum\` against it.`,
    `- \`${README_FILE}\`: this file.`,
    '- `<source>/part-NNNNN.ndjson.gz`: the records of one source, split into numbered parts. Each part is gzip-compressed NDJSON: one JSON object per line (UTF-8). Read one with `gunzip -c part-00001.ndjson.gz`; parts are in order and together hold every record of the source.',
    '',
    `## Fields of ${MANIFEST_FILE}`,
    '',
    '- `formatVersion`: the version of this layout (changes when a field changes meaning).',
    '- `tenantId`, `exportId`: whose data this is and which export.',
    '- `requestedAt`, `generatedAt`: when the export was asked for and when it was written (ISO 8601, UTC).',
    '- `format`: `ndjson+gzip` for every part.',
    '- `sources[]`: `name` (the folder), `expected` (records the source held when counted), `exported` (records written), `parts[]` with `key` (the path in this export), `records`, `bytes` (compressed size) and `sha256` (of the compressed file, hex).',
    '',
    '## Sources',
  ];
  const byName = new Map(sources.map((source) => [source.name, source]));
  for (const entry of manifest.sources) {
    const source = byName.get(entry.name);
    lines.push('', `### ${entry.name}`, '', `${source?.description.summary ?? 'No description.'} ${entry.exported} records in ${entry.parts.length} part(s).`, '');
    for (const [field, meaning] of Object.entries(source?.description.fields ?? {})) lines.push(`- \`${field}\`: ${meaning}`);
  }
  return `${lines.join('\n')}\n`;
}
