// A deliberately small path language, shared by templates ({{args.a.b}}) and response mappings
// (data.items[0].status): property names and array indexes only, nothing evaluated.

export type PathSegment = string | number;

const SEGMENT = /^([A-Za-z_$][\w$-]*)((?:\[\d{1,6}\])*)$/;

/** "data.items[0].status" → ['data', 'items', 0, 'status'], or undefined when it is not a path. */
export function parsePath(path: string): PathSegment[] | undefined {
  if (!path || path.length > 200) return undefined;
  const out: PathSegment[] = [];
  for (const part of path.split('.')) {
    if (/^\d{1,6}$/.test(part)) {
      out.push(Number(part));
      continue;
    }
    const m = SEGMENT.exec(part);
    if (!m) return undefined;
    out.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** The value at a path, or undefined. Own properties only: "__proto__" or "constructor" find nothing. */
export function getPath(value: unknown, path: readonly PathSegment[]): unknown {
  let cur = value;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (typeof seg === 'number' ? !Array.isArray(cur) : !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}
