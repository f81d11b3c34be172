/**
 * Splits text into parts of at most `maxBytes` UTF-8 bytes, preferring paragraph, then line, then
 * sentence ends (Chinese and Western), never cutting a character. Platforms cap message size (WeCom
 * text: 2048 bytes); a long answer is sent in parts, never cut silently.
 */
export function splitByBytes(text: string, maxBytes: number): string[] {
  const parts: string[] = [];
  let rest = text;
  while (Buffer.byteLength(rest) > maxBytes) {
    const fits = longestPrefix(rest, maxBytes);
    const window = rest.slice(0, fits);
    const cut = lastBreak(window) ?? fits;
    parts.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) parts.push(rest);
  return parts;
}

/** Length (in UTF-16 units) of the longest prefix within maxBytes that does not split a character. */
function longestPrefix(text: string, maxBytes: number): number {
  let bytes = 0;
  let i = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > maxBytes) break;
    bytes += b;
    i += ch.length;
  }
  return i;
}

function lastBreak(window: string): number | undefined {
  const minimum = Math.floor(window.length / 2); // a break too early would make many tiny parts
  for (const pattern of [/\n\n/g, /\n/g, /[。！？!?；;](?=\s|$|[^。！？!?；;])|[.](?=\s)/g]) {
    let at: number | undefined;
    for (const m of window.matchAll(pattern)) if (m.index! + m[0].length >= minimum) at = m.index! + m[0].length;
    if (at !== undefined) return at;
  }
  return undefined;
}
