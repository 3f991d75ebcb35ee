import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// Unit tests only; the browser tests against the real backend are e2e/
// (Playwright). Files that need a DOM say `@vitest-environment jsdom`.
export default defineConfig({
  plugins: [react()],
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
    setupFiles: ['src/test-setup.ts'],
    restoreMocks: true,
  },
})
