"use client";

import { useEffect, useRef, useState } from "react";
import { CopyButton } from "./copy-button";

/**
 * A signing secret shown once (after creating an endpoint or rotating its secret), with a copy
 * button and a way to hide it. It takes the focus when it appears, so keyboard and screen reader
 * users land on it rather than on the page's start.
 */
export function SecretReveal({ message, secret, id }: { message: string; secret: string; id: string }) {
  const [dismissed, setDismissed] = useState<string | null>(null);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [secret]);
  if (dismissed === secret) return null;
  return (
    <div ref={ref} tabIndex={-1} className="notice notice-ok secret-reveal">
      <p>
        <strong>{message}</strong> Its signing secret is shown <strong>only this once</strong>: store it with your receiver
        now.
      </p>
      <p className="secret-row">
        <code id={id} className="secret">
          {secret}
        </code>{" "}
        <CopyButton text={secret} targetId={id} label="Copy secret" />
      </p>
      <button type="button" className="button button-quiet" onClick={() => setDismissed(secret)}>
        I have stored it
      </button>
    </div>
  );
}
