"use client";

import { useState } from "react";

/**
 * Copies `text` to the clipboard and says so. Where the Clipboard API is unavailable (plain http
 * away from localhost) it selects the target element's text instead, for Ctrl/Cmd+C.
 */
export function CopyButton({ text, targetId, label = "Copy" }: { text: string; targetId?: string; label?: string }) {
  const [message, setMessage] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setMessage("Copied.");
    } catch {
      const target = targetId ? document.getElementById(targetId) : null;
      if (target) window.getSelection()?.selectAllChildren(target);
      setMessage("Selected: press Ctrl+C (⌘C) to copy.");
    }
  }
  return (
    <>
      <button type="button" className="button" onClick={copy}>
        {label}
      </button>
      <span role="status" className="action-result">
        {message}
      </span>
    </>
  );
}
