/**
 * The error hierarchy every layer throws and only `cli.ts` renders. Each class fixes an exit
 * code and a stable machine-readable code for `--json` error output.
 */

/** Options shared by every sregistry error. */
export interface ErrorOptions {
  /** What the user can do about it, appended after the message. */
  hint?: string;
  /** The underlying failure, shown only with `--debug`. */
  cause?: unknown;
}

/** Base of every expected failure: one line for the user and an exit code. */
export class SregistryError extends Error {
  /** Process exit code for this failure. */
  readonly exitCode: number = 1;
  /** Stable identifier used in `--json` error output. */
  readonly code: string = "error";
  /** What the user can do about it. */
  readonly hint?: string;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Bad flag combinations or arguments the parser cannot see; exit 2. */
export class UsageError extends SregistryError {
  override readonly exitCode: number = 2;
  override readonly code: string = "usage";
}

/** An image name that cannot be parsed or would escape storage; exit 2. */
export class InvalidNameError extends UsageError {
  override readonly code = "invalid_name";
}

/** No such record, file, or remote image. */
export class NotFoundError extends SregistryError {
  override readonly code = "not_found";
}

/** A record or file already exists; nothing was overwritten. */
export class ConflictError extends SregistryError {
  override readonly code = "conflict";
}

/** A download or upload whose size or checksum differs from what was expected. */
export class IntegrityError extends SregistryError {
  override readonly code = "integrity";
}

/** An HTTP status or network failure talking to a remote; URLs are redacted. */
export class RemoteError extends SregistryError {
  override readonly code = "remote";
  /** HTTP status when the failure was an answer, undefined for network errors. */
  readonly status?: number;

  constructor(message: string, options: ErrorOptions & { status?: number } = {}) {
    super(message, options);
    this.status = options.status;
  }
}

/** An image file that is truncated, damaged or crafted to mislead a reader. */
export class InvalidImageError extends SregistryError {
  override readonly code = "invalid_image";
}

/** The chosen client cannot do the requested operation. */
export class UnsupportedError extends SregistryError {
  override readonly code = "unsupported";
}

/** Unreadable or invalid settings, unwritable folders, corrupt database files. */
export class ConfigError extends SregistryError {
  override readonly code = "config";
}

/** The user interrupted the command (Ctrl-C); exit 130. */
export class InterruptedError extends SregistryError {
  override readonly exitCode = 130;
  override readonly code = "interrupted";
}

let unprintable: RegExp | undefined;

/**
 * True when `text` is printable ASCII (space to tilde), what nearly all text is: none of it is
 * unprintable, so it needs no look at Unicode classes. Checked by hand, as a regular expression
 * costs every start-up its compiling on first use.
 */
export function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return false;
  }
  return true;
}

/** Text from outside made safe for a message: unprintable characters become `\u` escapes. */
export function printable(text: string): string {
  if (isPrintableAscii(text)) return text;
  // Characters that would hide or reorder text on a terminal, or control it: C0/C1 controls,
  // format and invisible characters (zero-width, joiners, bidirectional controls), lone
  // surrogates, and every space but the plain one. Built on first use, as building Unicode
  // property classes costs about half a millisecond, which every start-up would pay.
  unprintable ??=
    /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]|(?! )\p{Zs}/gu;
  return text.replace(unprintable, (char) => {
    const code = char.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** The first line of an unknown failure's message, without Deno's "(os error N)" suffix. */
export function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) return RUNTIME_REFUSES;
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\(os error \d+\)/, "").split("\n")[0];
}

/**
 * Why the runtime refused a path (Deno's NotCapable), said without its advice to run with every
 * permission, which sregistry never takes.
 */
export const RUNTIME_REFUSES = "the runtime sregistry is built on (Deno) opens /dev, /proc and " +
  "/sys only with unrestricted permissions, which sregistry never takes";
