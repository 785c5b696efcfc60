/**
 * The one duration parser of pgferry: every duration flag (copy timeouts, `schedule --every`,
 * catch-up windows, jitter) and every duration in a workflow's input goes through it. It accepts
 * exactly the strings Temporal's own duration options accept (the `ms` package the SDK uses:
 * `90s`, `5m`, `2h`, `1d`, `1.5h`, `1 day`, `500ms`), and refuses a bare number, which `ms` would
 * read as milliseconds: `--stall-timeout 60` once meant 60 ms and failed every copy at once.
 * Pure module: safe inside the workflow sandbox.
 */
import ms from 'ms';

/** Raised for a value that is not a duration; the message says what to write instead. */
export class DurationError extends TypeError {
  override name = 'DurationError';
}

const BARE_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Parses a duration string into milliseconds.
 * @throws DurationError for a bare number (no unit), text `ms` cannot read, or a value that is
 *   not positive.
 */
export function parseDuration(value: string): number {
  const text = value.trim();
  if (BARE_NUMBER.test(text)) {
    throw new DurationError(`${text} has no unit: write ${text}s or ${text}m (units: ms, s, m, h, d, w)`);
  }
  let millis = Number.NaN;
  try {
    millis = ms(text);
  } catch {
    // reported below, like any other text ms cannot read
  }
  if (Number.isNaN(millis)) throw new DurationError(`"${value}" is not a duration (e.g. 90s, 5m, 2h, 1d)`);
  if (!(millis > 0)) throw new DurationError(`"${value}" is not a positive duration`);
  return millis;
}
