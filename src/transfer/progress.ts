/**
 * Progress of a transfer as plain data. Transfers report it; output/progress_bar.ts decides
 * whether and how to draw it, so nothing here knows a terminal.
 */

/** A snapshot of one transfer, reported after every chunk. */
export interface Progress {
  /** Bytes of the file present so far, including bytes kept from an earlier run. */
  done: number;
  /** Size of the whole file when the remote announced it, else null. */
  total: number | null;
  /** `performance.now()` when this transfer (or its latest restart from zero) began. */
  startedAt: number;
  /** Bytes that were already present when the transfer began; the rate excludes them. */
  resumedFrom: number;
}

/** Receives progress snapshots; throttling and drawing are the listener's job. */
export type ProgressListener = (progress: Progress) => void;
