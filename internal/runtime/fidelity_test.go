package runtime

import (
	"os/exec"
	"strings"
	"testing"
)

func TestDifferencesNameTheVersionThatRuns(t *testing.T) {
	out, err := exec.Command("python3", "-c", "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Skip("no python3")
	}
	local := string(out)
	other := "3.99"
	for _, d := range Differences("python" + local) {
		if strings.Contains(d, "asks for Python") {
			t.Errorf("python%s runs python %s, yet: %s", local, local, d)
		}
	}
	found := false
	for _, d := range Differences("python" + other) {
		if strings.Contains(d, "asks for Python "+other+", but ") && strings.Contains(d, "is Python "+local) {
			found = true
		}
	}
	if !found {
		t.Errorf("Differences(python%s) = %q, want the mismatch with %s named", other, Differences("python"+other), local)
	}
	if d := Differences("provided.al2023"); len(d) != 0 {
		t.Errorf("provided runtimes have no interpreter to differ: %q", d)
	}
}
