/**
 * A DuckDB type as DESCRIBE prints it (`STRUCT(x DOUBLE, "a b" BIGINT[])[]`), parsed only as far
 * as nesting: lists, structs and maps; anything else (`DOUBLE`, `DECIMAL(18,3)`) is a leaf.
 */
export type DuckType =
  | { kind: 'leaf'; name: string }
  | { kind: 'list'; of: DuckType }
  | { kind: 'struct'; fields: Array<{ name: string; type: DuckType }> }
  | { kind: 'map'; key: DuckType; value: DuckType };

/** Parses a type DuckDB printed; throws on text DuckDB does not print. */
export function parseDuckType(text: string): DuckType {
  const parser = new TypeParser(text);
  const type = parser.type();
  if (parser.at < text.length) throw new Error(`unexpected text at ${parser.at} in type ${text}`);
  return type;
}

/** The type as DuckDB reads it back (struct field names always quoted). */
export function printDuckType(type: DuckType): string {
  switch (type.kind) {
    case 'leaf':
      return type.name;
    case 'list':
      return `${printDuckType(type.of)}[]`;
    case 'struct':
      return `STRUCT(${type.fields.map((f) => `"${f.name.replaceAll('"', '""')}" ${printDuckType(f.type)}`).join(', ')})`;
    case 'map':
      return `MAP(${printDuckType(type.key)}, ${printDuckType(type.value)})`;
  }
}

/** `type` with every leaf `from` replaced by leaf `to`. */
export function replaceLeaf(type: DuckType, swap: { from: string; to: string }): DuckType {
  switch (type.kind) {
    case 'leaf':
      return type.name === swap.from ? { kind: 'leaf', name: swap.to } : type;
    case 'list':
      return { kind: 'list', of: replaceLeaf(type.of, swap) };
    case 'struct':
      return { kind: 'struct', fields: type.fields.map((f) => ({ name: f.name, type: replaceLeaf(f.type, swap) })) };
    case 'map':
      return { kind: 'map', key: type.key, value: replaceLeaf(type.value, swap) };
  }
}

/** How deeply lists nest in `type` (`DOUBLE[][]`: 2; through structs and maps too): `anyLeaf` nests one lambda per level. */
export function listDepth(type: DuckType): number {
  switch (type.kind) {
    case 'leaf':
      return 0;
    case 'list':
      return 1 + listDepth(type.of);
    case 'struct':
      return Math.max(0, ...type.fields.map((f) => listDepth(f.type)));
    case 'map':
      return 1 + listDepth(type.value);
  }
}

/** What `anyLeaf` tests: values of leaves named `leaf`, each with the SQL condition `test` builds from the value's expression. */
export interface LeafTest {
  type: DuckType;
  leaf: string;
  test: (value: string) => string;
}

/**
 * A SQL condition over `expr` (a value of `query.type`), true when some value at a leaf named
 * `query.leaf`, at any depth (in lists, struct fields and map values), passes `query.test`;
 * undefined when the type has no such leaf.
 */
export function anyLeaf(expr: string, query: LeafTest): string | undefined {
  return leafCondition(expr, query, 0);
}

function leafCondition(expr: string, query: LeafTest, depth: number): string | undefined {
  const { type } = query;
  switch (type.kind) {
    case 'leaf':
      return type.name === query.leaf ? query.test(expr) : undefined;
    case 'list': {
      const v = `v${depth}`;
      const inner = leafCondition(v, { ...query, type: type.of }, depth + 1);
      return inner === undefined ? undefined : `coalesce(list_bool_or(list_transform(${expr}, lambda ${v}: ${inner})), false)`;
    }
    case 'struct': {
      const parts = type.fields
        .map((f) => leafCondition(`struct_extract(${expr}, '${f.name.replaceAll("'", "''")}')`, { ...query, type: f.type }, depth))
        .filter((c): c is string => c !== undefined);
      return parts.length === 0 ? undefined : `(${parts.map((p) => `coalesce(${p}, false)`).join(' OR ')})`;
    }
    case 'map':
      return leafCondition(`map_values(${expr})`, { ...query, type: { kind: 'list', of: type.value } }, depth);
  }
}

class TypeParser {
  at = 0;
  constructor(private readonly text: string) {}

  type(): DuckType {
    let type = this.base();
    // `[]` for a list; `[3]` for a fixed-size array, whose values the list functions read too.
    while (this.text[this.at] === '[') {
      const close = this.text.indexOf(']', this.at);
      if (close < 0) throw new Error(`unclosed [ in type ${this.text}`);
      this.at = close + 1;
      type = { kind: 'list', of: type };
    }
    return type;
  }

  private base(): DuckType {
    if (this.text.startsWith('STRUCT(', this.at)) {
      this.at += 'STRUCT('.length;
      const fields: Array<{ name: string; type: DuckType }> = [];
      do {
        const name = this.name();
        this.expect(' ');
        fields.push({ name, type: this.type() });
      } while (this.separator());
      this.expect(')');
      return { kind: 'struct', fields };
    }
    if (this.text.startsWith('MAP(', this.at)) {
      this.at += 'MAP('.length;
      const key = this.type();
      this.expect(', ');
      const value = this.type();
      this.expect(')');
      return { kind: 'map', key, value };
    }
    // A leaf runs to the next `,`, `)` or `[` outside its own parentheses (DECIMAL(18,3), UNION(…)).
    const start = this.at;
    let depth = 0;
    for (; this.at < this.text.length; this.at++) {
      const ch = this.text[this.at];
      if (ch === '(') depth++;
      else if (ch === ')' && depth > 0) depth--;
      else if (depth === 0 && (ch === ',' || ch === ')' || ch === '[')) break;
    }
    if (this.at === start) throw new Error(`empty type at ${start} in ${this.text}`);
    return { kind: 'leaf', name: this.text.slice(start, this.at) };
  }

  /** A struct field's name: quoted (`"a ""b"""`) or up to the space before its type. */
  private name(): string {
    if (this.text[this.at] !== '"') {
      const space = this.text.indexOf(' ', this.at);
      if (space < 0) throw new Error(`field without a type in ${this.text}`);
      const name = this.text.slice(this.at, space);
      this.at = space;
      return name;
    }
    let name = '';
    for (this.at++; this.at < this.text.length; this.at++) {
      if (this.text[this.at] !== '"') {
        name += this.text[this.at];
      } else if (this.text[this.at + 1] === '"') {
        name += '"';
        this.at++;
      } else {
        this.at++;
        return name;
      }
    }
    throw new Error(`unclosed quote in type ${this.text}`);
  }

  private separator(): boolean {
    if (!this.text.startsWith(', ', this.at)) return false;
    this.at += 2;
    return true;
  }

  private expect(token: string): void {
    if (!this.text.startsWith(token, this.at)) throw new Error(`expected "${token}" at ${this.at} in type ${this.text}`);
    this.at += token.length;
  }
}
