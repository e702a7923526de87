package control

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// InvocationsPath is where a running engine counts a version's
// invocations through an alias (the AWS/Lambda Invocations and Errors
// metrics by ExecutedVersion), so the CLI can tell whether a deployment
// saw enough traffic for its alarms to judge it.
const InvocationsPath = Prefix + "invocations"

// Invocations counts the invocations of Function:Alias that ran Version
// in [From, To), times on the engine's clock.
type Invocations struct {
	Function    string    `json:"function"`
	Alias       string    `json:"alias"`
	Version     string    `json:"version"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Invocations int       `json:"invocations"`
	Errors      int       `json:"errors"`
}

// Invocations asks the engine for the invocations of function:alias that
// ran version between from and to (engine clock times).
func (c *Client) Invocations(ctx context.Context, function, alias, version string, from, to time.Time) (Invocations, error) {
	q := url.Values{"function": {function}, "alias": {alias}, "version": {version},
		"from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}}
	var out Invocations
	err := c.call(ctx, http.MethodGet, InvocationsPath[len(Prefix):]+"?"+q.Encode(), nil, &out)
	return out, err
}
