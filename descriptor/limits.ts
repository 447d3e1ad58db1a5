/**
 * The structure limits, checked in one streaming pass over the text before any parser builds a
 * tree: nesting depth and node count. A 4 MiB `[[[[…` or `- - - - …` or `{"a":{"a":…` text is
 * refused at the 65th level, after reading a few hundred bytes, instead of costing the `yaml`
 * package seconds of CPU (and an event loop that stops answering). The same pass guards JSON:
 * JSON is YAML, and every reader (the API, `mixmesh validate`) goes through parseDescriptorText.
 *
 * It reads YAML's structure the way the YAML grammar lays it out: flow collections (`[`, `{`)
 * outside quoted scalars and comments; block collections by their indicators (`- `, `? `,
 * `key:`) and columns, compact ones (`- - x`, `- a: 1`) included; the text of quoted, block
 * (`|`, `>`) and multi-line plain scalars is skipped, because it can hold no structure. Its depth
 * is the parser's (limits.test.ts checks that on the repository's files and generated texts); its
 * node count is the parser's but for empty values (`key:` and nothing), which it does not count.
 * Everything else (syntax errors, aliases and their expansion) stays with the parser.
 */

export interface StructureLimits {
  /** open collections; a descriptor needs about 12 */
  maxDepth: number;
  /** collections + keys + values (an upper bound: every entry counts) */
  maxNodes: number;
}

export interface StructureFailure {
  reason: string;
  /** character offset where the limit was passed */
  offset: number;
}

interface Block {
  col: number;
  kind: 'map' | 'seq';
}

const SPACE = 32;
const TAB = 9;
const LF = 10;
const CR = 13;
const isBlank = (c: number): boolean => c === SPACE || c === TAB || c === CR || c === LF || Number.isNaN(c);
const FLOW_INDICATOR = new Set([44, 91, 93, 123, 125]);

class LimitPassed extends Error {
  constructor(readonly failure: StructureFailure) {
    super(failure.reason);
  }
}

/** undefined when the text stays within the limits; else where and why it does not */
export function scanStructure(text: string, limits: StructureLimits): StructureFailure | undefined {
  try {
    new Scanner(text, limits).run();
    return undefined;
  } catch (e) {
    if (e instanceof LimitPassed) return e.failure;
    throw e;
  }
}

class Scanner {
  private readonly n: number;
  private readonly stack: Block[] = [];
  private flow = 0;
  private nodes = 0;
  /** lines indented more than this belong to a block scalar (-2: none) */
  private blockScalarOwner = -2;
  /** lines indented more than this continue a plain scalar (-2: none) */
  private plainOwner = -2;

  constructor(
    private readonly text: string,
    private readonly limits: StructureLimits,
  ) {
    this.n = text.length;
  }

  private code(i: number): number {
    return this.text.charCodeAt(i);
  }

  private count(added: number, offset: number): void {
    this.nodes += added;
    if (this.nodes > this.limits.maxNodes) throw new LimitPassed({ reason: `more than ${this.limits.maxNodes} nodes`, offset });
  }

  private checkDepth(offset: number): void {
    if (this.stack.length + this.flow > this.limits.maxDepth) throw new LimitPassed({ reason: `nested deeper than ${this.limits.maxDepth} levels`, offset });
  }

  private lineEnd(i: number): number {
    const e = this.text.indexOf('\n', i);
    return e < 0 ? this.n : e;
  }

  run(): void {
    let i = 0;
    while (i < this.n) {
      const end = this.lineEnd(i);
      const next = this.line(i, end);
      // a multi-line quoted scalar or flow collection may have carried the scan past this line
      i = Math.max(next, end) + 1;
    }
  }

  /** one line in block context; returns where the scan stopped (≥ the line's end) */
  private line(start: number, end: number): number {
    let i = start;
    while (i < end && this.code(i) === SPACE) i++;
    const indent = i - start;
    const c = this.code(i);
    const blank = i >= end || c === CR || c === 35 /* # */;
    if (this.blockScalarOwner > -2) {
      if (blank || indent > this.blockScalarOwner) return end;
      this.blockScalarOwner = -2;
    }
    if (blank) return end;
    if (this.plainOwner > -2) {
      if (indent > this.plainOwner) return end;
      this.plainOwner = -2;
    }
    if (indent === 0 && (this.text.startsWith('---', i) || this.text.startsWith('...', i)) && isBlank(this.code(i + 3))) {
      this.stack.length = 0;
      i += 3;
      while (i < end && this.code(i) === SPACE) i++;
      return this.value(i, end, -1);
    }
    if (indent === 0 && c === 37 /* % */) return end;
    while (this.stack.length && this.stack[this.stack.length - 1]!.col > indent) this.stack.pop();
    return this.node(i, end, start);
  }

  /** open (or continue) a block collection of `kind` whose entries sit at `col` */
  private enter(kind: Block['kind'], col: number, offset: number): void {
    let top = this.stack[this.stack.length - 1];
    if (top && top.col === col && top.kind !== kind && kind === 'map') {
      // `key:` after a sequence written at the key's own column ends that sequence
      this.stack.pop();
      top = this.stack[this.stack.length - 1];
    }
    if (top && top.col === col && top.kind === kind) return;
    this.stack.push({ kind, col });
    this.count(1, offset);
    this.checkDepth(offset);
  }

  /** a node at `i` in block context: indicators and keys nest, anything else is a value */
  private node(i: number, end: number, lineStart: number): number {
    for (;;) {
      const c = this.code(i);
      const col = i - lineStart;
      if ((c === 45 /* - */ || c === 63 /* ? */) && isBlank(this.code(i + 1))) {
        this.enter(c === 45 ? 'seq' : 'map', col, i);
        i++;
        while (i < end && this.code(i) === SPACE) i++;
        if (i >= end || this.code(i) === CR || this.code(i) === 35) return end;
        continue; // compact nesting: `- - x`, `- a: 1`, `? - x`
      }
      const keyEnd = this.implicitKeyEnd(i, end);
      if (keyEnd >= 0) {
        this.enter('map', col, i);
        this.count(1, i);
        let v = keyEnd + 1;
        while (v < end && this.code(v) === SPACE) v++;
        return this.value(v, end, col);
      }
      const parent = this.stack[this.stack.length - 1];
      return this.value(i, end, parent ? parent.col : -1);
    }
  }

  /**
   * the offset of the `:` ending an implicit key that starts at `i` on this line, or -1. Keys
   * are single-line: a plain key ends at `: ` (not inside ` #` comments), a quoted one at its quote.
   */
  private implicitKeyEnd(i: number, end: number): number {
    const c = this.code(i);
    let j = i;
    if (c === 34 /* " */ || c === 39 /* ' */) {
      j = this.skipQuoted(i, end);
      if (j < 0) return -1;
      while (j < end && this.code(j) === SPACE) j++;
      return this.code(j) === 58 /* : */ && isBlank(this.code(j + 1)) ? j : -1;
    }
    if (c === 91 /* [ */ || c === 123 /* { */ || c === 38 /* & */ || c === 33 /* ! */ || c === 42 /* * */ || c === 124 /* | */ || c === 62 /* > */) return -1;
    for (; j < end; j++) {
      const d = this.code(j);
      if (d === 58 && isBlank(this.code(j + 1))) return j;
      if (d === 35 && j > i && isBlank(this.code(j - 1))) return -1;
    }
    return -1;
  }

  /** the offset after a quoted scalar starting at `i`; -1 when it does not end before `limit` */
  private skipQuoted(i: number, limit: number): number {
    const q = this.code(i);
    let j = i + 1;
    while (j < limit) {
      const d = this.code(j);
      if (q === 34 && d === 92 /* \ */) j += 2;
      else if (d === q) {
        if (q === 39 && this.code(j + 1) === 39) j += 2;
        else return j + 1;
      } else j++;
    }
    return -1;
  }

  /** a value at `i` whose owner collection sits at column `owner`; returns where the scan stopped */
  private value(i: number, end: number, owner: number, flowKey = true): number {
    // node properties: anchors and tags
    for (let c = this.code(i); (c === 38 || c === 33) && i < end; c = this.code(i)) {
      while (i < end && !isBlank(this.code(i))) i++;
      while (i < end && this.code(i) === SPACE) i++;
    }
    if (i >= end) return end;
    const c = this.code(i);
    if (c === 91 || c === 123) {
      const after = this.flowCollection(i);
      if (!flowKey) return this.lineEnd(after);
      // `[a, b]: value` (a flow key) or a comment may follow on the closing line
      const closeEnd = this.lineEnd(after);
      let j = after;
      while (j < closeEnd && this.code(j) === SPACE) j++;
      if (this.code(j) === 58 && isBlank(this.code(j + 1))) {
        // its value (one level only: `[a]: [b]: c` is not YAML, so no chains are followed)
        j++;
        while (j < closeEnd && this.code(j) === SPACE) j++;
        return this.value(j, closeEnd, owner, false);
      }
      return closeEnd;
    }
    if (c === 35 || c === CR) return end;
    this.count(1, i);
    if (c === 34 || c === 39) {
      const after = this.skipQuoted(i, this.n);
      return after < 0 ? this.n : this.lineEnd(after);
    }
    if (c === 124 || c === 62) this.blockScalarOwner = owner;
    else this.plainOwner = owner;
    return end;
  }

  /**
   * a flow collection from its opening bracket at `i`, across lines; returns the offset after its
   * end. A `key: value` pair inside a flow sequence is a mapping of its own (`[a: [b]]` nests three
   * levels), so it adds a level until its entry ends.
   */
  private flowCollection(i: number): number {
    const base = this.flow;
    const isSeq: boolean[] = [];
    const inPair: boolean[] = [];
    let atStart = true;
    let afterJsonLike = false;
    while (i < this.n) {
      const c = this.code(i);
      if (c === 91 || c === 123) {
        this.flow++;
        isSeq.push(c === 91);
        inPair.push(false);
        this.count(1, i);
        this.checkDepth(i);
        atStart = true;
        afterJsonLike = false;
      } else if (c === 93 || c === 125) {
        if (inPair.pop()) this.flow--;
        isSeq.pop();
        this.flow--;
        if (this.flow <= base) return i + 1;
        atStart = false;
        afterJsonLike = true;
      } else if (c === 44 /* , */) {
        if (inPair[inPair.length - 1]) {
          inPair[inPair.length - 1] = false;
          this.flow--;
        }
        atStart = true;
        afterJsonLike = false;
      } else if (c === 58 /* : */ && (afterJsonLike || isBlank(this.code(i + 1)) || FLOW_INDICATOR.has(this.code(i + 1)))) {
        if (isSeq[isSeq.length - 1] && !inPair[inPair.length - 1]) {
          inPair[inPair.length - 1] = true;
          this.flow++;
          this.count(1, i);
          this.checkDepth(i);
        }
        atStart = true;
        afterJsonLike = false;
      } else if ((c === 34 || c === 39) && atStart) {
        const after = this.skipQuoted(i, this.n);
        if (after < 0) return this.n;
        this.count(1, i);
        i = after;
        atStart = false;
        afterJsonLike = true;
        continue;
      } else if (c === 35 && (i === 0 || isBlank(this.code(i - 1)))) {
        i = this.lineEnd(i);
        continue;
      } else if (!isBlank(c)) {
        if (atStart) this.count(1, i); // a plain scalar (or alias) begins
        atStart = false;
        afterJsonLike = false;
      }
      i++;
    }
    return this.n;
  }
}
