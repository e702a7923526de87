package runtime

import (
	"bytes"
	"strconv"
)

// parseVmHWM finds "VmHWM:   12345 kB" in a /proc/<pid>/status text and
// returns the number of kB (0 if absent).
func parseVmHWM(status []byte) int {
	i := bytes.Index(status, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	kb := 0
	for _, c := range status[i+len("VmHWM:"):] {
		switch {
		case c == ' ' || c == '\t':
			if kb > 0 {
				return kb
			}
		case c >= '0' && c <= '9':
			kb = kb*10 + int(c-'0')
		default:
			return kb
		}
	}
	return kb
}

func itoa(i int) string { return strconv.Itoa(i) }
