/**
 * The streams a command writes to: `out` carries data only (paths, tables, JSON), `err` carries
 * everything else. Tests substitute string buffers that can pretend to be a terminal. Lines of
 * input are read up to a cap.
 */
import { UsageError } from "../errors.ts";

/** One output stream with what a renderer needs to know about it. */
export interface OutputStream {
  /** Writes text as is. */
  write(text: string): void;
  /** Writes text followed by a newline. */
  line(text?: string): void;
  /** True when the stream is an interactive terminal. */
  readonly isTerminal: boolean;
  /** Terminal width in columns (80 when unknown). */
  readonly columns: number;
}

/** The input side: interactive answers and the shell's lines. */
export interface InputStream {
  /** True when standard input is an interactive terminal. */
  readonly isTerminal: boolean;
  /** Reads one line without its newline, or null at end of input. */
  readLine(): Promise<string | null>;
  /** Reads one line typed on the terminal without showing it (a password); absent in tests. */
  readSecret?(): Promise<string | null>;
}

/** Standard streams of one run. */
export interface Io {
  /** Data: a path, a table, JSON. */
  out: OutputStream;
  /** Status: messages, banners, progress bars, errors. */
  err: OutputStream;
  /** Standard input. */
  in: InputStream;
}

/**
 * Builds an OutputStream over a sink of text. `columns` may be a function, asked when a renderer
 * wants the width: most commands never do, and asking a terminal takes time (the real host's
 * asks it once).
 */
export function outputStream(
  sink: (text: string) => void,
  options: { isTerminal?: boolean; columns?: number | (() => number) } = {},
): OutputStream {
  const columns = options.columns ?? 80;
  return {
    write: sink,
    line: (text = "") => sink(text + "\n"),
    isTerminal: options.isTerminal ?? false,
    get columns() {
      return typeof columns === "number" ? columns : columns();
    },
  };
}

/** The longest line of input read (a shell line, an answer to a question). */
export const MAX_LINE_LENGTH = 64 * 1024;

/**
 * Reads lines from a byte stream, one at a time, keeping the rest buffered; a line longer than
 * MAX_LINE_LENGTH characters (say, /dev/zero on stdin) is a UsageError instead of filling memory.
 */
export function lineReader(stream: ReadableStream<Uint8Array>): () => Promise<string | null> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let ended = false;
  const tooLong = async () => {
    await reader.cancel().catch(() => {});
    return new UsageError(`a line of input is longer than ${MAX_LINE_LENGTH / 1024} KiB`);
  };
  return async () => {
    while (!buffered.includes("\n") && !ended) {
      if (buffered.length > MAX_LINE_LENGTH) throw await tooLong();
      const { value, done } = await reader.read();
      if (done) ended = true;
      else buffered += value;
    }
    if (buffered === "" && ended) return null;
    const newline = buffered.indexOf("\n");
    const line = newline === -1 ? buffered : buffered.slice(0, newline);
    buffered = newline === -1 ? "" : buffered.slice(newline + 1);
    if (line.length > MAX_LINE_LENGTH) throw await tooLong();
    return line.replace(/\r$/, "");
  };
}
