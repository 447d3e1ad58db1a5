/**
 * Derives the structural openAPIV3Schema of each seeded Istio kind from @kubernetes-models/istio.
 * The package ships its JSON schemas compiled into validators, but its type declarations keep the
 * whole tree (properties, enums, maps, int-or-string, descriptions), so the TypeScript checker
 * reads them back into a schema. Run at development time; the result is committed as
 * istio-schemas.gen.json (istio-crds.test.ts checks it is current and matches Istio's own CRDs):
 *
 *   node --import tsx sandbox/kube/gen-istio-schemas.ts
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { toJson } from '../../common/yaml.js';
import { ISTIO_KINDS } from './istio-kinds.js';

type Schema = Record<string, unknown>;

export const SCHEMAS_FILE = join(dirname(fileURLToPath(import.meta.url)), 'istio-schemas.gen.json');

function packageDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@kubernetes-models/istio/package.json'));
}

/** `"group/v1/Kind"` → the schema of `spec`. */
export function generateIstioSchemas(): Record<string, Schema> {
  const base = packageDir();
  const files = ISTIO_KINDS.map((k) => join(base, k.group, 'v1', `${k.kind}.d.ts`));
  const program = ts.createProgram(files, { strict: true, skipLibCheck: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
  const checker = program.getTypeChecker();

  const describe = (symbol: ts.Symbol): string | undefined => {
    const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
    return text === '' ? undefined : text;
  };

  /**
   * The item types of an array, also when the oneOf alternatives made it an intersection of
   * arrays, or a union of such intersections; undefined for anything else.
   */
  const elementTypes = (type: ts.Type): ts.Type[] | undefined => {
    if (checker.isArrayType(type)) return [checker.getTypeArguments(type as ts.TypeReference)[0]!];
    if (type.isIntersection() || type.isUnion()) {
      const parts = type.types.filter((x) => !(x.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
      const nested = parts.map(elementTypes);
      if (type.isUnion() ? nested.every((n) => n !== undefined) : nested.some((n) => n !== undefined)) return nested.flatMap((n) => n ?? []);
    }
    return undefined;
  };

  const convert = (input: ts.Type, depth: number): Schema => {
    // recursive types (none in Istio's v1 kinds today) stop open rather than loop
    if (depth > 40) return { 'x-kubernetes-preserve-unknown-fields': true };
    const type = checker.getNonNullableType(input);
    const elements = elementTypes(type);
    if (elements) {
      const objects = elements.every((e) => (e.flags & ts.TypeFlags.Object) || e.isIntersection());
      return { type: 'array', items: elements.length > 1 && objects ? objectSchema(elements, depth + 1) : convert(elements[0]!, depth + 1) };
    }
    if (type.isUnion()) {
      const parts = type.types.filter((x) => !(x.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
      if (parts.every((p) => p.isStringLiteral())) return { type: 'string', enum: parts.map((p) => (p as ts.StringLiteralType).value).sort() };
      if (parts.every((p) => p.flags & ts.TypeFlags.BooleanLiteral)) return { type: 'boolean' };
      const numeric = parts.some((p) => p.flags & ts.TypeFlags.NumberLike);
      const textual = parts.some((p) => p.flags & ts.TypeFlags.StringLike);
      if (numeric && textual) return { 'x-kubernetes-int-or-string': true };
      if (parts.length === 1) return convert(parts[0]!, depth);
      // the oneOf alternatives of a message: one object with every alternative's fields
      return objectSchema(parts, depth);
    }
    if (type.flags & ts.TypeFlags.StringLike) return { type: 'string' };
    if (type.flags & ts.TypeFlags.NumberLike) return { type: 'number' };
    if (type.flags & ts.TypeFlags.BooleanLike) return { type: 'boolean' };
    if (type.flags & ts.TypeFlags.Object || type.isIntersection()) return objectSchema([type], depth);
    return { 'x-kubernetes-preserve-unknown-fields': true };
  };

  const objectSchema = (types: ts.Type[], depth: number): Schema => {
    const properties: Record<string, Schema> = {};
    let values: Schema | undefined;
    for (const t of types) {
      for (const p of checker.getPropertiesOfType(t)) {
        if (properties[p.name]) continue;
        const description = describe(p);
        properties[p.name] = { ...(description ? { description } : {}), ...convert(checker.getTypeOfSymbol(p), depth + 1) };
      }
      const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
      if (index) values = convert(index.type, depth + 1);
    }
    const out: Schema = { type: 'object' };
    if (Object.keys(properties).length > 0) out.properties = properties;
    if (values) out.additionalProperties = values;
    if (!values && Object.keys(properties).length === 0) out['x-kubernetes-preserve-unknown-fields'] = true;
    return out;
  };

  const out: Record<string, Schema> = {};
  ISTIO_KINDS.forEach((k, i) => {
    const source = program.getSourceFile(files[i]!);
    let decl: ts.InterfaceDeclaration | undefined;
    if (source) ts.forEachChild(source, (n) => { if (ts.isInterfaceDeclaration(n) && n.name.text === `I${k.kind}`) decl = n; });
    if (!decl) throw new Error(`no interface I${k.kind} in ${files[i]}`);
    const spec = checker.getPropertyOfType(checker.getTypeAtLocation(decl), 'spec');
    if (!spec) throw new Error(`I${k.kind} has no spec`);
    const description = describe(spec);
    out[`${k.group}/v1/${k.kind}`] = { ...(description ? { description } : {}), ...convert(checker.getTypeOfSymbol(spec), 0) };
  });
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMAS_FILE, toJson(generateIstioSchemas()));
  process.stdout.write(`wrote ${SCHEMAS_FILE}\n`);
}
