"use client";

import { useSyncExternalStore } from "react";
import { localTime, utcTime } from "@/lib/dashboard/format";

/**
 * The viewer's UTC offset in minutes (east positive), or null on the server and before hydration
 * (the server renders UTC, the same for everyone; the browser then shows its own zone).
 */
function useOffsetMinutes(iso: string): number | null {
  return useSyncExternalStore(
    noSubscription,
    () => -new Date(iso).getTimezoneOffset(),
    () => null,
  );
}
const noSubscription = () => () => undefined;

/** An exact time in the viewer's zone, with UTC next to it when the zone is not UTC (and always on hover). */
export function LocalTime({ iso, withUtc = false }: { iso: string; withUtc?: boolean }) {
  const offset = useOffsetMinutes(iso);
  const utc = utcTime(iso);
  if (offset === null || offset === 0) {
    return (
      <time dateTime={iso} title={utc}>
        {utc}
      </time>
    );
  }
  return (
    <time dateTime={iso} title={utc}>
      {localTime(iso, offset)}
      {withUtc ? <span className="muted"> ({utc})</span> : null}
    </time>
  );
}

/** Under a field read as UTC: the current time in UTC and, once the browser says, in the viewer's zone. */
export function LocalNowHint({ id, nowIso }: { id: string; nowIso: string }) {
  const offset = useOffsetMinutes(nowIso);
  return (
    <span id={id} className="hint">
      Read as UTC. It is now {utcTime(nowIso).slice(0, 16)} UTC
      {offset !== null && offset !== 0 ? `, ${localTime(nowIso, offset).slice(11)} your time` : ""}.
    </span>
  );
}
