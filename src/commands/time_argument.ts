/**
 * A point in time typed on the command line (`images --since/--before`), turned into the UTC
 * `YYYY-MM-DD HH:MM:SS` the database records times in. Anything else is a UsageError.
 */
import { printable, UsageError } from "../errors.ts";

const ACCEPTED = "give a date (2026-11-21), a date and time (2026-11-21T14:02, seconds and " +
  "a Z or +01:00 offset optional; without one, local time), or an age (90m, 12h, 7d, 2w)";

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?)?$/i;
const AGE = /^(\d{1,6})([mhdw])$/;
const AGE_MINUTES: Record<string, number> = { m: 1, h: 60, d: 24 * 60, w: 7 * 24 * 60 };

/**
 * The UTC time `value` names: a date (local midnight), a date and time (local unless it carries
 * `Z` or an offset), or an age before `now`.
 */
export function timeArgument(value: string, option: string, now: Date): string {
  const refuse = () =>
    new UsageError(`${option} '${printable(value)}' is not a date or time`, { hint: ACCEPTED });
  const text = value.trim();
  const age = AGE.exec(text);
  if (age) return utcText(new Date(now.getTime() - Number(age[1]) * AGE_MINUTES[age[2]] * 60_000));
  const match = DATE_TIME.exec(text);
  if (!match) throw refuse();
  const [year, month, day, hours, minutes, seconds] = match.slice(1, 7).map((part) =>
    part === undefined ? 0 : Number(part)
  );
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth) throw refuse();
  if (hours > 23 || minutes > 59 || seconds > 59) throw refuse();
  const zone = match[7];
  if (zone === undefined) {
    return utcText(new Date(year, month - 1, day, hours, minutes, seconds));
  }
  let offset = 0;
  if (zone.toUpperCase() !== "Z") {
    const digits = zone.slice(1).replace(":", "");
    const [offsetHours, offsetMinutes] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
    if (offsetHours > 23 || offsetMinutes > 59) throw refuse();
    offset = (zone[0] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  }
  return utcText(
    new Date(Date.UTC(year, month - 1, day, hours, minutes, seconds) - offset * 60_000),
  );
}

function utcText(time: Date): string {
  return time.toISOString().slice(0, 19).replace("T", " ");
}
