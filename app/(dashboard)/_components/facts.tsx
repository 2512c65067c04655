import type { ReactNode } from "react";

/** A page's key facts as a labelled list of term / value pairs, under a heading screen readers can jump to. */
export function Facts({ id, heading, facts }: { id: string; heading: string; facts: [string, ReactNode][] }) {
  return (
    <section aria-labelledby={id}>
      <h2 id={id} className="visually-hidden">
        {heading}
      </h2>
      <dl className="facts">
        {facts.map(([term, value]) => (
          <div key={term} className="fact">
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
