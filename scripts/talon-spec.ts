/**
 * Loads Talon.One's Integration API OpenAPI document for the schema generators (scripts/gen-talon-schemas.ts,
 * scripts/gen-talon-response-schemas.ts). The document is not kept in this repository: download
 * https://docs.talon.one/oas/integration.yaml and pass its path as the generator's first argument.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

type Json = Record<string, unknown>;

export interface IntegrationSpec {
  /** The YAML exactly as read (the generators record its sha256 in their output). */
  text: string;
  /** `components.schemas` of the document. */
  schemas: Record<string, Json>;
}

/**
 * Reads and parses the YAML named by the first command-line argument. Without one, prints a usage line naming
 * `script` and exits 2.
 */
export function loadIntegrationSpec(script: string, argv: readonly string[] = process.argv): IntegrationSpec {
  const given = argv[2];
  if (given === undefined || given === '') {
    process.stderr.write(
      `usage: npx tsx ${script} <path/to/integration.yaml>\n` +
        `  download Talon.One's Integration API spec from https://docs.talon.one/oas/integration.yaml and pass its path\n`,
    );
    process.exit(2);
  }
  const text = readFileSync(path.resolve(given), 'utf8');
  const spec = parse(text) as { components: { schemas: Record<string, Json> } };
  return { text, schemas: spec.components.schemas };
}
