import Link from "next/link";
import type { ReactNode } from "react";
import { NavLink } from "@/app/components/nav-link";
import { signOutAction } from "@/app/actions";

/**
 * The frame of every dashboard page: a skip link, the shared navigation and sign-out. It holds no
 * data; each page checks the session itself (layouts do not re-run on every navigation).
 */
export default function DashboardLayout({ children }: { children: ReactNode }) {
  return (
    <>
      <a className="skip-link" href="#content">
        Skip to content
      </a>
      <header className="dash-header">
        <div className="dash-header-inner">
          <Link href="/batches" prefetch={false} className="brand">
            batchwatch
          </Link>
          <nav aria-label="Dashboard" className="dash-nav">
            <NavLink href="/batches">Batches</NavLink>
            <NavLink href="/deliveries">Deliveries</NavLink>
            <NavLink href="/endpoints">Endpoints</NavLink>
          </nav>
          <form action={signOutAction} className="sign-out">
            <button type="submit" className="button button-quiet">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main id="content" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
