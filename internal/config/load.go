package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Load reads, resolves and decodes the service definition at path. The
// returned diagnostics hold every problem found (errors and warnings, in
// file order); err is non-nil when the service cannot be used, and is then
// the Diagnostics' errors.
//
// path may also be a directory (or empty: the current one), where Find
// picks serverless.yml, serverless.yaml or serverless.json.
func Load(path string, opts Options) (*Service, Diagnostics, error) {
	path, err := Find(path)
	if err != nil {
		return nil, nil, err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read service definition: %w (pass --config with the path of serverless.yml)", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	return LoadBytes(path, filepath.Dir(abs), src, opts)
}

// LoadBytes is Load on a definition already in memory; file names it in
// diagnostics and dir is the service directory.
func LoadBytes(file, dir string, src []byte, opts Options) (*Service, Diagnostics, error) {
	root, err := parseDocument(file, src)
	if err != nil {
		ds := Diagnostics{asDiagnostic(err, file)}
		return nil, ds, ds
	}
	if root.kind != kindMap {
		d := &Diagnostic{Pos: root.pos, Msg: "the service definition must be a mapping (service:, provider:, functions: …), not " + root.kind.String()}
		return nil, Diagnostics{d}, Diagnostics{d}
	}
	r := &resolver{root: root, opts: opts, dir: dir, files: map[string]*node{}, active: map[*node]bool{}, done: map[*node]bool{}}
	if r.locals, err = loadLocalValues(dir, opts.Vars); err != nil {
		ds := Diagnostics{asDiagnostic(err, file)}
		return nil, ds, ds
	}
	if err := r.useDotenv(); err != nil {
		ds := Diagnostics{asDiagnostic(err, file)}
		return nil, ds, ds
	}
	if err := r.resolveAll(); err != nil {
		ds := Diagnostics{asDiagnostic(err, file)}
		return nil, ds, ds
	}
	d := &decoder{svc: &Service{File: file, Dir: dir, pos: map[string]Pos{}}, local: opts.Local}
	d.index(root, "")
	d.service(root, opts)
	d.diags.Sort()
	if err := d.diags.Err(); err != nil {
		return nil, d.diags, err
	}
	return d.svc, d.diags, nil
}

func asDiagnostic(err error, file string) *Diagnostic {
	if d, ok := err.(*Diagnostic); ok {
		return d
	}
	return &Diagnostic{Pos: Pos{File: file}, Msg: err.Error()}
}

func (o Options) option(name string) (string, bool) {
	switch name {
	case "stage":
		return o.Stage, o.Stage != ""
	case "region":
		return o.Region, o.Region != ""
	}
	return "", false
}

// useDotenv loads .env files when the definition says `useDotenv: true`,
// as the framework does before resolving anything but useDotenv and
// provider.stage: .env.<stage>, else .env, from the service directory;
// the environment wins over the files.
func (r *resolver) useDotenv() error {
	n := r.root.get("useDotenv")
	if n == nil {
		return nil
	}
	r.missingEnv = map[string]bool{}
	defer func() { r.missingEnv = nil }()
	if err := r.resolve(n); err != nil {
		return err
	}
	if n.unresolved != nil {
		u := *n.unresolved
		u.Path = "useDotenv"
		return &u
	}
	switch {
	case n.kind == kindNull, n.kind == kindBool && !n.b:
		return nil
	case n.kind == kindBool:
	default:
		return &Diagnostic{Pos: n.pos, Path: "useDotenv", Msg: fmt.Sprintf("must be true or false, not %s", n.kind), Hint: "write useDotenv: true to load .env files"}
	}
	stage, err := r.resolvedStage(n.pos)
	if err != nil {
		return err
	}
	vals, file, err := loadDotenv(r.dir, stage, r.opts.env)
	if err != nil {
		return &Diagnostic{Pos: Pos{File: file}, Path: "useDotenv", Msg: err.Error(), Hint: "fix the file: KEY=value lines, # comments"}
	}
	for _, name := range SortedKeys(r.missingEnv) {
		if _, ok := vals[name]; ok {
			return &Diagnostic{Pos: n.pos, Path: "useDotenv", Msg: fmt.Sprintf("%s sets %s, which useDotenv or provider.stage needs before .env files are read", filepath.Base(file), name),
				Hint: "export " + name + " in the environment, or give provider.stage a value that does not depend on it"}
		}
	}
	if len(vals) == 0 {
		return nil
	}
	base := r.opts
	r.opts.Getenv = func(name string) (string, bool) {
		if v, ok := vals[name]; ok {
			return v, true
		}
		return base.env(name)
	}
	return nil
}

func (o Options) env(name string) (string, bool) {
	if o.Getenv != nil {
		return o.Getenv(name)
	}
	return os.LookupEnv(name)
}

// decoder turns the resolved tree into the typed model, collecting every
// problem rather than stopping at the first.
type decoder struct {
	svc   *Service
	diags Diagnostics
	local bool
}

func (d *decoder) index(n *node, path string) {
	d.svc.pos[path] = n.pos
	for i, k := range n.keys {
		d.index(n.vals[i], join(path, k))
	}
	for i, v := range n.items {
		d.index(v, join(path, strconv.Itoa(i)))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) errorf(n *node, path, hint, format string, args ...any) {
	var pos Pos
	if n != nil {
		pos = n.pos
	} else {
		pos = d.svc.Pos(path)
	}
	d.diags = append(d.diags, &Diagnostic{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

func (d *decoder) warnf(n *node, path, hint, format string, args ...any) {
	d.errorf(n, path, hint, format, args...)
	d.diags[len(d.diags)-1].Severity = SeverityWarning
}

// usable reports whether n can be decoded: present and fully resolved.
func (d *decoder) usable(n *node, path string) bool {
	if n == nil || n.kind == kindNull {
		return false
	}
	if n.unresolved != nil {
		u := *n.unresolved
		u.Path = path
		d.diags = append(d.diags, &u)
		return false
	}
	return true
}

func (d *decoder) str(n *node, path string) string {
	if !d.usable(n, path) {
		return ""
	}
	if s, ok := n.scalarText(); ok && n.kind != kindNull {
		return s
	}
	d.errorf(n, path, "", "must be a string, not %s", n.kind)
	return ""
}

func (d *decoder) boolean(n *node, path string, def bool) bool {
	if !d.usable(n, path) {
		return def
	}
	switch {
	case n.kind == kindBool:
		return n.b
	case n.kind == kindString && (n.str == "true" || n.str == "false"):
		return n.str == "true"
	}
	d.errorf(n, path, "write true or false", "must be a boolean, not %s", n.kind)
	return def
}

func (d *decoder) integer(n *node, path string, min, max int) (int, bool) {
	if !d.usable(n, path) {
		return 0, false
	}
	f := n.num
	if n.kind == kindString {
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(n.str), 64); err != nil {
			d.errorf(n, path, "", "must be a whole number, not %q", n.str)
			return 0, false
		}
	} else if n.kind != kindNumber {
		d.errorf(n, path, "", "must be a whole number, not %s", n.kind)
		return 0, false
	}
	if f != math.Trunc(f) || f < float64(min) || f > float64(max) {
		d.errorf(n, path, fmt.Sprintf("use a whole number from %d to %d", min, max), "%s is out of range", formatNumber(f))
		return 0, false
	}
	return int(f), true
}

func (d *decoder) stringMap(n *node, path string) map[string]string {
	if !d.usable(n, path) {
		return nil
	}
	if n.kind != kindMap {
		d.errorf(n, path, "write KEY: value pairs", "must be a mapping, not %s", n.kind)
		return nil
	}
	m := make(map[string]string, len(n.keys))
	for i, k := range n.keys {
		v := n.vals[i]
		if v.unresolved != nil && !d.local {
			u := *v.unresolved
			u.Path, u.Severity = join(path, k), SeverityWarning
			u.Msg += "; kept as written, which matters only when the function runs locally"
			d.diags = append(d.diags, &u)
			m[k] = v.str
			continue
		}
		if v.kind == kindNull {
			m[k] = ""
			continue
		}
		if v.kind == kindMap || v.kind == kindList {
			// CloudFormation intrinsics (Ref, Fn::GetAtt, …) have no value
			// until deployed; locally the variable is left unset.
			if isIntrinsic(v) {
				d.warnf(v, join(path, k), "give it a plain value (or a ${…, 'local'} fallback) to use it locally", "is a CloudFormation intrinsic, which sluice cannot resolve locally; the variable is left empty")
				m[k] = ""
				continue
			}
		}
		m[k] = d.str(v, join(path, k))
	}
	return m
}

func isIntrinsic(n *node) bool {
	if n.kind != kindMap || len(n.keys) != 1 {
		return false
	}
	k := n.keys[0]
	return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
}

func (d *decoder) stringList(n *node, path string) []string {
	if !d.usable(n, path) {
		return nil
	}
	if n.kind != kindList {
		if s, ok := n.scalarText(); ok {
			return []string{s}
		}
		d.errorf(n, path, "", "must be a list, not %s", n.kind)
		return nil
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
		out = append(out, d.str(it, join(path, strconv.Itoa(i))))
	}
	return out
}

func (d *decoder) mapping(n *node, path string) bool {
	if !d.usable(n, path) {
		return false
	}
	if n.kind != kindMap {
		d.errorf(n, path, "", "must be a mapping, not %s", n.kind)
		return false
	}
	return true
}

func (d *decoder) raw(n *node) map[string]any {
	if n == nil || n.kind != kindMap {
		return nil
	}
	return n.toAny().(map[string]any)
}

func (d *decoder) service(root *node, opts Options) {
	s := d.svc
	s.Raw = d.raw(root)
	svcNode := root.get("service")
	if svcNode != nil && svcNode.kind == kindMap {
		// Framework v1 style: service: {name: …}
		svcNode = svcNode.get("name")
	}
	s.Name = d.str(svcNode, "service")
	if svcNode == nil {
		d.errorf(root, "service", "add `service: my-service` at the top", "the service has no name")
	}
	prov := root.get("provider")
	if prov != nil && !d.mapping(prov, "provider") {
		prov = nil
	}
	s.Stage = opts.Stage
	if s.Stage == "" {
		s.Stage = d.str(prov.get("stage"), "provider.stage")
	}
	if s.Stage == "" {
		s.Stage = DefaultStage
	}
	s.Region = opts.Region
	if s.Region == "" {
		s.Region = d.str(prov.get("region"), "provider.region")
	}
	if s.Region == "" {
		s.Region = DefaultRegion
	}
	d.provider(prov)

	custom := root.get("custom")
	if custom != nil && d.mapping(custom, "custom") {
		if ds := custom.get("deploymentSettings"); ds != nil && d.mapping(ds, "custom.deploymentSettings") {
			s.DeploymentSettings = d.deploymentSettings(ds, nil, "custom.deploymentSettings")
		}
		if a := custom.get("alerts"); a != nil && d.mapping(a, "custom.alerts") {
			s.Alerts = d.raw(a)
		}
	}
	if res := root.get("resources"); res != nil {
		if res.kind == kindList {
			// The framework also accepts a list of resource fragments, merged in order.
			merged := map[string]any{}
			for _, it := range res.items {
				if it.kind == kindMap {
					mergeSections(merged, d.raw(it))
				}
			}
			s.Resources = merged
		} else if d.mapping(res, "resources") {
			s.Resources = d.raw(res)
		}
	}

	fns := root.get("functions")
	if fns == nil {
		return
	}
	if fns.kind == kindList {
		// The framework accepts a list of mappings of functions, too.
		flat := &node{kind: kindMap, pos: fns.pos}
		for _, it := range fns.items {
			for i, k := range it.keys {
				flat.set(k, it.vals[i])
			}
		}
		fns = flat
	}
	if !d.mapping(fns, "functions") {
		return
	}
	for i, key := range fns.keys {
		if f := d.function(key, fns.vals[i]); f != nil {
			s.Functions = append(s.Functions, f)
		}
	}
}

func mergeSections(dst, src map[string]any) {
	for k, v := range src {
		if dm, ok := dst[k].(map[string]any); ok {
			if sm, ok := v.(map[string]any); ok {
				for kk, vv := range sm {
					dm[kk] = vv
				}
				continue
			}
		}
		dst[k] = v
	}
}

func (d *decoder) provider(n *node) {
	p := &d.svc.Provider
	p.Name = "aws"
	p.Timeout = DefaultTimeout
	p.MemorySize = DefaultMemorySize
	p.Runtime = DefaultRuntime
	p.VersionFunctions = true
	if n == nil {
		return
	}
	if v := n.get("name"); v != nil {
		p.Name = d.str(v, "provider.name")
		if p.Name != "aws" && p.Name != "" {
			d.errorf(v, "provider.name", "set provider.name: aws", "provider %q is not supported; sluice deploys to AWS Lambda", p.Name)
		}
	}
	if v := n.get("runtime"); v != nil {
		p.Runtime = d.str(v, "provider.runtime")
	}
	if v := n.get("stackName"); v != nil {
		p.StackName = d.str(v, "provider.stackName")
	}
	if v := n.get("environment"); v != nil {
		p.Environment = d.stringMap(v, "provider.environment")
	}
	if v := n.get("timeout"); v != nil {
		if t, ok := d.integer(v, "provider.timeout", 1, 900); ok {
			p.Timeout = time.Duration(t) * time.Second
		}
	}
	if v := n.get("memorySize"); v != nil {
		if m, ok := d.integer(v, "provider.memorySize", 128, 10240); ok {
			p.MemorySize = m
		}
	}
	if v := n.get("reservedConcurrency"); v != nil {
		if c, ok := d.integer(v, "provider.reservedConcurrency", 0, 100000); ok {
			p.ReservedConcurrency = &c
		}
	}
	if v := n.get("versionFunctions"); v != nil {
		p.VersionFunctions = d.boolean(v, "provider.versionFunctions", true)
	}
	if v := n.get("httpApi"); v != nil && d.mapping(v, "provider.httpApi") {
		p.HTTPAPICORS = d.httpAPICORS(v.get("cors"), "provider.httpApi.cors")
	}
	if v := n.get("apiGateway"); v != nil && d.mapping(v, "provider.apiGateway") {
		if t := v.get("binaryMediaTypes"); t != nil {
			p.BinaryMediaTypes = d.stringList(t, "provider.apiGateway.binaryMediaTypes")
		}
	}
	stmts := n.get("iamRoleStatements")
	if iam := n.get("iam"); iam != nil && iam.kind == kindMap {
		if role := iam.get("role"); role != nil && role.kind == kindMap && role.get("statements") != nil {
			stmts = role.get("statements")
		}
	}
	if stmts != nil && stmts.kind == kindList {
		p.IAMRoleStatements = stmts.toAny().([]any)
	}
}

func (d *decoder) function(key string, n *node) *Function {
	path := "functions." + key
	if n == nil || n.kind == kindNull {
		d.errorf(n, path, "give it at least a handler: `handler: handler.main`", "the function is empty")
		return nil
	}
	if !d.mapping(n, path) {
		return nil
	}
	s, p := d.svc, d.svc.Provider
	f := &Function{Key: key, Raw: d.raw(n), Runtime: p.Runtime, Timeout: p.Timeout, MemorySize: p.MemorySize, ReservedConcurrency: p.ReservedConcurrency}
	f.Name = s.Name + "-" + s.Stage + "-" + key
	if v := n.get("name"); v != nil {
		f.Name = d.str(v, path+".name")
	}
	if v := n.get("handler"); v != nil {
		f.Handler = d.str(v, path+".handler")
	}
	if v := n.get("image"); v != nil {
		if v.kind == kindMap {
			f.Image = d.str(v.get("name"), path+".image.name")
		} else {
			f.Image = d.str(v, path+".image")
		}
	}
	if f.Handler == "" && f.Image == "" {
		d.errorf(n, path, "add `handler: file.export` (e.g. handler.main for main in handler.js)", "the function has no handler")
	}
	if v := n.get("runtime"); v != nil {
		f.Runtime = d.str(v, path+".runtime")
	}
	if v := n.get("timeout"); v != nil {
		if t, ok := d.integer(v, path+".timeout", 1, 900); ok {
			f.Timeout = time.Duration(t) * time.Second
		}
	}
	if v := n.get("memorySize"); v != nil {
		if m, ok := d.integer(v, path+".memorySize", 128, 10240); ok {
			f.MemorySize = m
		}
	}
	if v := n.get("reservedConcurrency"); v != nil {
		if c, ok := d.integer(v, path+".reservedConcurrency", 0, 100000); ok {
			f.ReservedConcurrency = &c
		}
	}
	if v := n.get("maximumRetryAttempts"); v != nil {
		if c, ok := d.integer(v, path+".maximumRetryAttempts", 0, 2); ok {
			f.MaximumRetryAttempts = &c
		}
	}
	if v := n.get("maximumEventAge"); v != nil {
		if s, ok := d.integer(v, path+".maximumEventAge", 60, 21600); ok {
			f.MaximumEventAge = time.Duration(s) * time.Second
		}
	}
	f.Environment = map[string]string{}
	for k, v := range p.Environment {
		f.Environment[k] = v
	}
	if v := n.get("environment"); v != nil {
		for k, val := range d.stringMap(v, path+".environment") {
			f.Environment[k] = val
		}
	}
	if v := n.get("events"); d.usable(v, path+".events") {
		if v.kind != kindList {
			d.errorf(v, path+".events", "write a list: events: [- http: GET /hello]", "must be a list, not %s", v.kind)
		} else {
			for i, ev := range v.items {
				if e, ok := d.event(ev, fmt.Sprintf("%s.events.%d", path, i)); ok {
					f.Events = append(f.Events, e)
				}
			}
		}
	}
	if v := n.get("deploymentSettings"); v != nil && v.kind == kindNull {
		// The canary plugin deploys a function gradually when the key is
		// there at all (lodash _.has), null included, with the settings of
		// custom.deploymentSettings (plugin issue #145).
		f.DeploymentSettings = d.deploymentSettings(&node{kind: kindMap, pos: v.pos}, s.DeploymentSettings, path+".deploymentSettings")
	} else if v != nil && d.mapping(v, path+".deploymentSettings") {
		f.DeploymentSettings = d.deploymentSettings(v, s.DeploymentSettings, path+".deploymentSettings")
	}
	if v := n.get("alarms"); d.usable(v, path+".alarms") {
		if v.kind != kindList {
			d.errorf(v, path+".alarms", "write a list of alarm names or objects", "must be a list, not %s", v.kind)
		} else {
			f.Alarms = v.toAny().([]any)
		}
	}
	return f
}

// httpAPICORS decodes provider.httpApi.cors: true, false, or a mapping
// overriding the framework's defaults.
func (d *decoder) httpAPICORS(n *node, path string) *HTTPAPICORS {
	if !d.usable(n, path) {
		return nil
	}
	if n.kind != kindMap {
		if d.boolean(n, path, false) {
			return &HTTPAPICORS{}
		}
		return nil
	}
	c := &HTTPAPICORS{}
	for _, l := range []struct {
		key string
		dst *[]string
	}{{"allowedOrigins", &c.AllowedOrigins}, {"allowedHeaders", &c.AllowedHeaders},
		{"allowedMethods", &c.AllowedMethods}, {"exposedResponseHeaders", &c.ExposedResponseHeaders}} {
		if v := n.get(l.key); v != nil {
			*l.dst = d.stringList(v, join(path, l.key))
		}
	}
	if v := n.get("allowCredentials"); v != nil {
		c.AllowCredentials = d.boolean(v, join(path, "allowCredentials"), false)
	}
	if v := n.get("maxAge"); v != nil {
		if s, ok := d.integer(v, join(path, "maxAge"), 0, 86400); ok {
			c.MaxAge = &s
		}
	}
	return c
}

// deploymentSettings decodes a deploymentSettings mapping overlaid on base
// (Object.assign semantics, as the canary plugin merges global and function
// settings).
func (d *decoder) deploymentSettings(n *node, base *DeploymentSettings, path string) *DeploymentSettings {
	ds := &DeploymentSettings{Raw: map[string]any{}}
	if base != nil {
		*ds = *base
		ds.Raw = make(map[string]any, len(base.Raw))
		for k, v := range base.Raw {
			ds.Raw[k] = v
		}
	}
	for i, k := range n.keys {
		v, kp := n.vals[i], path+"."+k
		ds.Raw[k] = v.toAny()
		switch k {
		case "type":
			ds.Type = d.str(v, kp)
		case "alias":
			ds.Alias = d.str(v, kp)
		case "preTrafficHook":
			ds.PreTrafficHook = d.str(v, kp)
		case "postTrafficHook":
			ds.PostTrafficHook = d.str(v, kp)
		case "stages":
			ds.Stages = d.stringList(v, kp)
		case "alarms":
			ds.Alarms = d.alarmRefs(v, kp)
		case "canaryAlarms":
			if d.usable(v, kp) {
				if v.kind != kindList {
					d.errorf(v, kp, "write a list of alarm definition names (functionErrors, errorRate, …) or alarm objects", "must be a list, not %s", v.kind)
				} else {
					ds.CanaryAlarms = v.toAny().([]any)
				}
			}
		case "triggerConfigurations":
			if d.usable(v, kp) {
				if v.kind != kindList {
					d.errorf(v, kp, "write a list of CodeDeploy TriggerConfigurations", "must be a list, not %s", v.kind)
				} else {
					ds.TriggerConfigurations = v.toAny().([]any)
				}
			}
		case "codeDeployRole":
			if d.usable(v, kp) {
				ds.CodeDeployRole = v.toAny()
			}
		case "codeDeployRolePermissionsBoundary":
			if d.usable(v, kp) {
				ds.CodeDeployRolePermissionsBoundary = v.toAny()
			}
		default:
			d.warnf(v, kp, "known keys: "+strings.Join(deploymentSettingsKeys, ", "), "unknown deploymentSettings key %q is ignored", k)
		}
	}
	return ds
}

var deploymentSettingsKeys = []string{"type", "alias", "preTrafficHook", "postTrafficHook", "alarms", "canaryAlarms", "stages", "triggerConfigurations", "codeDeployRole", "codeDeployRolePermissionsBoundary"}

func (d *decoder) alarmRefs(n *node, path string) []AlarmRef {
	if !d.usable(n, path) {
		return nil
	}
	if n.kind != kindList {
		d.errorf(n, path, "write a list of alarm logical IDs, or objects with a name", "must be a list, not %s", n.kind)
		return nil
	}
	refs := make([]AlarmRef, 0, len(n.items))
	for i, it := range n.items {
		ip := fmt.Sprintf("%s.%d", path, i)
		switch it.kind {
		case kindString:
			refs = append(refs, AlarmRef{LogicalID: d.str(it, ip)})
		case kindMap:
			name := it.get("name")
			if name == nil || name.kind == kindNull {
				d.errorf(it, ip, "add `name: <alarm name>`, or write the alarm's logical ID as a plain string", "the alarm has no name")
				continue
			}
			refs = append(refs, AlarmRef{Name: name.toAny()})
		default:
			d.errorf(it, ip, "write the alarm's logical ID, or {name: <alarm name>}", "an alarm must be a string or an object, not %s", it.kind)
		}
	}
	return refs
}

// event decodes one entry of a function's events.
func (d *decoder) event(n *node, path string) (Event, bool) {
	if !d.mapping(n, path) {
		return Event{}, false
	}
	if len(n.keys) != 1 {
		d.errorf(n, path, "write one event per list item, e.g. - http: GET /hello", "an event must have exactly one type key, found %d (%s)", len(n.keys), strings.Join(n.keys, ", "))
		return Event{}, false
	}
	typ, v := n.keys[0], n.vals[0]
	ep := path + "." + typ
	e := Event{Type: typ, Raw: v.toAny(), Pos: v.pos}
	switch typ {
	case "http":
		e.HTTP = d.httpEvent(v, ep)
		if e.HTTP == nil {
			return e, false
		}
	case "httpApi":
		e.HTTPAPI = d.httpAPIEvent(v, ep)
		if e.HTTPAPI == nil {
			return e, false
		}
	case "schedule":
		e.Schedule = d.scheduleEvent(v, ep)
		if e.Schedule == nil {
			return e, false
		}
	}
	return e, true
}

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"}

func (d *decoder) httpEvent(n *node, path string) *HTTPEvent {
	if !d.usable(n, path) {
		return nil
	}
	var method, p string
	h := &HTTPEvent{}
	switch n.kind {
	case kindString:
		fields := strings.Fields(n.str)
		if len(fields) != 2 {
			d.errorf(n, path, "write `http: GET orders/{id}` (method, then path)", "cannot read %q as a route", n.str)
			return nil
		}
		method, p = fields[0], fields[1]
	case kindMap:
		method = d.str(n.get("method"), path+".method")
		p = d.str(n.get("path"), path+".path")
		if c := n.get("cors"); c != nil {
			h.CORS = c.kind == kindMap || d.boolean(c, path+".cors", false)
		}
		if method == "" || n.get("path") == nil {
			d.errorf(n, path, "give both `method` and `path`", "the http event is missing its method or path")
			return nil
		}
	default:
		d.errorf(n, path, "write `http: GET orders` or a mapping with method and path", "must be a string or mapping, not %s", n.kind)
		return nil
	}
	h.Method = strings.ToUpper(method)
	if !contains(httpMethods, h.Method) {
		d.errorf(n, path, "use one of "+strings.Join(httpMethods, ", "), "unknown HTTP method %q", method)
		return nil
	}
	h.Path = strings.Trim(p, "/")
	return h
}

func (d *decoder) httpAPIEvent(n *node, path string) *HTTPAPIEvent {
	if !d.usable(n, path) {
		return nil
	}
	var method, p string
	switch n.kind {
	case kindString:
		if strings.TrimSpace(n.str) == "*" {
			return &HTTPAPIEvent{Method: "*", Path: "*"}
		}
		fields := strings.Fields(n.str)
		if len(fields) != 2 {
			d.errorf(n, path, "write `httpApi: GET /orders/{id}` or `httpApi: '*'`", "cannot read %q as a route", n.str)
			return nil
		}
		method, p = fields[0], fields[1]
	case kindMap:
		method = d.str(n.get("method"), path+".method")
		p = d.str(n.get("path"), path+".path")
		if method == "" {
			method = "*"
		}
		if p == "" {
			d.errorf(n, path, "add `path: /orders`", "the httpApi event has no path")
			return nil
		}
	default:
		d.errorf(n, path, "write `httpApi: GET /orders` or a mapping with method and path", "must be a string or mapping, not %s", n.kind)
		return nil
	}
	method = strings.ToUpper(method)
	if method != "*" && (method == "ANY" || !contains(httpMethods, method)) {
		d.errorf(n, path, "use one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or *", "unknown HTTP method %q", method)
		return nil
	}
	if p != "*" && !strings.HasPrefix(p, "/") {
		d.errorf(n, path, fmt.Sprintf("write /%s", p), "an httpApi path must start with /")
		return nil
	}
	return &HTTPAPIEvent{Method: method, Path: p}
}

func (d *decoder) scheduleEvent(n *node, path string) *ScheduleEvent {
	if !d.usable(n, path) {
		return nil
	}
	s := &ScheduleEvent{Enabled: true}
	switch n.kind {
	case kindString:
		s.Expressions = []string{n.str}
	case kindMap:
		s.Expressions = d.stringList(n.get("rate"), path+".rate")
		if v := n.get("enabled"); v != nil {
			s.Enabled = d.boolean(v, path+".enabled", true)
		}
		if v := n.get("input"); v != nil && v.kind != kindNull {
			s.Input = v.toAny()
			if v.kind == kindString {
				// The framework accepts input as a JSON string, too.
				s.Input = v.str
			}
		}
		if v := n.get("name"); v != nil {
			s.Name = d.str(v, path+".name")
		}
	default:
		d.errorf(n, path, "write `schedule: rate(5 minutes)` or a mapping with rate", "must be a string or mapping, not %s", n.kind)
		return nil
	}
	if len(s.Expressions) == 0 {
		d.errorf(n, path, "add `rate: rate(5 minutes)` or `rate: cron(0 12 * * ? *)`", "the schedule has no rate")
		return nil
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SortedKeys returns m's keys in order; handy for deterministic output.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
