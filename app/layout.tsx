import type { Metadata, Viewport } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: "batchwatch",
  description: "One signed webhook when any LLM batch job finishes, on any provider.",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

/**
 * Every page renders per request, even the static-looking ones: its scripts must carry the nonce
 * of this response's Content Security Policy (proxy.ts), which a prerendered page cannot know.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  await connection();
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
