/**
 * docs/api.md from the OpenAPI document the API serves at /openapi.json: one table row per route
 * and a section per route, so the reference cannot drift from the code (test/docs.test.ts
 * compares; UPDATE_GOLDEN=1 rewrites the page).
 */
type Obj = Record<string, unknown>;

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

function asObj(v: unknown): Obj {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function schemaText(schema: unknown): string {
  const s = asObj(schema);
  if (typeof s.$ref === 'string') return `[${s.$ref.split('/').pop()}](#schema-${s.$ref.split('/').pop()!.toLowerCase()})`;
  if (Array.isArray(s.enum)) return s.enum.map((e) => `\`${String(e)}\``).join(' \\| ');
  if (s.type === 'array') return `array of ${s.items ? schemaText(s.items) : 'any'}`;
  if (typeof s.type === 'string') return s.type;
  return 'any';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function security(op: Obj): string {
  const sec = op.security;
  if (!Array.isArray(sec) || sec.length === 0) return 'none';
  return sec.map((s) => Object.keys(asObj(s)).map((k) => ({ bearer: 'bearer token', tackerBasic: 'Tacker callback Basic credentials', tackerBearer: 'Tacker OAuth2 access token' }[k] ?? k)).join(' + ')).join(' or ');
}

export function renderApiDoc(doc: Obj): string {
  const info = asObj(doc.info);
  const paths = asObj(doc.paths);
  const out: string[] = [];
  out.push('# REST API reference');
  out.push('');
  out.push(`<!-- generated from GET /openapi.json by orchestrator/api/openapi-doc.ts; do not edit: UPDATE_GOLDEN=1 npx mocha test/docs.test.ts -->`);
  out.push('');
  out.push(`${String(info.title ?? 'API')} \`${String(info.version ?? '')}\` (OpenAPI ${String(doc.openapi ?? '')}). ${String(info.description ?? '')}`);
  out.push('');
  out.push('Every route but health, `/openapi.json` and the Tacker callback routes needs `Authorization: Bearer <token>`;');
  out.push('the roles are in [configuration.md](configuration.md#tokens-and-roles). Errors are RFC 9457');
  out.push('`application/problem+json` with a stable `code` ([errors.md](errors.md)). Request bodies are JSON or YAML');
  out.push('(`Content-Type` `application/json` or `application/yaml`); larger than `bodyLimitBytes` is 413.');
  out.push('');
  out.push('| method | path | summary | auth |');
  out.push('|---|---|---|---|');
  const ops: { method: string; path: string; op: Obj }[] = [];
  for (const path of Object.keys(paths)) {
    for (const method of METHODS) {
      const op = asObj(asObj(paths[path])[method]);
      if (Object.keys(op).length === 0) continue;
      ops.push({ method, path, op });
      out.push(`| ${method.toUpperCase()} | \`${path}\` | ${cell(String(op.summary ?? ''))} | ${security(op)} |`);
    }
  }
  for (const { method, path, op } of ops) {
    out.push('');
    out.push(`## ${method.toUpperCase()} \`${path}\``);
    out.push('');
    if (op.summary) out.push(`${String(op.summary)}.`);
    if (op.description) out.push(String(op.description));
    out.push('');
    const params = Array.isArray(op.parameters) ? op.parameters.map(asObj) : [];
    if (params.length) {
      out.push('Parameters: ' + params.map((p) => `\`${String(p.name)}\` (${String(p.in)}${p.required ? ', required' : ''}, ${schemaText(p.schema)})`).join(', ') + '.');
      out.push('');
    }
    const body = asObj(op.requestBody);
    const content = asObj(body.content);
    if (Object.keys(content).length) {
      out.push('Body: ' + Object.entries(content).map(([type, c]) => `\`${type}\`${asObj(c).schema ? ` ${schemaText(asObj(c).schema)}` : ''}`).join(', ') + '.');
      out.push('');
    }
    out.push('| status | meaning |');
    out.push('|---|---|');
    for (const [status, r] of Object.entries(asObj(op.responses))) {
      const resp = asObj(r);
      const types = Object.entries(asObj(resp.content)).map(([type, c]) => `\`${type}\`${asObj(c).schema ? ` ${schemaText(asObj(c).schema)}` : ''}`);
      out.push(`| ${status} | ${cell(String(resp.description ?? ''))}${types.length ? ` (${types.join(', ')})` : ''} |`);
    }
  }
  const schemas = asObj(asObj(doc.components).schemas);
  if (Object.keys(schemas).length) {
    out.push('');
    out.push('## Schemas');
    for (const [name, s] of Object.entries(schemas)) {
      const schema = asObj(s);
      out.push('');
      out.push(`### <a id="schema-${name.toLowerCase()}"></a>${name}`);
      out.push('');
      if (schema.description) out.push(String(schema.description), '');
      const props = asObj(schema.properties);
      const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
      if (Object.keys(props).length) {
        out.push('| field | type | required |');
        out.push('|---|---|---|');
        for (const [p, ps] of Object.entries(props)) out.push(`| \`${p}\` | ${cell(schemaText(ps))} | ${required.has(p) ? 'yes' : ''} |`);
      } else if (required.size) {
        out.push(`Required: ${[...required].map((r) => `\`${r}\``).join(', ')}.`);
      }
    }
  }
  out.push('');
  return out.join('\n');
}
