"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";

/** A navigation link that marks itself as the current page (for screen readers and the eye). */
export function NavLink({ href, children }: { href: string; children: ReactNode }) {
  const pathname = usePathname();
  const current = pathname === href || pathname.startsWith(`${href}/`);
  return (
    // No prefetch: pages that refresh themselves would prefetch the navigation again on every refresh.
    <Link href={href} prefetch={false} className="nav-link" aria-current={current ? "page" : undefined}>
      {children}
    </Link>
  );
}
