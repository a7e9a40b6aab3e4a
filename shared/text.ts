/** Text made safe for a log line, an audit message or an HTTP error body. */

/** One line, bounded, with no control characters: safe for logs and audit messages. */
export function oneLine(s: string, max = 200): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
