//go:build !linux

package main

import "syscall"

// childProcAttr keeps a benchmark's child processes out of the terminal's
// process group, so Ctrl-C reaches the benchmark alone and it stops them in
// order.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
