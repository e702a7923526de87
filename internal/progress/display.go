package progress

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Mode is how progress is shown.
type Mode int

const (
	TTY   Mode = iota // progress bars redrawn in place, cut to the terminal's width
	Plain             // one line per change, for logs and pipes
	JSON              // one JSON object per line
	YAML              // one YAML document per record
)

// Display is how to show progress on one writer.
type Display struct {
	Mode  Mode
	Color bool
	// Width is the terminal's width in columns (TTY only); lines are cut
	// to it so that redrawing in place never leaves wrapped leftovers.
	Width func() int
}

// Env reads an environment variable (os.Getenv; tests pass their own).
type Env func(string) string

// Detect picks the display for w: --output (text, json or yaml; "" is
// text), --color (auto, always or never; "" is auto). Text is bars on a
// terminal and plain lines elsewhere, or on TERM=dumb. Colour in auto
// mode needs a terminal, no NO_COLOR and a TERM other than dumb; always
// wins over NO_COLOR, as no-color.org asks of explicit flags.
func Detect(output, color string, w io.Writer, env Env) (Display, error) {
	if env == nil {
		env = os.Getenv
	}
	fd, isTerm := terminal(w)
	dumb := env("TERM") == "dumb"
	var d Display
	switch output {
	case "json":
		d.Mode = JSON
	case "yaml":
		d.Mode = YAML
	case "", "text":
		d.Mode = Plain
		if isTerm && !dumb {
			d.Mode = TTY
			d.Width = func() int {
				if w, _, err := term.GetSize(fd); err == nil && w > 0 {
					return w
				}
				return 80
			}
		}
	default:
		return d, fmt.Errorf("--output %q: use text, json or yaml", output)
	}
	switch color {
	case "", "auto":
		_, noColor := lookup(env, "NO_COLOR")
		d.Color = isTerm && !dumb && !noColor && d.Mode <= Plain
	case "always":
		d.Color = d.Mode <= Plain
	case "never":
	default:
		return d, fmt.Errorf("--color %q: use auto, always or never", color)
	}
	return d, nil
}

// lookup tells a set variable from an unset one: NO_COLOR counts when
// set to anything but the empty string.
func lookup(env Env, name string) (string, bool) {
	v := env(name)
	return v, v != ""
}

// terminal reports whether w is a terminal, and its descriptor.
func terminal(w io.Writer) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// ModeFor picks how progress is shown: json or yaml when asked, bars on a
// terminal, plain lines otherwise.
func ModeFor(output string, w io.Writer) (Mode, error) {
	d, err := Detect(output, "never", w, nil)
	return d.Mode, err
}
