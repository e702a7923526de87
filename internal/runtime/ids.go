package runtime

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"time"
)

// Request and trace ids only need to be unique, not unguessable, so they
// come from math/rand/v2's per-thread generator: no lock, no syscall.

// NewRequestID returns a random UUID (version 4), the shape of Lambda's
// request ids (and of API Gateway's). It is the one generator sluice uses.
func NewRequestID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// newTraceID returns an X-Ray trace header the way Lambda passes one to an
// unsampled invocation: Root=1-<epoch seconds hex>-<96 random bits>;Parent=…;Sampled=0.
func newTraceID(now time.Time) string {
	var b [96]byte
	out := append(b[:0], "Root=1-"...)
	out = appendHex(out, uint64(now.Unix()), 8)
	out = append(out, '-')
	out = appendHex(out, rand.Uint64()>>32, 8)
	out = appendHex(out, rand.Uint64(), 16)
	out = append(out, ";Parent="...)
	out = appendHex(out, rand.Uint64(), 16)
	out = append(out, ";Sampled=0"...)
	return string(out)
}

func appendHex(b []byte, v uint64, width int) []byte {
	var tmp [16]byte
	s := strconv.AppendUint(tmp[:0], v, 16)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
