import { useState, type FormEvent } from 'react'
import { api, ApiError, errorMessage } from '../lib/api'
import { useDocumentTitle } from '../lib/hooks'
import { navigate, safeNext, useLocation } from '../lib/router'
import { Link } from '../components/Link'
import { session } from '../lib/session'
import { Button, Card, ErrorNotice, Field, Notice, PageTitle } from '../components/ui'

export function AuthPage({ mode }: { mode: 'signin' | 'register' }) {
  const { search } = useLocation()
  const next = safeNext(search.get('next'))
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const register = mode === 'register'
  useDocumentTitle(register ? 'Register' : 'Sign in')

  async function submit(e: FormEvent) {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const res = register ? await api.register(email, password, name) : await api.login(email, password)
      session.signIn(res)
      navigate(next, { replace: true })
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  // Put a field's error next to the field when the API names it.
  const field = error instanceof ApiError && typeof error.details.field === 'string' ? error.details.field : null
  const fieldError = (f: string) =>
    error instanceof ApiError && (field === f || (f === 'password' && error.code === 'weak_password') || (f === 'email' && error.code === 'email_taken'))
      ? errorMessage(error)
      : undefined
  const atField = ['name', 'email', 'password'].find((f) => fieldError(f) !== undefined)
  const other = `${register ? '/signin' : '/register'}${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`

  return (
    <div className="mx-auto max-w-md">
      <PageTitle sub={register ? 'One account per fan. You need it to join a waiting room.' : 'Welcome back.'}>
        {register ? 'Create your account' : 'Sign in'}
      </PageTitle>
      <Card>
        <form onSubmit={submit} className="space-y-4" noValidate={false}>
          {error !== null &&
            (atField && error instanceof ApiError ? (
              // The sentence is next to its field; say once where to look.
              <Notice tone="error" title={register ? 'We could not create your account' : 'We could not sign you in'}>
                <p data-error-code={error.code}>Check the {atField} below.</p>
              </Notice>
            ) : (
              <ErrorNotice error={error} title={register ? 'We could not create your account' : 'We could not sign you in'} />
            ))}
          {register && (
            <Field label="Name" name="name" autoComplete="name" required value={name} onChange={(e) => setName(e.target.value)} error={fieldError('name')} />
          )}
          <Field
            label="Email"
            name="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            error={fieldError('email')}
          />
          <Field
            label="Password"
            name="password"
            type="password"
            autoComplete={register ? 'new-password' : 'current-password'}
            required
            hint={register ? 'At least 10 characters, not a common password, and not containing your email or the part before its @. A long passphrase is best.' : undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={fieldError('password')}
          />
          <Button type="submit" busy={busy} className="w-full">
            {register ? 'Create account' : 'Sign in'}
          </Button>
        </form>
      </Card>
      <p className="mt-4 text-center text-sm text-slate-600">
        {register ? 'Already have an account? ' : 'New here? '}
        <Link href={other} className="font-medium text-indigo-700 underline">
          {register ? 'Sign in' : 'Create an account'}
        </Link>
      </p>
    </div>
  )
}
