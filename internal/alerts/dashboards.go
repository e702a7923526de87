package alerts

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
)

// Dashboards: `dashboards: true | <template> | [<template>…] |
// {stages: […], templates: […]}` adds one AWS::CloudWatch::Dashboard per
// template. The body is a JSON string, so it is built from ordered structs
// to come out byte for byte as the plugin writes it.

// widgetSpec places one widget of a dashboard template.
type widgetSpec struct {
	title, service, metric, display string
	x, y, w, h                      int
}

// dashboardTemplates are the plugin's two layouts.
var dashboardTemplates = map[string][]widgetSpec{
	"default": {
		{"Errors", "lambda", "errors", "time-series", 0, 0, 8, 6},
		{"Errors", "lambda", "errors", "numbers", 8, 0, 6, 6},
		{"Duration", "lambda", "duration", "time-series", 14, 0, 10, 6},
		{"Invocations", "lambda", "invocations", "time-series", 0, 6, 8, 6},
		{"Invocations", "lambda", "invocations", "numbers", 8, 6, 6, 6},
		{"API Requests", "api-gw", "requests", "time-series", 14, 6, 10, 6},
		{"Throttles", "lambda", "throttles", "time-series", 0, 12, 8, 6},
		{"Throttles", "lambda", "throttles", "numbers", 8, 12, 6, 6},
		{"API Latency", "api-gw", "latency", "time-series", 14, 12, 10, 6},
	},
	"vertical": {
		{"Errors", "lambda", "errors", "time-series", 0, 0, 10, 6},
		{"Errors", "lambda", "errors", "numbers", 10, 0, 10, 6},
		{"Duration", "lambda", "duration", "time-series", 0, 6, 10, 6},
		{"Duration Average", "lambda", "duration", "numbers", 10, 6, 10, 6},
		{"Invocations", "lambda", "invocations", "time-series", 0, 12, 10, 6},
		{"Invocations", "lambda", "invocations", "numbers", 10, 12, 10, 6},
		{"Iterator Age", "lambda", "iteratorage", "time-series", 0, 18, 10, 6},
		{"Iterator Age Average", "lambda", "iteratorage", "numbers", 10, 18, 10, 6},
		{"Throttles", "lambda", "throttles", "time-series", 0, 24, 10, 6},
		{"Throttles", "lambda", "throttles", "numbers", 10, 24, 10, 6},
		{"API Latency", "api-gw", "latency", "time-series", 0, 30, 10, 6},
		{"API Latency Average", "api-gw", "latency", "numbers", 10, 30, 10, 6},
		{"API Requests", "api-gw", "requests", "time-series", 0, 36, 10, 6},
		{"API Requests", "api-gw", "requests", "numbers", 10, 36, 10, 6},
	},
}

// The dashboard body, field order as CloudWatch's own JSON.
type (
	dashboardBody struct {
		Widgets []widget `json:"widgets"`
	}
	widget struct {
		Type       string      `json:"type"`
		X          int         `json:"x"`
		Y          int         `json:"y"`
		Width      int         `json:"width"`
		Height     int         `json:"height"`
		Properties widgetProps `json:"properties"`
	}
	widgetProps struct {
		Title   string  `json:"title"`
		View    string  `json:"view"`
		Stacked *bool   `json:"stacked,omitempty"`
		Metrics [][]any `json:"metrics"`
		Region  string  `json:"region"`
		Period  int     `json:"period,omitempty"`
	}
	metricOptions struct {
		Stat   string `json:"stat"`
		Period int    `json:"period"`
		Region string `json:"region,omitempty"`
		Label  string `json:"label,omitempty"`
	}
)

const (
	quarterHour = 900     // s: time-series resolution
	thirtyDays  = 2592000 // s: numbers widgets sum the last 30 days
)

// dashboards is compileDashboards.
func (c *compiler) dashboards(cfg any) {
	svc := c.svc
	for _, name := range c.dashboardNames(cfg) {
		body := dashboardBody{Widgets: []widget{}}
		for _, w := range dashboardTemplates[name] {
			body.Widgets = append(body.Widgets, c.widget(w))
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // as JSON.stringify
		_ = enc.Encode(body)     // cannot fail: plain structs of strings and numbers
		id, dashName := "AlertsDashboard", svc.Name+"-"+svc.Stage+"-"+svc.Region
		if name != "default" {
			id, dashName = id+name, dashName+"-"+name
		}
		c.add(id, map[string]any{
			"Type": "AWS::CloudWatch::Dashboard",
			"Properties": map[string]any{
				"DashboardName": dashName,
				"DashboardBody": string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))),
			},
		})
	}
}

// dashboardNames is getDashboardTemplates: which templates, on this stage.
func (c *compiler) dashboardNames(cfg any) []string {
	path := alertsPath + ".dashboards"
	var names []any
	namesPath := path
	switch v := cfg.(type) {
	case bool:
		names = []any{"default"}
	case string, []any:
		names = toList(v)
	case map[string]any:
		for _, k := range config.SortedKeys(v) {
			if k != "stages" && k != "templates" {
				c.warnf(path+"."+k, "known keys: stages, templates", "unknown dashboards key %q is ignored", k)
			}
		}
		if stages, ok := v["stages"]; ok && jsvalue.Truthy(stages) {
			if !slices.Contains(toList(stages), any(c.svc.Stage)) {
				return nil
			}
		}
		names = []any{"default"}
		if t, ok := v["templates"]; ok && jsvalue.Truthy(t) {
			names, namesPath = toList(t), path+".templates"
		}
	default:
		c.errorf(path, "write true, a template name (default or vertical), or {stages: […], templates: […]}", "must be a boolean, a template name or a mapping, not %s", kindOf(cfg))
		return nil
	}
	var out []string
	for i, n := range names {
		s, _ := n.(string)
		if _, ok := dashboardTemplates[s]; !ok {
			p := namesPath
			if _, isList := cfg.([]any); isList || namesPath != path {
				p += "." + strconv.Itoa(i)
			}
			c.errorf(p, "use default or vertical", "unknown dashboard template %s", jsQuote(n))
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// toList is [].concat(v).
func toList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func (c *compiler) widget(w widgetSpec) widget {
	svc := c.svc
	out := widget{Type: "metric", X: w.x, Y: w.y, Width: w.w, Height: w.h}
	p := &out.Properties
	p.Title, p.Region, p.Metrics = w.title, svc.Region, [][]any{}
	if w.display == "numbers" {
		p.View = "singleValue"
	} else {
		p.View, p.Stacked = "timeSeries", new(bool)
	}
	if w.service == "api-gw" {
		api := svc.Stage + "-" + svc.Name // the framework's REST API name
		row := func(metric string, o metricOptions) []any {
			return []any{"AWS/ApiGateway", metric, "ApiName", api, o}
		}
		switch {
		case w.metric == "requests" && w.display == "time-series":
			for _, m := range []string{"5XXError", "4XXError", "Count"} {
				p.Metrics = append(p.Metrics, row(m, metricOptions{Stat: "Sum", Period: quarterHour}))
			}
		case w.metric == "requests":
			for _, m := range []string{"5XXError", "4XXError", "Count"} {
				p.Metrics = append(p.Metrics, row(m, metricOptions{Stat: "Sum", Period: thirtyDays, Region: svc.Region, Label: m}))
			}
			p.Period = 300
		case w.display == "time-series":
			for _, stat := range []string{"p50", "p90"} {
				for _, m := range []string{"IntegrationLatency", "Latency"} {
					p.Metrics = append(p.Metrics, row(m, metricOptions{Stat: stat, Period: quarterHour, Region: svc.Region}))
				}
			}
		default:
			for _, m := range []string{"IntegrationLatency", "Latency"} {
				p.Metrics = append(p.Metrics, row(m, metricOptions{Stat: "Average", Period: thirtyDays, Region: svc.Region, Label: m}))
			}
			p.Period = 300
		}
		return out
	}
	p.Period = 300
	metric := map[string]string{"errors": "Errors", "invocations": "Invocations", "throttles": "Throttles", "duration": "Duration", "iteratorage": "IteratorAge"}[w.metric]
	distribution := w.metric == "duration" || w.metric == "iteratorage"
	for _, f := range svc.Functions {
		// The plugin writes <service>-<stage>-<key> here, which misses
		// functions given their own `name`; sluice uses the deployed name.
		row := func(o metricOptions) []any { return []any{"AWS/Lambda", metric, "FunctionName", f.Name, o} }
		switch {
		case w.display == "numbers" && distribution:
			p.Metrics = append(p.Metrics, row(metricOptions{Stat: "Average", Period: thirtyDays, Region: svc.Region, Label: f.Key}))
		case w.display == "numbers":
			p.Metrics = append(p.Metrics, row(metricOptions{Stat: "Sum", Period: thirtyDays, Region: svc.Region, Label: f.Key}))
		case distribution:
			for _, stat := range []string{"p50", "p90"} {
				p.Metrics = append(p.Metrics, row(metricOptions{Stat: stat, Period: quarterHour, Region: svc.Region, Label: f.Key + " " + stat}))
			}
		default:
			p.Metrics = append(p.Metrics, row(metricOptions{Stat: "Sum", Period: quarterHour, Region: svc.Region, Label: f.Key}))
		}
	}
	return out
}
