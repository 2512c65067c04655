import { humanize, statusTone } from "@/lib/dashboard/format";

/** A status word in a coloured pill; the word itself carries the meaning, the colour only helps. */
export function StatusBadge({ status, label }: { status: string; label?: string }) {
  return <span className={`badge badge-${statusTone(status)}`}>{label ?? humanize(status)}</span>;
}
