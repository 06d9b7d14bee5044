/**
 * The worker of a storage walk (core/storage_walk.ts): reads the folders it is given and
 * everything below them, never entering a symlink, and answers with what it found.
 */
/// <reference lib="deno.worker" />
import { walkFolders, type WalkRequest } from "./storage_walk.ts";

self.onmessage = (event: MessageEvent<WalkRequest>) => {
  self.postMessage(walkFolders(event.data.folders, event.data.skip));
};
