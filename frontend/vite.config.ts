import react from '@vitejs/plugin-react'
import tailwindcss from '@tailwindcss/vite'
import { defineConfig } from 'vite'

// The dev server proxies the API to a running `ticketvelo all`
// (TICKETVELO_URL, default http://127.0.0.1:8080), so `npm run dev` works
// against the real backend with hot reload.
const backend = process.env.TICKETVELO_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: {
      '/api': backend,
      '/.well-known': backend,
    },
  },
  build: {
    // dist/.keep lets a Go build without Node compile (embed.go embeds
    // all:dist); emptyOutDir would delete it, so the old assets are removed
    // by hand in the build script instead.
    emptyOutDir: false,
    target: 'es2022',
    sourcemap: false,
  },
})
