/**
 * Preformatted text (JSON, a response body) in a labelled, focusable region: keyboard users can
 * scroll it, and screen readers announce what it is (a `<pre>` cannot carry a label itself).
 */
export function JsonBlock({ label, text, small = false }: { label: string; text: string; small?: boolean }) {
  return (
    <div role="region" aria-label={label} tabIndex={0} className={`json-block${small ? " small" : ""}`}>
      <pre>{text}</pre>
    </div>
  );
}
