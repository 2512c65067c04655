import { relativeTime, utcTime } from "@/lib/dashboard/format";

/** A relative time ("3 min ago") with the exact UTC time on hover and for machines. */
export function RelativeTime({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} title={utcTime(iso)}>
      {relativeTime(iso, now)}
    </time>
  );
}

/** An exact UTC time. */
export function ExactTime({ iso }: { iso: string | null }) {
  if (!iso) return <span className="muted">—</span>;
  return <time dateTime={iso}>{utcTime(iso)}</time>;
}
