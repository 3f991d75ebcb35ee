import type { FullConfig } from '@playwright/test'
import { startBackend } from './backend'

/**
 * globalSetup starts one real backend for the run and hands its address to
 * the tests through the environment (workers inherit it).
 */
export default async function globalSetup(_config: FullConfig) {
  const backend = await startBackend()
  process.env.TV_BASE_URL = backend.baseURL
  process.env.TV_BIN = backend.bin
  process.env.TV_ENV = JSON.stringify(backend.env)
  process.env.TV_LOG = backend.logFile
  return async () => {
    await backend.stop()
  }
}
