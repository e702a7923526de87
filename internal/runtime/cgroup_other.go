//go:build !linux

package runtime

// memCgroup is Linux-only; elsewhere memorySize is enforced for Node.js
// only (its heap limit).
type memCgroup struct{}

func newMemCgroup(int) *memCgroup      { return nil }
func (c *memCgroup) add(pid int) error { return nil }
func (c *memCgroup) remove()           {}
