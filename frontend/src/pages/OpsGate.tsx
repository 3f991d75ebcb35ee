import type { ReactNode } from 'react'
import { Link } from '../components/Link'
import { useSession, type Session } from '../lib/session'
import { Notice, PageTitle } from '../components/ui'

/** OpsGate shows its children only to a signed-in ops user. */
export function OpsGate({ next, children }: { next: string; children: (s: Session) => ReactNode }) {
  const s = useSession()
  if (!s) {
    return (
      <>
        <PageTitle>Ops console</PageTitle>
        <Notice title="Sign in with an ops account">
          <Link href={`/signin?next=${encodeURIComponent(next)}`} className="underline">
            Sign in
          </Link>
        </Notice>
      </>
    )
  }
  if (s.user.role !== 'ops') {
    return (
      <>
        <PageTitle>Ops console</PageTitle>
        <Notice tone="warning" title="This page is for the operations team">
          You are signed in as {s.user.email}, a fan account.
        </Notice>
      </>
    )
  }
  return <>{children(s)}</>
}
