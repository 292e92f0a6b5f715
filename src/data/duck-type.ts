import { ARRAY, DuckDBTypeId, LIST, MAP, STRUCT, VARCHAR, type DuckDBType } from '@duckdb/node-api';

/**
 * Walking a nested DuckDB type (lists, fixed-size arrays, structs, maps) as DuckDB itself
 * describes it (`@duckdb/node-api`'s DuckDBType of a result column): where the DOUBLEs are in
 * `STRUCT(x DOUBLE, "a b" BIGINT[])[]`, and the same type with those DOUBLEs read as text.
 */

/** `type` with every DOUBLE (at any depth) replaced by VARCHAR; its `toString()` is SQL DuckDB reads back. */
export function doublesAsText(type: DuckDBType): DuckDBType {
  switch (type.typeId) {
    case DuckDBTypeId.DOUBLE:
      return VARCHAR;
    case DuckDBTypeId.LIST:
      return LIST(doublesAsText(type.valueType));
    case DuckDBTypeId.ARRAY:
      return ARRAY(doublesAsText(type.valueType), type.length);
    case DuckDBTypeId.STRUCT:
      return STRUCT(Object.fromEntries(type.entryNames.map((name, i) => [name, doublesAsText(type.entryTypes[i]!)])));
    case DuckDBTypeId.MAP:
      return MAP(type.keyType, doublesAsText(type.valueType));
    default:
      return type;
  }
}

/** How deeply lists nest in `type` (`DOUBLE[][]`: 2; through structs and maps too): `anyDouble` nests one lambda per level. */
export function listDepth(type: DuckDBType): number {
  switch (type.typeId) {
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
    case DuckDBTypeId.MAP:
      return 1 + listDepth(type.valueType);
    case DuckDBTypeId.STRUCT:
      return Math.max(0, ...type.entryTypes.map(listDepth));
    default:
      return 0;
  }
}

/** What `anyDouble` tests: values at the places `type` holds a DOUBLE (or, with `asText`, the VARCHAR `doublesAsText` put there). */
export interface DoubleTest {
  type: DuckDBType;
  /** The SQL condition over one such value's expression. */
  test: (value: string) => string;
}

/**
 * A SQL condition over `expr` (a value of `query.type`), true when some DOUBLE in it, at any
 * depth (in lists, arrays, struct fields and map values), passes `query.test`; undefined when
 * the type holds no DOUBLE. Over a value read with `doublesAsText(query.type)`, the same places
 * hold its text.
 */
export function anyDouble(expr: string, query: DoubleTest): string | undefined {
  return doubleCondition(expr, query, 0);
}

function doubleCondition(expr: string, query: DoubleTest, depth: number): string | undefined {
  const { type } = query;
  switch (type.typeId) {
    case DuckDBTypeId.DOUBLE:
      return query.test(expr);
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const v = `v${depth}`;
      const inner = doubleCondition(v, { ...query, type: type.valueType }, depth + 1);
      return inner === undefined ? undefined : `coalesce(list_bool_or(list_transform(${expr}, lambda ${v}: ${inner})), false)`;
    }
    case DuckDBTypeId.STRUCT: {
      const parts = type.entryNames
        .map((name, i) => doubleCondition(`struct_extract(${expr}, '${name.replaceAll("'", "''")}')`, { ...query, type: type.entryTypes[i]! }, depth))
        .filter((c): c is string => c !== undefined);
      return parts.length === 0 ? undefined : `(${parts.map((p) => `coalesce(${p}, false)`).join(' OR ')})`;
    }
    case DuckDBTypeId.MAP:
      return doubleCondition(`map_values(${expr})`, { ...query, type: LIST(type.valueType) }, depth);
    default:
      return undefined;
  }
}
