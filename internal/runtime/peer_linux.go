//go:build linux

package runtime

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// peerInGroup reports whether the process at the other end of conn, a
// connection accepted from the environment's Runtime API listener, belongs
// to the process group pgid: the environment's own process or a child of
// it. Anything else on the machine that found the endpoint is a stranger
// that must not take invocations (their events carry the caller's
// Authorization header) or forge results.
func peerInGroup(conn net.Conn, pgid int) bool {
	switch c := conn.(type) {
	case *net.UnixConn:
		pid, ok := unixPeerPID(c)
		return ok && inGroup(pid, pgid)
	case *net.TCPConn:
		inode, ok := tcpPeerInode(c)
		if !ok {
			return false
		}
		return groupHoldsSocket(pgid, inode)
	}
	return false
}

// unixPeerPID is the pid of the process that connected (SO_PEERCRED).
func unixPeerPID(c *net.UnixConn) (int, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return 0, false
	}
	return int(cred.Pid), true
}

func inGroup(pid, pgid int) bool {
	if pid <= 0 || pgid <= 0 {
		return false
	}
	g, err := syscall.Getpgid(pid)
	return err == nil && g == pgid
}

// tcpPeerInode finds the socket inode of the connecting side of a loopback
// IPv4 connection in /proc/net/tcp: the line whose local address is our
// peer and whose remote address is us.
func tcpPeerInode(c *net.TCPConn) (string, bool) {
	peer, ok1 := c.RemoteAddr().(*net.TCPAddr)
	us, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 || peer.IP.To4() == nil || us.IP.To4() == nil {
		return "", false
	}
	local, remote := procAddr(peer), procAddr(us)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := bytes.Fields(sc.Bytes())
		if len(fields) >= 10 && string(fields[1]) == local && string(fields[2]) == remote {
			return string(fields[9]), true
		}
	}
	return "", false
}

// procAddr formats an address as /proc/net/tcp does: the IPv4 address as
// the hex of its 32 bits in host order, then the port.
func procAddr(a *net.TCPAddr) string {
	return fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(a.IP.To4()), a.Port)
}

// groupHoldsSocket reports whether a process of group pgid has the socket
// inode open. The group leader is looked at first: a runtime client is
// usually the bootstrap process itself (aws-lambda-go); one that runs a
// helper per request (curl) is found among the group's other processes.
func groupHoldsSocket(pgid int, inode string) bool {
	target := "socket:[" + inode + "]"
	if holdsSocket(pgid, target) {
		return true
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == pgid || !inGroup(pid, pgid) {
			continue
		}
		if holdsSocket(pid, target) {
			return true
		}
	}
	return false
}

func holdsSocket(pid int, target string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(dir + "/" + fd.Name()); err == nil && l == target {
			return true
		}
	}
	return false
}
