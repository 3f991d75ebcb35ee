// The real TicketVelo for the browser tests: the binary built from this
// checkout (UI embedded), started as `ticketvelo all` in a world of its own:
// a fresh database, a Redis key prefix, a data dir and a free port. Nothing
// is mocked; the teardown drops what the run created.
import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const frontendDir = resolve(import.meta.dirname, '..')
export const repoDir = resolve(frontendDir, '..')

export interface Backend {
  baseURL: string
  bin: string
  env: Record<string, string>
  logFile: string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => ok(port))
    })
  })
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r()))
}

/** buildBinary builds the UI and then the binary that embeds it. */
export function buildBinary(outDir: string): string {
  if (!process.env.TV_E2E_SKIP_UI_BUILD) {
    execFileSync('npm', ['run', 'build'], { cwd: frontendDir, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  const bin = join(outDir, 'ticketvelo')
  // TV_E2E_REPO builds the backend from another tree (say, an export of the
  // committed main) while the UI comes from this one.
  const repo = process.env.TV_E2E_REPO ?? repoDir
  if (repo !== repoDir) {
    execFileSync('rm', ['-rf', join(repo, 'frontend', 'dist')])
    execFileSync('cp', ['-r', join(frontendDir, 'dist'), join(repo, 'frontend', 'dist')])
  }
  execFileSync('go', ['build', '-o', bin, './cmd/ticketvelo'], { cwd: repo, stdio: 'inherit' })
  return bin
}

/** startBackend runs `ticketvelo all` and waits until /readyz answers 200. */
export async function startBackend(): Promise<Backend> {
  const tmp = mkdtempSync(join(tmpdir(), 'tv-e2e-'))
  const bin = buildBinary(tmp)
  const id = randomBytes(4).toString('hex')
  const dbName = `tv_e2e_${id}`
  const prefix = `e2e${id}:`
  const port = await freePort()
  const env: Record<string, string> = {
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${dbName}?sslmode=disable`,
    REDIS_URL: 'redis://127.0.0.1:6379/0',
    TICKETVELO_REDIS_PREFIX: prefix,
    TICKETVELO_BROKER_ADDR: '127.0.0.1:0',
    TICKETVELO_ADDR: `127.0.0.1:${port}`,
    TICKETVELO_DATA_DIR: join(tmp, 'data'),
    TICKETVELO_LOG_FORMAT: 'json',
    TICKETVELO_SHUTDOWN_DELAY: '100ms',
    // tok_timeout's bank takes this long to not answer; 5 s by default.
    TICKETVELO_PAYMENT_TIMEOUT: '1s',
    // Every fan of the run registers from 127.0.0.1: the per-address limit
    // (30 a minute) is the Go tests' to check, not a ceiling for the suite.
    TICKETVELO_LIMIT_REGISTER_IP: 'off',
  }
  const logFile = join(tmp, 'ticketvelo.log')
  const log = openSync(logFile, 'a')
  const child = spawn(bin, ['all'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmp, ...env }, stdio: ['ignore', log, log] })
  const baseURL = `http://127.0.0.1:${port}`

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const killed = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited(child)
      clearTimeout(killed)
    }
    try {
      execFileSync('dropdb', ['-h', '127.0.0.1', '-U', 'postgres', '--if-exists', '--force', dbName], { stdio: 'ignore' })
    } catch (err) {
      console.warn(`e2e teardown: could not drop ${dbName}: ${err}`)
    }
    try {
      execSync(`redis-cli -h 127.0.0.1 -p 6379 --scan --pattern '${prefix}*' | xargs -r redis-cli -h 127.0.0.1 -p 6379 unlink`, { stdio: 'ignore', shell: '/bin/sh' })
    } catch (err) {
      console.warn(`e2e teardown: could not delete the ${prefix}* Redis keys: ${err}`)
    }
    if (!process.env.TV_E2E_KEEP) rmSync(tmp, { recursive: true, force: true })
  }

  const deadline = Date.now() + 90_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop()
      throw new Error(`ticketvelo all exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`)
    }
    try {
      const res = await fetch(`${baseURL}/readyz`)
      if (res.status === 200) break
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`ticketvelo all was not ready within 90 s:\n${tail(logFile)}`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  return { baseURL, bin, env, logFile, stop }
}
