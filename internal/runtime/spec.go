package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/logs"
)

// Spec describes one function version to run.
type Spec struct {
	// Function is the function's name, e.g. "orders-dev-create".
	Function string
	// Version is "1", "2", … or "$LATEST".
	Version string
	// Runtime is the Lambda runtime id: nodejs18.x, nodejs20.x, … (any
	// nodejs*), python3.* , provided.al2, provided.al2023 or provided.
	Runtime string
	// Handler is "file.export" for Node.js ("src/handlers/orders.create"),
	// "module.function" for Python ("pkg/mod.func" or "pkg.mod.func"), and
	// free-form (only passed on as _HANDLER) for provided runtimes.
	Handler string
	// CodeDir is the absolute directory holding the function's code; it is
	// the working directory and LAMBDA_TASK_ROOT. Handler paths may not
	// leave it.
	CodeDir string
	// MemoryMB is the configured memory (128–10240; 0 means Lambda's
	// default of 128). It is reported, not enforced.
	MemoryMB int
	// Timeout is the function timeout (1s–900s; 0 means Lambda's default of 3s).
	Timeout time.Duration
	// Region is the AWS region the function pretends to run in (default us-east-1).
	Region string
	// Account is the 12-digit account id used in ARNs (default 000000000000).
	Account string
	// Environment is added to the standard Lambda variables: the function's
	// configured environment plus whatever the caller adds (credentials,
	// AWS_ENDPOINT_URL, …). Variables the runtime itself owns (see
	// ReservedEnv) are rejected.
	Environment map[string]string
	// LogGroup is the log group (default /aws/lambda/<Function>).
	LogGroup string
}

// Defaults Lambda applies when a function does not say.
const (
	DefaultMemoryMB = 128
	DefaultTimeout  = 3 * time.Second
	DefaultRegion   = "us-east-1"
	DefaultAccount  = "000000000000"
	MaxTimeout      = 900 * time.Second
)

// ReservedEnv lists the variables the runtime sets itself for every
// execution environment; Spec.Environment may not set them.
var ReservedEnv = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_LAMBDA_RUNTIME_API", "AWS_REGION", "LAMBDA_RUNTIME_DIR", "LAMBDA_TASK_ROOT",
}

// family is what a runtime id is run with.
type family int

const (
	familyNode     family = iota // nodejs*: sluice's JavaScript bootstrap under node
	familyPython                 // python3.*: sluice's Python bootstrap under python3
	familyProvided               // provided*: the function's own ./bootstrap executable
)

func parseRuntime(id string) (family, error) {
	switch {
	case strings.HasPrefix(id, "nodejs"):
		return familyNode, nil
	case strings.HasPrefix(id, "python3."):
		return familyPython, nil
	case id == "provided" || id == "provided.al2" || id == "provided.al2023":
		return familyProvided, nil
	}
	return 0, fmt.Errorf("unsupported runtime %q: use nodejs18.x/nodejs20.x/nodejs22.x, python3.x or provided.al2023", id)
}

var (
	functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	versionRE      = regexp.MustCompile(`^(\$LATEST|[1-9][0-9]*)$`)
	envKeyRE       = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	accountRE      = regexp.MustCompile(`^[0-9]{12}$`)
)

// normalize checks s and fills in defaults. Errors name the field and say
// how to fix it.
func (s Spec) normalize() (Spec, family, error) {
	fail := func(format string, args ...any) (Spec, family, error) {
		return s, 0, fmt.Errorf("function %s version %s: %s", s.Function, s.Version, fmt.Sprintf(format, args...))
	}
	if !functionNameRE.MatchString(s.Function) {
		return fail("function name %q must be 1-64 letters, digits, '-' or '_'", s.Function)
	}
	if !versionRE.MatchString(s.Version) {
		return fail("version %q must be $LATEST or a positive number", s.Version)
	}
	fam, err := parseRuntime(s.Runtime)
	if err != nil {
		return fail("%v", err)
	}
	if s.MemoryMB == 0 {
		s.MemoryMB = DefaultMemoryMB
	}
	if s.MemoryMB < 128 || s.MemoryMB > 10240 {
		return fail("memorySize %d MB is outside Lambda's 128-10240 MB", s.MemoryMB)
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Timeout < time.Millisecond || s.Timeout > MaxTimeout {
		return fail("timeout %v is outside Lambda's 1-900 seconds", s.Timeout)
	}
	if s.Region == "" {
		s.Region = DefaultRegion
	}
	if s.Account == "" {
		s.Account = DefaultAccount
	}
	if !accountRE.MatchString(s.Account) {
		return fail("account %q must be 12 digits", s.Account)
	}
	if s.LogGroup == "" {
		s.LogGroup = logs.GroupName(s.Function)
	}
	for k := range s.Environment {
		if !envKeyRE.MatchString(k) {
			return fail("environment variable name %q must start with a letter and contain only letters, digits and '_'", k)
		}
		for _, r := range ReservedEnv {
			if k == r {
				return fail("environment variable %s is reserved: the runtime sets it; remove it from the function's environment", k)
			}
		}
	}
	if !filepath.IsAbs(s.CodeDir) {
		return fail("code directory %q must be an absolute path", s.CodeDir)
	}
	info, err := os.Stat(s.CodeDir)
	if err != nil {
		return fail("code directory: %v", err)
	}
	if !info.IsDir() {
		return fail("code directory %s is not a directory", s.CodeDir)
	}
	if err := checkHandlerPath(fam, s.CodeDir, s.Handler); err != nil {
		return fail("%v", err)
	}
	return s, fam, nil
}

// checkHandlerPath rejects handlers that would load code from outside the
// code directory, by "../" or by a symlink. Files that do not exist are left
// for the runtime to report the way Lambda does (Runtime.ImportModuleError).
func checkHandlerPath(fam family, codeDir, handler string) error {
	if fam != familyProvided {
		if handler == "" {
			return errors.New("handler is empty: set it to file.function, e.g. src/handler.main")
		}
		if strings.HasPrefix(handler, "/") || strings.Contains(handler, "..") {
			return fmt.Errorf("handler %q leaves the code directory: handlers are paths relative to %s without '..'", handler, codeDir)
		}
	}
	candidates := handlerFiles(fam, handler)
	root, err := filepath.EvalSymlinks(codeDir)
	if err != nil {
		return fmt.Errorf("code directory: %w", err)
	}
	for _, c := range candidates {
		p := filepath.Join(codeDir, filepath.FromSlash(c))
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue // missing: the runtime reports it at init
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			return fmt.Errorf("handler file %s resolves to %s, outside the code directory %s: replace the symlink with the file itself", c, real, root)
		}
	}
	return nil
}

// ARN is the function ARN qualified with the version ($LATEST invocations
// carry the unqualified ARN, as Lambda's do).
func (s Spec) ARN() string {
	arn := "arn:aws:lambda:" + s.Region + ":" + s.Account + ":function:" + s.Function
	if s.Version != "$LATEST" {
		arn += ":" + s.Version
	}
	return arn
}

// lambdaPath is the PATH Lambda gives functions.
const lambdaPath = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"

// environ builds the variables shared by every environment of the spec, sorted.
// interpreterDir is prepended to PATH (Lambda keeps its interpreter in /var/lang/bin).
func (s Spec) environ(runtimeDir, interpreterDir string) []string {
	path := lambdaPath
	if interpreterDir != "" {
		path = interpreterDir + ":" + path
	}
	vars := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        s.Function,
		"AWS_LAMBDA_FUNCTION_VERSION":     s.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fmt.Sprint(s.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       s.LogGroup,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      s.Region,
		"AWS_DEFAULT_REGION":              s.Region,
		"_HANDLER":                        s.Handler,
		"LAMBDA_TASK_ROOT":                s.CodeDir,
		"LAMBDA_RUNTIME_DIR":              runtimeDir,
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            path,
		"LD_LIBRARY_PATH":                 "/lib64:/usr/lib64:" + runtimeDir + ":" + runtimeDir + "/lib:" + s.CodeDir + ":" + s.CodeDir + "/lib:/opt/lib",
	}
	if !strings.HasPrefix(s.Runtime, "provided") {
		vars["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + s.Runtime
	}
	if strings.HasPrefix(s.Runtime, "nodejs") {
		vars["NODE_PATH"] = "/opt/nodejs/node_modules:" + runtimeDir + "/node_modules:" + runtimeDir + ":" + s.CodeDir
	}
	if strings.HasPrefix(s.Runtime, "python") {
		// Lambda's /var/task is read-only, so Python never writes bytecode
		// beside the code; here the code directory is a version's snapshot,
		// which must not change either, so the cache goes elsewhere.
		vars["PYTHONPYCACHEPREFIX"] = filepath.Join(os.TempDir(), "sluice-pycache")
	}
	for k, v := range s.Environment {
		vars[k] = v
	}
	env := make([]string, 0, len(vars)+2)
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}
