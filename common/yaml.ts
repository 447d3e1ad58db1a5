import { stringify } from 'yaml';

/**
 * Deterministic serialisation: `apiVersion, kind, metadata` first, then the other keys sorted;
 * `undefined` dropped. The same object always gives the same bytes.
 */
const FIRST_KEYS = ['apiVersion', 'kind', 'metadata'];

function compareKeys(a: string, b: string): number {
  const ia = FIRST_KEYS.indexOf(a);
  const ib = FIRST_KEYS.indexOf(b);
  if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A deep copy with keys in canonical order and `undefined` removed. */
export function canonicalize<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map((v) => canonicalize(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort(compareKeys)) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonicalize(v);
    }
    return out as T;
  }
  return value;
}

/** YAML 1.1 quoting rules, so go-yaml readers (kubectl) never read "on" or "y" as booleans. */
export function toYaml(value: unknown): string {
  return stringify(canonicalize(value), { version: '1.1', lineWidth: 0, aliasDuplicateObjects: false, sortMapEntries: false });
}

/** A multi-document YAML stream: `---` between documents, trailing newline. */
export function toYamlStream(values: readonly unknown[]): string {
  return values.map((v) => toYaml(v)).join('---\n');
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(canonicalize(value), null, 2)}\n`;
}
