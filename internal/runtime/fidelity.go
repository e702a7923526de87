package runtime

import (
	"fmt"
	"os/exec"
	"strings"
)

// Differences says how the interpreter that would run runtimeID differs
// from what Lambda's runtime of that id provides: another language version
// (python3.12 asked for, python3 3.11 found), or for Python no boto3, which
// Lambda's Python runtimes include. Each line says what to install; none
// means no difference found. Runtimes sluice does not interpret (provided*)
// have none.
func Differences(runtimeID string) []string {
	fam, err := parseRuntime(runtimeID)
	if err != nil || fam == familyProvided {
		return nil
	}
	exe, err := findInterpreter(fam, runtimeID)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	switch fam {
	case familyNode:
		want := strings.TrimSuffix(strings.TrimPrefix(runtimeID, "nodejs"), ".x")
		got, err := exec.Command(exe, "-e", "process.stdout.write(process.versions.node.split('.')[0])").Output()
		if err == nil && want != "" && string(got) != want {
			out = append(out, fmt.Sprintf("runtime %s asks for Node.js %s, but %s is Node.js %s: install Node.js %s to run what Lambda runs", runtimeID, want, exe, got, want))
		}
	case familyPython:
		want := strings.TrimPrefix(runtimeID, "python")
		got, err := exec.Command(exe, "-c", "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])").Output()
		if err == nil && string(got) != want {
			out = append(out, fmt.Sprintf("runtime %s asks for Python %s, but %s is Python %s: install python%s to run what Lambda runs", runtimeID, want, exe, got, want))
		}
		if exec.Command(exe, "-c", "import boto3").Run() != nil {
			out = append(out, fmt.Sprintf("runtime %s: boto3, which Lambda's Python runtimes include, cannot be imported by %s: install it (`apt-get install python3-boto3`, or `%s -m pip install boto3`)", runtimeID, exe, exe))
		}
	}
	return out
}
