/**
 * Checking `--url` (of `add` and `record`), apart from commands/common.ts so that commands
 * without the flag (`get`, `images`: start-up) do not load the HTTP layer for its redaction.
 */
import { UsageError } from "../errors.ts";
import { redactUrl } from "../transfer/http.ts";

// Whitespace or controls in a URL would be trimmed, dropped or misread somewhere along the way.
const URL_REFUSED = /[\p{Cc}\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Bidi_Control}]/u;

/**
 * Checks `--url`: an http or https URL with no whitespace or control character, returned without
 * its credentials (userinfo, token parameters), which are never stored.
 */
export function urlArgument(text: string): string {
  const refuse = (why: string) =>
    new UsageError(`--url ${JSON.stringify(text)} ${why}`, {
      hint: "give the http(s) address the image can be fetched from",
    });
  if (URL_REFUSED.test(text)) throw refuse("holds whitespace or a control character");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse("is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw refuse(`is a ${url.protocol} URL, not http or https`);
  }
  return redactUrl(url.href);
}
