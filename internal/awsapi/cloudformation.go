package awsapi

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// CloudFormation serves the read side of CloudFormation's API —
// DescribeStacks, DescribeStackResources and DescribeStackEvents — for the
// one stack the engine models: the service as `sluice package` would deploy
// it, updated by each `sluice deploy`. It speaks the AWS query protocol
// (form-encoded requests, XML answers) that the AWS SDKs use with it.
type CloudFormation struct {
	// Stack returns what the model is derived from, read fresh per request.
	Stack func() StackInputs
}

// StackInputs are the facts a stack model is derived from.
type StackInputs struct {
	Name        string
	Created     time.Time // when the engine first served the service
	UpdateBegan time.Time // the latest `sluice deploy` that changed something; zero: never updated
	Resources   []StackResource
	Deployments []deploy.Deployment // every deployment, oldest first
	// AliasLogicalIDs maps a function's deployed name to its alias' logical id.
	AliasLogicalIDs map[string]string
}

// StackResource is one resource of the stack.
type StackResource struct {
	LogicalID, PhysicalID, Type string
}

// StackEvent is one event of the stack, as DescribeStackEvents lists them.
type StackEvent struct {
	Time                  time.Time
	LogicalID, PhysicalID string
	Type, Status, Reason  string
}

// StackModel is the stack as CloudFormation would describe it.
type StackModel struct {
	Name, ID, Status, Reason string
	Created, LastUpdated     time.Time
	Events                   []StackEvent // oldest first
}

// ModelStack derives the stack's state from its deployments: an update
// (one `sluice deploy`) is in progress while a deployment it started runs;
// a failed or stopped one rolls the update back, as CloudFormation does when
// CodeDeploy fails an alias update (locally the update's other deployments
// finish on their own: there is no stack-wide rollback).
func ModelStack(in StackInputs) StackModel {
	m := StackModel{Name: in.Name, ID: stackID(in.Name), Status: "CREATE_COMPLETE", Created: in.Created}
	m.Events = append(m.Events, StackEvent{Time: in.Created, LogicalID: in.Name, PhysicalID: m.ID, Type: "AWS::CloudFormation::Stack", Status: "CREATE_COMPLETE"})
	if in.UpdateBegan.IsZero() {
		return m
	}
	m.LastUpdated = in.UpdateBegan
	m.Events = append(m.Events, StackEvent{Time: in.UpdateBegan, LogicalID: in.Name, PhysicalID: m.ID, Type: "AWS::CloudFormation::Stack", Status: "UPDATE_IN_PROGRESS", Reason: "User Initiated"})
	running, failed := false, ""
	var last time.Time
	for _, d := range in.Deployments {
		if d.CreateTime.Before(in.UpdateBegan) || d.Creator == deploy.CreatorRollback {
			continue
		}
		alias := in.AliasLogicalIDs[d.Target.FunctionName]
		arn := fmt.Sprintf("arn:aws:lambda:us-east-1:000000000000:function:%s:%s", d.Target.FunctionName, d.Target.FunctionAlias)
		m.Events = append(m.Events, StackEvent{Time: d.CreateTime, LogicalID: alias, PhysicalID: arn, Type: "AWS::Lambda::Alias", Status: "UPDATE_IN_PROGRESS"})
		if !d.Status.Done() {
			running = true
			continue
		}
		end := d.CreateTime
		if d.CompleteTime != nil {
			end = *d.CompleteTime
		}
		last = later(last, end)
		if d.Status == deploy.StatusSucceeded {
			m.Events = append(m.Events, StackEvent{Time: end, LogicalID: alias, PhysicalID: arn, Type: "AWS::Lambda::Alias", Status: "UPDATE_COMPLETE"})
			continue
		}
		msg := string(d.Status)
		if d.ErrorInformation != nil {
			msg = d.ErrorInformation.Message
		}
		reason := fmt.Sprintf("CodeDeploy deployment %s failed: %s", d.ID, msg)
		m.Events = append(m.Events, StackEvent{Time: end, LogicalID: alias, PhysicalID: arn, Type: "AWS::Lambda::Alias", Status: "UPDATE_FAILED", Reason: reason})
		if failed == "" {
			failed = fmt.Sprintf("The following resource(s) failed to update: [%s].", alias)
		}
	}
	stack := func(status, reason string) {
		m.Status, m.Reason = status, reason
		m.Events = append(m.Events, StackEvent{Time: later(last, in.UpdateBegan), LogicalID: in.Name, PhysicalID: m.ID, Type: "AWS::CloudFormation::Stack", Status: status, Reason: reason})
	}
	switch {
	case running && failed != "":
		stack("UPDATE_ROLLBACK_IN_PROGRESS", failed)
	case running:
		m.Status = "UPDATE_IN_PROGRESS"
	case failed != "":
		stack("UPDATE_ROLLBACK_IN_PROGRESS", failed)
		stack("UPDATE_ROLLBACK_COMPLETE", "")
	default:
		stack("UPDATE_COMPLETE", "")
	}
	slices.SortStableFunc(m.Events, func(a, b StackEvent) int { return a.Time.Compare(b.Time) })
	return m
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func stackID(name string) string {
	return "arn:aws:cloudformation:us-east-1:000000000000:stack/" + name + "/00000000-0000-0000-0000-000000000000"
}

func (c *CloudFormation) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeQueryError(w, errorf(http.StatusBadRequest, "MalformedQueryString", err.Error()))
		return
	}
	action := r.Form.Get("Action")
	handler, ok := map[string]func(url.Values, StackInputs) (any, error){
		"DescribeStacks":         describeStacks,
		"DescribeStackResources": describeStackResources,
		"DescribeStackEvents":    describeStackEvents,
	}[action]
	if !ok {
		writeQueryError(w, errorf(http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("sluice serves CloudFormation's DescribeStacks, DescribeStackResources and DescribeStackEvents, not %q", action)))
		return
	}
	out, err := handler(r.Form, c.Stack())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, xml.Header)
	writeQueryResponse(w, action, out)
}

// writeQueryResponse wraps an action's result as the query protocol does:
// <ActionResponse xmlns=…><ActionResult>…</ActionResult><ResponseMetadata>….
func writeQueryResponse(w io.Writer, action string, result any) error {
	enc := xml.NewEncoder(w)
	root := xml.StartElement{Name: xml.Name{Local: action + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: cfnXMLNS}}}
	if err := enc.EncodeToken(root); err != nil {
		return err
	}
	if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		return err
	}
	if err := enc.EncodeElement(responseMetadata{runtime.NewRequestID()}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return err
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return err
	}
	return enc.Flush()
}

const cfnXMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"

// theStack checks that the request names the modelled stack (by name or id).
func theStack(form url.Values, in StackInputs, required bool) error {
	name := form.Get("StackName")
	if name == "" && required {
		return errorf(http.StatusBadRequest, "ValidationError", "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null")
	}
	if name != "" && name != in.Name && name != stackID(in.Name) {
		return errorf(http.StatusBadRequest, "ValidationError", fmt.Sprintf("Stack with id %s does not exist", name))
	}
	return nil
}

type xmlStack struct {
	StackName         string     `xml:"StackName"`
	StackID           string     `xml:"StackId"`
	CreationTime      time.Time  `xml:"CreationTime"`
	LastUpdatedTime   *time.Time `xml:"LastUpdatedTime,omitempty"`
	StackStatus       string     `xml:"StackStatus"`
	StackStatusReason string     `xml:"StackStatusReason,omitempty"`
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

func describeStacks(form url.Values, in StackInputs) (any, error) {
	if err := theStack(form, in, false); err != nil {
		return nil, err
	}
	m := ModelStack(in)
	s := xmlStack{StackName: m.Name, StackID: m.ID, CreationTime: m.Created.UTC(), StackStatus: m.Status, StackStatusReason: m.Reason}
	if !m.LastUpdated.IsZero() {
		t := m.LastUpdated.UTC()
		s.LastUpdatedTime = &t
	}
	return struct {
		Stacks []xmlStack `xml:"Stacks>member"`
	}{[]xmlStack{s}}, nil
}

func describeStackResources(form url.Values, in StackInputs) (any, error) {
	if form.Get("StackName") == "" && form.Get("PhysicalResourceId") == "" {
		return nil, errorf(http.StatusBadRequest, "ValidationError", "StackName or PhysicalResourceId must be given")
	}
	if err := theStack(form, in, false); err != nil {
		return nil, err
	}
	m := ModelStack(in)
	type member struct {
		StackName          string    `xml:"StackName"`
		StackID            string    `xml:"StackId"`
		LogicalResourceID  string    `xml:"LogicalResourceId"`
		PhysicalResourceID string    `xml:"PhysicalResourceId"`
		ResourceType       string    `xml:"ResourceType"`
		Timestamp          time.Time `xml:"Timestamp"`
		ResourceStatus     string    `xml:"ResourceStatus"`
	}
	logical, physical := form.Get("LogicalResourceId"), form.Get("PhysicalResourceId")
	var list []member
	for _, r := range in.Resources {
		if (logical != "" && r.LogicalID != logical) || (physical != "" && r.PhysicalID != physical) {
			continue
		}
		list = append(list, member{StackName: m.Name, StackID: m.ID, LogicalResourceID: r.LogicalID, PhysicalResourceID: r.PhysicalID,
			ResourceType: r.Type, Timestamp: later(m.Created, m.LastUpdated).UTC(), ResourceStatus: "UPDATE_COMPLETE"})
	}
	return struct {
		Resources []member `xml:"StackResources>member"`
	}{list}, nil
}

func describeStackEvents(form url.Values, in StackInputs) (any, error) {
	if err := theStack(form, in, false); err != nil {
		return nil, err
	}
	m := ModelStack(in)
	type member struct {
		StackName            string    `xml:"StackName"`
		StackID              string    `xml:"StackId"`
		EventID              string    `xml:"EventId"`
		LogicalResourceID    string    `xml:"LogicalResourceId"`
		PhysicalResourceID   string    `xml:"PhysicalResourceId"`
		ResourceType         string    `xml:"ResourceType"`
		Timestamp            time.Time `xml:"Timestamp"`
		ResourceStatus       string    `xml:"ResourceStatus"`
		ResourceStatusReason string    `xml:"ResourceStatusReason,omitempty"`
	}
	// Newest first, as CloudFormation lists them.
	var list []member
	for i := len(m.Events) - 1; i >= 0; i-- {
		e := m.Events[i]
		list = append(list, member{StackName: m.Name, StackID: m.ID, EventID: fmt.Sprintf("%s-%d", strings.ToLower(e.Status), i),
			LogicalResourceID: e.LogicalID, PhysicalResourceID: e.PhysicalID, ResourceType: e.Type, Timestamp: e.Time.UTC(),
			ResourceStatus: e.Status, ResourceStatusReason: e.Reason})
	}
	return struct {
		Events []member `xml:"StackEvents>member"`
	}{list}, nil
}

// writeQueryError writes an error as query-protocol services do.
func writeQueryError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	kind := "Sender"
	if ae.Status >= 500 {
		kind = "Receiver"
	}
	type xmlError struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(ae.Status)
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		XMLNS     string   `xml:"xmlns,attr"`
		Error     xmlError `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}{XMLNS: cfnXMLNS, Error: xmlError{kind, ae.Type, ae.Message}, RequestID: runtime.NewRequestID()})
}
