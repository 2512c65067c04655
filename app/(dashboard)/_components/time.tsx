import { relativeTime, utcTime } from "@/lib/dashboard/format";
import { LocalTime } from "./local-time";

/**
 * A relative time ("3 min ago"). Its exact time is one activation away, by keyboard, touch or
 * mouse: a disclosure (it works without JavaScript) showing the time in the viewer's zone and in
 * UTC; the UTC time is also the hover title.
 */
export function RelativeTime({ iso, now }: { iso: string; now: number }) {
  return (
    <details className="time">
      <summary>
        <time dateTime={iso} title={utcTime(iso)}>
          {relativeTime(iso, now)}
        </time>
      </summary>
      <span className="time-exact">
        <LocalTime iso={iso} withUtc />
      </span>
    </details>
  );
}

/** An exact time in the viewer's zone (UTC until the browser says which), with UTC on hover and next to it. */
export function ExactTime({ iso }: { iso: string | null }) {
  if (!iso) return <span className="muted">—</span>;
  return <LocalTime iso={iso} withUtc />;
}

export { LocalNowHint } from "./local-time";
