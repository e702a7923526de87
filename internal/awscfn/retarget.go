package awscfn

// eventSource is a resource type that invokes (or lets something invoke) a
// function, and how to point it at the function's alias instead, so the
// alias — and with it CodeDeploy's traffic shifting — sees the traffic.
type eventSource struct {
	// path leads, inside Properties, to where the function is named; the
	// index looks for the function's logical ID only there.
	path []string
	// retarget re-points r from g's function to g's alias, if r names it
	// the way this type does. r and its Properties are copies the function
	// may change; anything deeper is shared with the input and must be
	// copied first (ownObj, ownList, ownItem).
	retarget func(r map[string]any, g *gradual)
	// gap is set for the sources serverless-plugin-canary-deployments 0.8.0
	// leaves pointing at the function: what then breaks.
	gap string
}

// eventSources are keyed by CloudFormation resource type. The first group
// is the plugin's, reproduced with its matching rules; the second closes
// its gaps.
var eventSources = map[string]*eventSource{
	"AWS::Lambda::Permission":         {path: []string{"FunctionName"}, retarget: retargetPermission},
	"AWS::Lambda::EventSourceMapping": {path: []string{"FunctionName"}, retarget: retargetEventSourceMapping},
	"AWS::ApiGateway::Method":         {path: []string{"Integration"}, retarget: retargetRESTMethod},
	"AWS::ApiGatewayV2::Integration":  {path: []string{"IntegrationUri"}, retarget: retargetV2Integration},
	"AWS::ApiGatewayV2::Authorizer":   {path: []string{"AuthorizerUri"}, retarget: retargetAuthorizer},
	"AWS::SNS::Topic":                 {path: []string{"Subscription"}, retarget: retargetSNSTopic},
	"AWS::SNS::Subscription":          {path: []string{"Endpoint"}, retarget: retargetSNSSubscription},
	"AWS::S3::Bucket":                 {path: []string{"NotificationConfiguration", "LambdaConfigurations"}, retarget: retargetS3Bucket},
	"AWS::Events::Rule":               {path: []string{"Targets"}, retarget: retargetEventsRule},
	"AWS::Logs::SubscriptionFilter":   {path: []string{"DestinationArn"}, retarget: retargetLogSubscription},
	"AWS::IoT::TopicRule":             {path: []string{"TopicRulePayload", "Actions"}, retarget: retargetIoTRule},
	"AWS::AppSync::DataSource":        {path: []string{"LambdaConfig"}, retarget: retargetAppSync},

	"AWS::ApiGateway::Authorizer": {path: []string{"AuthorizerUri"}, retarget: retargetAuthorizer,
		gap: "API Gateway calls the authorizer's function while its permission was moved to the alias: every authorized request fails with 500"},
	"AWS::ElasticLoadBalancingV2::TargetGroup": {path: []string{"Targets"}, retarget: retargetTargetGroup,
		gap: "the load balancer invokes the function while its permission was moved to the alias: registration fails"},
	"AWS::Lambda::EventInvokeConfig": {path: []string{"FunctionName"}, retarget: retargetEventInvokeConfig,
		gap: "destinations and retry settings stay on $LATEST, which no event source invokes any more"},
	"AWS::Lambda::Url": {path: []string{"TargetFunctionArn"}, retarget: retargetFunctionURL,
		gap: "the URL invokes the function while its InvokeFunctionUrl permission was moved to the alias: every request gets 403"},
	"AWS::Cognito::UserPool": {path: []string{"LambdaConfig"}, retarget: retargetUserPool,
		gap: "Cognito invokes the function while its permission was moved to the alias: the trigger fails"},
}

// retargetPermission moves a Lambda permission to the alias when its
// FunctionName is the function by Fn::GetAtt or, failing that, by Ref.
func retargetPermission(r map[string]any, g *gradual) {
	p := props(r)
	fn := p["FunctionName"]
	if id, _ := getAttTarget(fn); id != "" {
		if id != g.functionID {
			return
		}
	} else if refTarget(fn) != g.functionID {
		return
	}
	p["FunctionName"] = ref(g.aliasID)
}

func retargetEventSourceMapping(r map[string]any, g *gradual) {
	p := props(r)
	if containsString(p["FunctionName"], g.functionID) {
		p["FunctionName"] = ref(g.aliasID)
	}
}

// retargetRESTMethod rewrites a REST API method's integration URI. The
// plugin matches any integration that mentions the function anywhere and
// writes the URI in the aws partition only; that form is kept, since
// templates deployed with the plugin already have it.
func retargetRESTMethod(r map[string]any, g *gradual) {
	p := props(r)
	if integ := obj(p["Integration"]); integ != nil && containsString(integ, g.functionID) {
		ownObj(p, "Integration")["Uri"] = map[string]any{"Fn::Join": []any{"", []any{
			"arn:aws:apigateway:", ref("AWS::Region"), ":lambda:path/2015-03-31/functions/", ref(g.aliasID), "/invocations",
		}}}
	}
}

// invocationURI is the partition-aware API Gateway URI that invokes the alias.
func invocationURI(g *gradual) map[string]any {
	return map[string]any{"Fn::Join": []any{"", []any{
		"arn:", ref("AWS::Partition"), ":apigateway:", ref("AWS::Region"), ":lambda:path/2015-03-31/functions/", ref(g.aliasID), "/invocations",
	}}}
}

func retargetV2Integration(r map[string]any, g *gradual) {
	p := props(r)
	if containsString(p["IntegrationUri"], g.functionID) {
		p["IntegrationUri"] = invocationURI(g)
	}
}

// retargetAuthorizer serves both API Gateway v2 authorizers (as the
// plugin does) and REST API authorizers (which it leaves alone).
func retargetAuthorizer(r map[string]any, g *gradual) {
	p := props(r)
	if containsString(p["AuthorizerUri"], g.functionID) {
		p["AuthorizerUri"] = invocationURI(g)
	}
}

// retargetSNSTopic replaces the topic's inline subscriptions to the
// function with one to the alias, appended last as the plugin does.
func retargetSNSTopic(r map[string]any, g *gradual) {
	p := props(r)
	subs := list(p["Subscription"])
	kept := make([]any, 0, len(subs)+1)
	for _, s := range subs {
		if !getAttOf(at(s, "Endpoint"), g.functionID) {
			kept = append(kept, s)
		}
	}
	if len(kept) == len(subs) {
		return
	}
	p["Subscription"] = append(kept, map[string]any{"Endpoint": ref(g.aliasID), "Protocol": "lambda"})
}

func retargetSNSSubscription(r map[string]any, g *gradual) {
	p := props(r)
	if p["Protocol"] == "lambda" && getAttOf(p["Endpoint"], g.functionID) {
		p["Endpoint"] = ref(g.aliasID)
	}
}

// retargetS3Bucket re-points every notification of the bucket that
// invokes the function. The plugin re-points only the first, so a function
// notified of two events (or prefixes) of one bucket got the others
// straight to $LATEST — which no longer has the permission.
func retargetS3Bucket(r map[string]any, g *gradual) {
	p := props(r)
	lcs := list(at(p, "NotificationConfiguration", "LambdaConfigurations"))
	owned := false
	for i, lc := range lcs {
		if getAttOf(at(lc, "Function"), g.functionID) {
			if !owned {
				lcs, owned = ownList(ownObj(p, "NotificationConfiguration"), "LambdaConfigurations"), true
			}
			ownItem(lcs, i)["Function"] = ref(g.aliasID)
		}
	}
}

func retargetEventsRule(r map[string]any, g *gradual) {
	retargetListItems(props(r), "Targets", "Arn", g)
}

// retargetListItems re-points m[key][i][field] wherever it is the function.
func retargetListItems(m map[string]any, key, field string, g *gradual) {
	items := list(m[key])
	owned := false
	for i, it := range items {
		if getAttOf(at(it, field), g.functionID) {
			if !owned {
				items, owned = ownList(m, key), true
			}
			ownItem(items, i)[field] = ref(g.aliasID)
		}
	}
}

func retargetLogSubscription(r map[string]any, g *gradual) {
	p := props(r)
	if getAttOf(p["DestinationArn"], g.functionID) {
		p["DestinationArn"] = ref(g.aliasID)
	}
}

// retargetIoTRule re-points the rule's Lambda actions. The framework
// writes one action per rule; the plugin looks only at the first.
func retargetIoTRule(r map[string]any, g *gradual) {
	p := props(r)
	actions := list(at(p, "TopicRulePayload", "Actions"))
	owned := false
	for i, a := range actions {
		if getAttOf(at(a, "Lambda", "FunctionArn"), g.functionID) {
			if !owned {
				actions, owned = ownList(ownObj(p, "TopicRulePayload"), "Actions"), true
			}
			ownObj(ownItem(actions, i), "Lambda")["FunctionArn"] = ref(g.aliasID)
		}
	}
}

func retargetAppSync(r map[string]any, g *gradual) {
	p := props(r)
	if p["Type"] == "AWS_LAMBDA" && getAttOf(at(p, "LambdaConfig", "LambdaFunctionArn"), g.functionID) {
		p["LambdaConfig"] = map[string]any{"LambdaFunctionArn": ref(g.aliasID)}
	}
}

// retargetTargetGroup registers the alias instead of the function with an
// Application Load Balancer target group (the plugin moves only the
// permissions).
func retargetTargetGroup(r map[string]any, g *gradual) {
	retargetListItems(props(r), "Targets", "Id", g)
}

// retargetEventInvokeConfig moves the asynchronous invocation settings
// (destinations, maximumRetryAttempts, maximumEventAge) from $LATEST,
// where the framework puts them, to the alias. It depends on the alias,
// which must exist before a config can name it.
func retargetEventInvokeConfig(r map[string]any, g *gradual) {
	p := props(r)
	fn := p["FunctionName"]
	if refTarget(fn) != g.functionID && !getAttOf(fn, g.functionID) {
		return
	}
	if q, ok := p["Qualifier"]; ok && q != "$LATEST" {
		return // a config for another version or alias, written on purpose
	}
	p["Qualifier"] = g.settings.Alias
	addDependsOn(r, g.aliasID)
}

// retargetFunctionURL serves the function URL from the alias: a URL's
// Qualifier names the alias (TargetFunctionArn stays the function).
func retargetFunctionURL(r map[string]any, g *gradual) {
	p := props(r)
	fn := p["TargetFunctionArn"]
	if refTarget(fn) != g.functionID && !getAttOf(fn, g.functionID) {
		return
	}
	if _, ok := p["Qualifier"]; ok {
		return
	}
	p["Qualifier"] = g.settings.Alias
	addDependsOn(r, g.aliasID)
}

// retargetUserPool points a Cognito user pool's triggers at the alias:
// the plain ones (PreSignUp: arn) and the custom senders ({LambdaArn: arn}).
func retargetUserPool(r map[string]any, g *gradual) {
	p := props(r)
	var owned map[string]any
	for k, v := range obj(p["LambdaConfig"]) {
		direct, sender := getAttOf(v, g.functionID), getAttOf(at(v, "LambdaArn"), g.functionID)
		if !direct && !sender {
			continue
		}
		if owned == nil {
			owned = ownObj(p, "LambdaConfig")
		}
		if direct {
			owned[k] = ref(g.aliasID)
		} else {
			sender := cloneMap(obj(v))
			sender["LambdaArn"] = ref(g.aliasID)
			owned[k] = sender
		}
	}
}
