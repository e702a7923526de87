//go:build linux

package runtime

import (
	"os"
	"syscall"
)

// sysProcAttr puts the function in its own process group, so stopping an
// environment also stops whatever the function spawned, and asks the kernel
// to kill it if sluice dies first, so no function outlives the engine.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig) // ESRCH: the group is already gone
}

// memStat reads the peak resident memory (VmHWM) of one process from
// /proc/<pid>/status. The file stays open and is re-read with pread, which
// makes the kernel regenerate it: one syscall per invocation.
type memStat struct {
	f   *os.File
	buf [2048]byte
}

func openMemStat(pid int) *memStat {
	f, err := os.Open("/proc/" + itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	return &memStat{f: f}
}

// peakMB is the process's peak resident set in MB, rounded up; 0 if unknown.
func (m *memStat) peakMB() int {
	if m == nil {
		return 0
	}
	n, _ := m.f.ReadAt(m.buf[:], 0)
	kb := parseVmHWM(m.buf[:n])
	return (kb + 1023) / 1024
}

func (m *memStat) close() {
	if m != nil {
		m.f.Close()
	}
}
