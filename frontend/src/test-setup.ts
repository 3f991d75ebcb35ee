import { afterEach } from 'vitest'

// Unmount what a component test rendered, so tests do not see each other.
afterEach(async () => {
  if (typeof document !== 'undefined') {
    const { cleanup } = await import('@testing-library/react')
    cleanup()
  }
})
