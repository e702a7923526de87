//go:build !linux

package runtime

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func signalGroup(pid int, sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }

// memStat is Linux-only (/proc); elsewhere memory use reads as 0.
type memStat struct{}

func openMemStat(pid int) *memStat { return nil }
func (m *memStat) peakMB() int     { return 0 }
func (m *memStat) close()          {}
