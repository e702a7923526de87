package alerts

import (
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
)

// topics are the compiled alert topics (the plugin's alertTopics): each
// value is an ARN string, an intrinsic, or {Ref: AwsAlerts…} for a topic
// sluice creates.
type topics struct {
	global map[string]any            // ok/alarm/insufficientData: notified by every alarm
	groups map[string]map[string]any // named groups (e.g. critical) → kind → topic, for okActions and co.
}

// compileTopics is compileAlertTopics: custom.alerts.topics holds either
// ok/alarm/insufficientData directly (every alarm notifies them) or named
// groups of them that alarms pick with okActions, alarmActions and
// insufficientDataActions.
func (c *compiler) compileTopics() {
	c.topic = topics{global: map[string]any{}, groups: map[string]map[string]any{}}
	raw, ok := c.cfg["topics"]
	if !ok || raw == nil {
		return
	}
	path := alertsPath + ".topics"
	tm, ok := raw.(map[string]any)
	if !ok {
		c.errorf(path, "write a mapping with ok, alarm and insufficientData topics, or named groups of them", "must be a mapping, not %s", kindOf(raw))
		return
	}
	for _, key := range config.SortedKeys(tm) {
		kp := path + "." + key
		if isTopicKind(key) {
			if t, ok := c.topicOf(tm[key], kp, "", key); ok {
				c.topic.global[key] = t
			}
			continue
		}
		group, ok := tm[key].(map[string]any)
		if !ok {
			c.errorf(kp, "write a group of topics: "+key+": {alarm: <topic name or ARN>, ok: …}, or use ok, alarm or insufficientData as the key",
				"a topic group must be a mapping, not %s", kindOf(tm[key]))
			continue
		}
		c.topic.groups[key] = map[string]any{}
		for _, sub := range config.SortedKeys(group) {
			sp := kp + "." + sub
			if !isTopicKind(sub) {
				c.warnf(sp, "use ok, alarm or insufficientData", "no alarm notifies a topic under %q; the topic is created but never used", sub)
			}
			if t, ok := c.topicOf(group[sub], sp, key, sub); ok {
				c.topic.groups[key][sub] = t
			}
		}
	}
}

func isTopicKind(k string) bool { return k == "ok" || k == "alarm" || k == "insufficientData" }

// topicOf is _addAlertTopic for one topic: a name (sluice creates the SNS
// topic), an ARN or intrinsic (an existing topic), or {topic, notifications}.
func (c *compiler) topicOf(cfg any, path, group, kind string) (any, bool) {
	topic, notifications := cfg, any(nil)
	switch v := cfg.(type) {
	case map[string]any:
		t, has := v["topic"]
		if !has {
			hint := "write {topic: <name, ARN or intrinsic>, notifications: […]}"
			if isIntrinsic(v) {
				hint = "wrap the intrinsic: topic: {" + firstKey(v) + ": …}"
			}
			c.errorf(path, hint, "the topic has no `topic` key, so no alarm would notify it")
			return nil, false
		}
		for _, k := range config.SortedKeys(v) {
			if k != "topic" && k != "notifications" {
				c.warnf(path+"."+k, "known keys: topic, notifications", "unknown topic key %q is ignored", k)
			}
		}
		topic, notifications = t, v["notifications"]
		path += ".topic"
	case []any:
		c.errorf(path, "write a topic name, an ARN, or {topic: …, notifications: […]}", "must be a topic, not a list")
		return nil, false
	}
	if !jsvalue.Truthy(topic) {
		return nil, false // explicitly empty: no topic
	}
	switch t := topic.(type) {
	case string:
		if strings.HasPrefix(t, "arn:") {
			c.existingTopic(notifications, path)
			return t, true
		}
	case map[string]any:
		c.existingTopic(notifications, path)
		return clone(t), true
	default:
		c.errorf(path, "write a topic name, an ARN (arn:aws:sns:…), or an intrinsic such as {Ref: MyTopic}", "must be a topic name or ARN, not %s", kindOf(topic))
		return nil, false
	}
	// A name: the plugin creates the topic, with its subscriptions.
	id := "AwsAlerts" + upperFirst(group) + upperFirst(kind)
	if !isLogicalID(id) {
		c.errorf(path, "use letters and digits only in topic group names", "makes the SNS topic's logical ID %q, which CloudFormation rejects", id)
		return nil, false
	}
	subs := []any{}
	if jsvalue.Truthy(notifications) {
		np := strings.TrimSuffix(path, ".topic") + ".notifications"
		list, ok := notifications.([]any)
		if !ok {
			c.errorf(np, "write a list of {protocol, endpoint}", "must be a list, not %s", kindOf(notifications))
		}
		for i, n := range list {
			ip := np + "." + strconv.Itoa(i)
			m, ok := n.(map[string]any)
			if !ok {
				c.errorf(ip, "write {protocol: email, endpoint: me@example.com}", "a notification must be a mapping, not %s", kindOf(n))
				continue
			}
			sub := map[string]any{}
			for _, k := range []struct{ from, to string }{{"protocol", "Protocol"}, {"endpoint", "Endpoint"}} {
				if v, ok := m[k.from]; ok {
					if s, isStr := v.(string); isStr && s == "" || !isStr && !isIntrinsic(v) {
						hint := "write it as a string, e.g. protocol: email, endpoint: me@example.com"
						if _, isNum := v.(float64); isNum {
							hint = "quote it, e.g. endpoint: '+15550100' (unquoted, YAML reads a number and drops the +)"
						}
						c.errorf(ip+"."+k.from, hint, "must be a non-empty string, not %s", kindOf(v))
					}
					sub[k.to] = clone(v)
				} else {
					c.errorf(ip, "SNS subscriptions need both protocol and endpoint", "the notification has no %s", k.from)
				}
			}
			subs = append(subs, sub)
		}
	}
	c.add(id, map[string]any{
		"Type":       "AWS::SNS::Topic",
		"Properties": map[string]any{"TopicName": topic, "Subscription": subs},
	})
	return map[string]any{"Ref": id}, true
}

// existingTopic warns about notifications on a topic sluice does not create.
func (c *compiler) existingTopic(notifications any, path string) {
	if jsvalue.Truthy(notifications) {
		c.warnf(strings.TrimSuffix(path, ".topic")+".notifications", "subscribe the endpoints to the existing topic yourself, or give a topic name to have one created",
			"notifications are ignored for an existing topic (an ARN or intrinsic)")
	}
}

// actions lists the topics an alarm notifies for one kind: the global topic
// of that kind, then the groups named by the alarm's <kind>Actions.
func (c *compiler) actions(e *entry, kind, key string) []any {
	out := []any{}
	if t, ok := c.topic.global[kind]; ok {
		out = append(out, clone(t))
	}
	v, ok := e.get(key)
	if !ok || !jsvalue.Truthy(v) {
		return out
	}
	path := e.path(key)
	names, ok := v.([]any)
	if !ok {
		c.errorf(path, "write a list of topic groups, e.g. "+key+": [critical]", "must be a list, not %s", kindOf(v))
		return out
	}
	for i, n := range names {
		ip := path
		if _, own := e.from[key]; own {
			ip = path + "." + strconv.Itoa(i)
		}
		name, _ := n.(string)
		group, ok := c.topic.groups[name]
		if !ok {
			hint := "define it under custom.alerts.topics: " + jsString(n, false) + ": {" + kind + ": <topic>}"
			if isTopicKind(name) {
				hint = "custom.alerts.topics." + name + " already notifies every alarm; list topic groups here"
			}
			c.errorf(ip, hint, "names no topic group %q", jsString(n, false))
			continue
		}
		t, ok := group[kind]
		if !ok {
			c.errorf(ip, "add custom.alerts.topics."+name+"."+kind, "topic group %q has no %s topic", name, kind)
			continue
		}
		out = append(out, clone(t))
	}
	return out
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}

// isLogicalID reports whether s is a valid CloudFormation logical ID.
func isLogicalID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
