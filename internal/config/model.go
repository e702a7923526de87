// Package config loads a Serverless Framework v3 service definition
// (serverless.yml, or the same service already loaded to JSON) into the model
// every other part of sluice works from.
//
// Loading happens in three steps: the file is parsed into a tree that keeps
// each value's line and column, the framework's ${…} variables are resolved
// on that tree, and the tree is decoded into the typed model below. Sections
// sluice only passes through to CloudFormation (resources, trigger
// configurations, alarm definitions) keep their plain JSON form.
package config

import "time"

const (
	DefaultStage      = "dev"
	DefaultRegion     = "us-east-1"
	DefaultRuntime    = "nodejs20.x"
	DefaultTimeout    = 6 * time.Second // the framework's default function timeout
	DefaultMemorySize = 1024            // MB, the framework's default
	// LocalAccountID stands in for the AWS account when running locally.
	LocalAccountID = "000000000000"
)

// Service is one loaded and resolved service definition.
type Service struct {
	Name   string // `service`
	File   string // the file it was loaded from
	Dir    string // the service directory: handlers and file() paths resolve against it
	Stage  string // resolved: --stage, else provider.stage, else dev
	Region string // resolved: --region, else provider.region, else us-east-1

	Provider  Provider
	Functions []*Function // in file order

	// DeploymentSettings is custom.deploymentSettings: defaults for every
	// function's deploymentSettings, plus the service-wide keys (stages,
	// codeDeployRole, codeDeployRolePermissionsBoundary). Nil when absent.
	DeploymentSettings *DeploymentSettings
	// Alerts is custom.alerts as written (serverless-plugin-aws-alerts
	// configuration), or nil.
	Alerts map[string]any
	// Resources is the `resources` section (Resources, Outputs, …) as written.
	Resources map[string]any
	// Raw is the whole resolved document as plain JSON values: what the
	// framework's `serverless.service` holds.
	Raw map[string]any

	pos map[string]Pos // key path → where it is written
}

// Provider is the `provider` section.
type Provider struct {
	Name                string // aws
	StackName           string // provider.stackName; empty: <service>-<stage>
	Runtime             string
	Environment         map[string]string
	Timeout             time.Duration
	MemorySize          int
	ReservedConcurrency *int
	VersionFunctions    bool // default true
	IAMRoleStatements   []any
	// HTTPAPICORS is provider.httpApi.cors: nil when absent or false.
	HTTPAPICORS *HTTPAPICORS
	// BinaryMediaTypes is provider.apiGateway.binaryMediaTypes: the REST
	// API's content types that reach functions base64-encoded.
	BinaryMediaTypes []string
}

// HTTPAPICORS is provider.httpApi.cors: `true` (every field unset) or a
// mapping. Unset fields take the framework's defaults.
type HTTPAPICORS struct {
	AllowedOrigins, AllowedHeaders, AllowedMethods, ExposedResponseHeaders []string // nil: the default
	AllowCredentials                                                       bool
	MaxAge                                                                 *int // seconds
}

// Function is one entry of `functions`.
type Function struct {
	Key     string // the key under `functions`, e.g. hello
	Name    string // the deployed name: `name`, else <service>-<stage>-<key>
	Handler string // file.export, relative to the service directory
	Image   string // container image functions: not run locally
	Runtime string // the function's, else the provider's, else DefaultRuntime
	// Environment is the provider's environment overlaid with the function's.
	Environment         map[string]string
	Timeout             time.Duration // the function's, else the provider's, else 6 s
	MemorySize          int           // MB: the function's, else the provider's, else 1024
	ReservedConcurrency *int          // nil: no reserved concurrency
	// MaximumRetryAttempts is how often Lambda retries a failed asynchronous
	// invocation (0–2); nil: Lambda's 2.
	MaximumRetryAttempts *int
	// MaximumEventAge is how long an asynchronous event may wait (60 s–6 h);
	// 0: Lambda's 6 hours.
	MaximumEventAge time.Duration
	Events          []Event
	// DeploymentSettings is custom.deploymentSettings overlaid with the
	// function's own deploymentSettings, as the canary plugin merges them;
	// nil when the function has none of its own (it is then deployed at once).
	DeploymentSettings *DeploymentSettings
	// Alarms is the function's aws-alerts `alarms` list as written: names of
	// definitions, or objects.
	Alarms []any
	// Raw is the function's resolved definition as plain JSON values.
	Raw map[string]any
}

// LogicalID is the framework's CloudFormation logical ID prefix for the
// function: hello → HelloLambdaFunction's "Hello" part, with - and _
// spelled Dash and Underscore.
func (f *Function) LogicalID() string { return NormalizeName(f.Key) }

// DeploymentSettings configures a gradual deployment (serverless-plugin-canary-deployments).
type DeploymentSettings struct {
	Type            string     // e.g. Linear10PercentEvery1Minute, Canary25Percent45Minutes
	Alias           string     // the alias traffic shifts on, e.g. Live
	PreTrafficHook  string     // function key of the BeforeAllowTraffic hook
	PostTrafficHook string     // function key of the AfterAllowTraffic hook
	Alarms          []AlarmRef // alarms that stop the deployment
	// CanaryAlarms are alarms on the new version alone (Lambda's
	// ExecutedVersion metrics), as written: names of aws-alerts definitions
	// (or errorRate), or objects merged over the definition of that name.
	CanaryAlarms []any
	// Stages limits gradual deployments to these stages (service-wide only).
	Stages []string
	// TriggerConfigurations are CodeDeploy TriggerConfigurations, as written.
	TriggerConfigurations []any
	// CodeDeployRole is an existing role ARN (or intrinsic) to use instead
	// of creating CodeDeployServiceRole.
	CodeDeployRole                    any
	CodeDeployRolePermissionsBoundary any
	// Raw is the merged settings as plain JSON values, for pass-through.
	Raw map[string]any
}

// AlarmRef names an alarm in deploymentSettings.alarms: either a logical ID
// of an alarm resource in the template (a string entry) or an object with a
// `name` (the alarm's name, or an intrinsic that yields it).
type AlarmRef struct {
	LogicalID string // set for string entries
	Name      any    // set for object entries
}

// Event is one entry of a function's `events`.
type Event struct {
	Type     string // the key: http, httpApi, schedule, sns, sqs, s3, stream, …
	HTTP     *HTTPEvent
	HTTPAPI  *HTTPAPIEvent
	Schedule *ScheduleEvent
	Raw      any // the event's value as written
	Pos      Pos
}

// HTTPEvent is an `http` event: an API Gateway REST API (v1 payload) route.
type HTTPEvent struct {
	Method string // upper case; ANY for every method
	Path   string // without leading slash, e.g. orders/{id} or {proxy+}
	CORS   bool
}

// HTTPAPIEvent is an `httpApi` event: an API Gateway HTTP API (v2 payload) route.
type HTTPAPIEvent struct {
	Method string // upper case; * for every method
	Path   string // with leading slash, e.g. /orders/{id}; * for the catch-all route
}

// ScheduleEvent is a `schedule` event.
type ScheduleEvent struct {
	Expressions []string // rate(…) or cron(…)
	Enabled     bool
	Input       any // the event payload, when given; nil means the scheduled-event payload
	Name        string
}

// Options are the command-line inputs to loading.
type Options struct {
	Stage  string // --stage; empty: provider.stage, else dev
	Region string // --region; empty: provider.region, else us-east-1
	// Params are the ${param:…} values given with --param key=value; they
	// win over the definition's params.<stage> and params.default.
	Params map[string]string
	// Vars give local values to variables only AWS can resolve, keyed by
	// the reference inside ${…} (ssm:/orders/secret), as --var does; they
	// win over sluice.local.yml.
	Vars map[string]string
	// Getenv reads the environment for ${env:…}; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Local says the service will run on this machine. Function environment
	// values only the framework can resolve (${ssm:…}, ${cf:…}, …) are then
	// errors; otherwise (packaging for AWS) they are warnings and kept as written.
	Local bool
}

// StackName is the CloudFormation stack name: provider.stackName, else
// <service>-<stage>.
func (s *Service) StackName() string {
	if s.Provider.StackName != "" {
		return s.Provider.StackName
	}
	return s.Name + "-" + s.Stage
}

// Function returns the function with key k, or nil.
func (s *Service) Function(k string) *Function {
	for _, f := range s.Functions {
		if f.Key == k {
			return f
		}
	}
	return nil
}

// Pos returns where the key at path is written, or failing that, its
// nearest written ancestor. Paths are dotted, list items by index:
// functions.hello.events.0.http.
func (s *Service) Pos(path string) Pos {
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		i := lastDot(path)
		if i < 0 {
			return Pos{File: s.File}
		}
		path = path[:i]
	}
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// Diag makes a diagnostic about the key at path.
func (s *Service) Diag(sev Severity, path, msg, hint string) *Diagnostic {
	return &Diagnostic{Severity: sev, Pos: s.Pos(path), Path: path, Msg: msg, Hint: hint}
}

// NormalizeName is the framework's normalizeName for logical IDs: the first
// letter upper-cased, - spelled Dash and _ spelled Underscore.
func NormalizeName(name string) string {
	var b []byte
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '-':
			b = append(b, "Dash"...)
		case '_':
			b = append(b, "Underscore"...)
		default:
			b = append(b, c)
		}
	}
	if len(b) > 0 && b[0] >= 'a' && b[0] <= 'z' {
		b[0] -= 'a' - 'A'
	}
	return string(b)
}

// Written reports whether the key at path is written in the file (rather
// than merged in from elsewhere, e.g. custom.deploymentSettings).
func (s *Service) Written(path string) bool {
	_, ok := s.pos[path]
	return ok
}

// SettingPath is the path where function f's effective deploymentSettings
// key is written: the function's own settings, else custom.deploymentSettings.
func (s *Service) SettingPath(f *Function, key string) string {
	own := "functions." + f.Key + ".deploymentSettings"
	switch {
	case s.Written(own + "." + key):
		return own + "." + key
	case s.Written("custom.deploymentSettings." + key):
		return "custom.deploymentSettings." + key
	}
	return own
}
