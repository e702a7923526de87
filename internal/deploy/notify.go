package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// notifier delivers trigger notifications: always to the log, and as an
// HTTP POST when a trigger's target is an http(s) URL (locally there is no
// SNS topic to publish to). Posts go out one at a time, in the order the
// events happened, from a goroutine of their own: the deployment never
// waits for a slow target.
type notifier struct {
	log    *slog.Logger
	client *http.Client
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending []delivery
	running bool
}

// delivery is one POST to make.
type delivery struct {
	trigger, url string
	body         []byte
}

func newNotifier(log *slog.Logger) *notifier {
	return &notifier{log: log, client: &http.Client{Timeout: 10 * time.Second}}
}

// Message is a trigger notification, shaped like CodeDeploy's SNS message.
type Message struct {
	Region              string     `json:"region"`
	AccountID           string     `json:"accountId"`
	EventTriggerName    string     `json:"eventTriggerName"`
	Event               string     `json:"event"`
	ApplicationName     string     `json:"applicationName"`
	DeploymentID        string     `json:"deploymentId"`
	DeploymentGroupName string     `json:"deploymentGroupName"`
	CreateTime          time.Time  `json:"createTime"`
	CompleteTime        *time.Time `json:"completeTime,omitempty"`
	Status              Status     `json:"status"`
	ErrorInformation    *ErrorInfo `json:"errorInformation,omitempty"`
	DeploymentOverview  Overview   `json:"deploymentOverview"`
}

func (n *notifier) send(g *Group, d Deployment, event string) {
	for _, t := range g.Triggers {
		if !contains(t.Events, event) {
			continue
		}
		msg := Message{Region: "us-east-1", AccountID: "000000000000", EventTriggerName: t.Name, Event: event,
			ApplicationName: d.ApplicationName, DeploymentID: d.ID, DeploymentGroupName: d.DeploymentGroupName,
			CreateTime: d.CreateTime, CompleteTime: d.CompleteTime, Status: d.Status, ErrorInformation: d.ErrorInformation,
			DeploymentOverview: d.Overview()}
		n.log.Info("trigger", "trigger", t.Name, "event", event, "deployment", d.ID, "status", d.Status, "target", t.Target)
		if !strings.HasPrefix(t.Target, "http://") && !strings.HasPrefix(t.Target, "https://") {
			continue
		}
		body, _ := json.Marshal(msg)
		n.enqueue(delivery{trigger: t.Name, url: t.Target, body: body})
	}
}

func (n *notifier) enqueue(d delivery) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pending = append(n.pending, d)
	if !n.running {
		n.running = true
		n.wg.Add(1)
		go n.drain()
	}
}

// drain posts the pending deliveries in order, then ends.
func (n *notifier) drain() {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(n.pending) == 0 {
			n.running = false
			n.mu.Unlock()
			return
		}
		d := n.pending[0]
		n.pending = n.pending[1:]
		n.mu.Unlock()
		n.post(d)
	}
}

func (n *notifier) post(d delivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		n.log.Warn("trigger delivery failed", "trigger", d.trigger, "target", d.url, "err", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		n.log.Warn("trigger delivery refused", "trigger", d.trigger, "target", d.url, "status", resp.Status)
	}
}

func (n *notifier) wait() { n.wg.Wait() }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
