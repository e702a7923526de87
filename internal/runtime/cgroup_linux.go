//go:build linux

package runtime

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// memCgroup is a memory cgroup holding one environment's processes, its
// limit the function's memorySize: past it the kernel kills the process,
// as Lambda does. It is made where sluice may create cgroups (cgroup v1's
// memory controller, or v2 with the memory controller enabled for the
// engine's cgroup's children); elsewhere memorySize is enforced for
// Node.js only (its heap limit).
type memCgroup struct{ dir string }

var (
	cgroupSeq  atomic.Int64
	cgroupOnce sync.Once
	cgroupBase string // "" when sluice may not create memory cgroups
	cgroupV2   bool
)

// newMemCgroup creates a cgroup limited to limitMB, or returns nil when the
// machine does not let sluice.
func newMemCgroup(limitMB int) *memCgroup {
	cgroupOnce.Do(func() {
		cgroupBase, cgroupV2 = ownMemoryCgroup()
		removeStaleCgroups(cgroupBase)
	})
	base, v2 := cgroupBase, cgroupV2
	if base == "" {
		return nil
	}
	dir := filepath.Join(base, "sluice-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(cgroupSeq.Add(1), 10))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil
	}
	limit := strconv.FormatInt(int64(limitMB)<<20, 10)
	var err error
	if v2 {
		err = os.WriteFile(filepath.Join(dir, "memory.max"), []byte(limit), 0)
		_ = os.WriteFile(filepath.Join(dir, "memory.swap.max"), []byte("0"), 0)
	} else {
		err = os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(limit), 0)
		_ = os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(limit), 0) // without swap accounting: absent
	}
	if err != nil {
		os.Remove(dir)
		return nil
	}
	return &memCgroup{dir: dir}
}

// add moves pid (and so the children it starts) into the cgroup.
func (c *memCgroup) add(pid int) error {
	if c == nil {
		return nil
	}
	return os.WriteFile(filepath.Join(c.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// remove deletes the cgroup once its processes are gone.
func (c *memCgroup) remove() {
	if c != nil {
		os.Remove(c.dir)
	}
}

// ownMemoryCgroup finds the directory of this process's memory cgroup, if
// this process may create cgroups under it.
func ownMemoryCgroup() (dir string, v2 bool) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	defer f.Close()
	var unified string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				d := filepath.Join("/sys/fs/cgroup/memory", parts[2])
				if writableDir(d) {
					return d, false
				}
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
	}
	if unified != "" {
		d := filepath.Join("/sys/fs/cgroup", unified)
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.subtree_control")); err == nil && strings.Contains(string(b), "memory") && writableDir(d) {
			return d, true
		}
	}
	return "", false
}

// removeStaleCgroups removes the empty cgroups of sluice processes that
// have exited (a killed engine cannot remove its own).
func removeStaleCgroups(base string) {
	if base == "" {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(base, "sluice-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(d), "-")[1])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		os.Remove(d) // fails, harmlessly, while a process is still in it
	}
}

func writableDir(d string) bool {
	probe := filepath.Join(d, "sluice-probe-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return errors.Is(err, os.ErrExist)
	}
	os.Remove(probe)
	return true
}
