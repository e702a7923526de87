// Package examples embeds the example services, so `sluice demo` runs from
// any copy of the binary.
package examples

import "embed"

// FS holds every example service, each in its own directory (orders/…).
//
//go:embed orders
var FS embed.FS
