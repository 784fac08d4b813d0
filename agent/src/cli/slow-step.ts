// A step that may take seconds before anything else is printed (unlocking the key file, creating a
// repository) says what it is doing when it takes longer than a second, on stderr and only on a
// terminal (a script reading stdout or a log sees nothing extra).

/** How long a step may run silently. */
export const SILENT_MS = 1000;

/** Prints `cairn: <doing>...` on a terminal's stderr if the returned stop() is not called within SILENT_MS. */
export function noticeIfSlow(doing: string, stream: NodeJS.WriteStream = process.stderr): () => void {
  if (!stream.isTTY) return () => undefined;
  const timer = setTimeout(() => stream.write(`cairn: ${doing}...\n`), SILENT_MS);
  return () => clearTimeout(timer);
}
