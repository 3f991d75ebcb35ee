// Package frontend embeds the built web UI (Vite, React, TypeScript,
// Tailwind) so the binary serves it with no files beside it. A Go build
// without Node still works: dist then holds only a marker and the gateway
// explains how to build the UI.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Files is the built UI, rooted at dist.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time; it is always there
	}
	return sub
}
