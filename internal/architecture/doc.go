// Package architecture has no code: its test enforces the import rules
// docs/ARCHITECTURE.md draws (which part of the repository may import
// which), so the boundaries hold without a reviewer watching for them.
package architecture
