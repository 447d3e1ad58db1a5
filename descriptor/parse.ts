/**
 * Safe parsing of a descriptor text (YAML 1.2 core schema; JSON is YAML). Hostile input is
 * expected: the size is checked before parsing, custom tags and duplicate keys are rejected, and
 * alias expansion is measured on the syntax tree before any object is built, so a
 * "billion laughs" file is refused in microseconds without allocating its expansion.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { Problem } from './types.js';
import { LIMITS } from './schema.js';
import { fastParseYaml, YAML_OPTIONS } from './fast-yaml.js';
import { scanStructure } from './limits.js';

export interface ParseOptions {
  /** bytes; default 4 MiB (docs/descriptor.md rule 10) */
  maxBytes?: number;
  /** nodes that aliases may add by expansion; default 10000 */
  maxAliasNodes?: number;
  /** nesting depth; default 64 (a descriptor needs about 12) */
  maxDepth?: number;
  /** collections + keys + values, counted while reading; default LIMITS.nodes */
  maxNodes?: number;
}

export type ParseResult = { ok: true; value: unknown } | { ok: false; problems: Problem[] };

/** Messages of the yaml package, rephrased where the spec gives a wording. */
const YAML_MESSAGES: Record<string, string> = {
  DUPLICATE_KEY: 'duplicated mapping key',
  BAD_ALIAS: 'bad alias',
  MULTIPLE_DOCS: 'more than one document',
};

class ParseFailure extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number | undefined,
  ) {
    super(reason);
  }
}

function fail(reason: string, lineCounter: LineCounter, offset: number | undefined): ParseResult {
  const where = offset === undefined ? '' : (() => {
    const { line, col } = lineCounter.linePos(offset);
    return ` at line ${line}, column ${col}`;
  })();
  return { ok: false, problems: [{ pointer: '', message: `not YAML or JSON: ${reason}${where}` }] };
}

/** The first line of a yaml-package message, without its own position suffix. */
function firstLine(message: string): string {
  if (message.includes('Maximum call stack size exceeded')) return 'nested too deeply';
  const line = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
  // the spec's sentences start in lower case ("duplicated mapping key at line 7, column 3")
  return line.charAt(0).toLowerCase() + line.slice(1);
}

/**
 * Walk the syntax tree once, resolving aliases as the yaml package does (the latest anchor of that
 * name before the alias, in document order), and compute each node's expanded size with
 * memoisation: linear in the tree however large the expansion would be.
 */
function checkExpansion(root: YamlNode | null, maxAliasNodes: number, maxDepth: number): void {
  const anchors = new Map<string, YamlNode>();
  const sizes = new Map<YamlNode, number>();
  const inProgress = new Set<YamlNode>();
  let aliasNodes = 0;

  const sizeOf = (node: unknown, depth: number): number => {
    if (node === null || node === undefined) return 0;
    const n = node as YamlNode;
    const offset = n.range?.[0];
    if (depth > maxDepth) throw new ParseFailure(`nested deeper than ${maxDepth} levels`, offset);
    if (isAlias(n)) {
      const target = anchors.get(n.source);
      if (target === undefined) throw new ParseFailure(`alias *${n.source} has no earlier anchor`, offset);
      if (inProgress.has(target)) throw new ParseFailure(`alias *${n.source} refers to a node that contains it`, offset);
      const size = sizes.get(target) ?? 0;
      aliasNodes += size;
      if (aliasNodes > maxAliasNodes) {
        throw new ParseFailure(`aliases expand to more than ${maxAliasNodes} nodes`, offset);
      }
      return size;
    }
    if (n.anchor) anchors.set(n.anchor, n);
    let size = 1;
    if (isMap(n) || isSeq(n)) {
      inProgress.add(n);
      for (const item of n.items as unknown[]) {
        if (isPair(item)) {
          // a mapping or list as a key would become "[object]"-like text: never meant in a descriptor
          if (item.key !== null && !isScalar(item.key)) {
            throw new ParseFailure('mapping keys must be plain values', (item.key as YamlNode).range?.[0]);
          }
          size += sizeOf(item.key, depth + 1) + sizeOf(item.value, depth + 1);
        } else {
          size += sizeOf(item, depth + 1);
        }
      }
      inProgress.delete(n);
    } else if (!isScalar(n)) {
      throw new ParseFailure('unexpected node', offset);
    }
    sizes.set(n, size);
    return size;
  };
  sizeOf(root, 0);
}

/** `line L, column C` (1-based) of an offset, as the yaml package words it */
function lineColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/** The problem for an input over the limit (also used by readers that check the size first). */
export function oversizeProblem(bytes: number, maxBytes: number = LIMITS.inputBytes): Problem {
  return { pointer: '', message: `input is ${bytes} bytes, more than the limit of ${maxBytes} bytes` };
}

/** Parse a descriptor text; on failure one problem with an empty pointer and the line:column. */
export function parseDescriptorText(input: string | Uint8Array, options: ParseOptions = {}): ParseResult {
  const maxBytes = options.maxBytes ?? LIMITS.inputBytes;
  const bytes = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (bytes > maxBytes) return { ok: false, problems: [oversizeProblem(bytes, maxBytes)] };
  const lineCounter = new LineCounter();
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    // never guess an encoding: a mangled value could still validate and mean something else
    return fail('not UTF-8 text', lineCounter, undefined);
  }
  // depth and node count in one streaming pass, before any parser builds a tree: a 4 MiB
  // `[[[[…` is refused after its 65th byte instead of costing seconds of CPU
  const tooBig = scanStructure(text, { maxDepth: options.maxDepth ?? 64, maxNodes: options.maxNodes ?? LIMITS.nodes });
  if (tooBig) return { ok: false, problems: [{ pointer: '', message: `not YAML or JSON: ${tooBig.reason} at ${lineColumn(text, tooBig.offset)}` }] };
  // the common block-style shape in milliseconds; anything else (and every error) takes the full path
  const fast = fastParseYaml(text, options.maxDepth ?? 64);
  if (fast !== undefined) return { ok: true, value: fast.value };
  try {
    const doc = parseDocument(text, { lineCounter, ...YAML_OPTIONS });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) {
      // warnings include unresolved (custom) tags: rejected, never read as plain strings
      const reason = problem.code === 'TAG_RESOLVE_FAILED' ? `tags are not allowed (${firstLine(problem.message)})` : (YAML_MESSAGES[problem.code] ?? firstLine(problem.message));
      return fail(reason, lineCounter, problem.pos[0]);
    }
    checkExpansion(doc.contents as YamlNode | null, options.maxAliasNodes ?? LIMITS.aliasExpandedNodes, options.maxDepth ?? 64);
    // expansion was measured above, so the yaml package's own heuristic is not needed
    const value: unknown = doc.toJS({ maxAliasCount: -1 });
    return { ok: true, value };
  } catch (e) {
    if (e instanceof ParseFailure) return fail(e.reason, lineCounter, e.offset);
    if (e instanceof RangeError) return fail('nested too deeply', lineCounter, undefined);
    return fail(e instanceof Error ? firstLine(e.message) : String(e), lineCounter, undefined);
  }
}
