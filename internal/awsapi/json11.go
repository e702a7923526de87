// Package awsapi serves the AWS APIs that function code and tools call, on
// the engine's one endpoint (what AWS_ENDPOINT_URL points at): CodeDeploy's
// JSON 1.1 API for hooks and deployment tools, and Lambda's REST API for
// invocations. Shapes follow the AWS API models, so the AWS SDKs work
// against sluice unchanged.
package awsapi

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"time"
)

// maxRequestBody bounds JSON API requests (Lambda's own payload limit is
// enforced where payloads are read).
const maxRequestBody = 6 << 20

// apiError is an AWS error: its type name (e.g. DeploymentDoesNotExistException),
// HTTP status and message.
type apiError struct {
	Type    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func errorf(status int, typ, msg string) *apiError {
	return &apiError{Type: typ, Status: status, Message: msg}
}

// writeJSON11Error writes an error the way JSON 1.1 services do: the type in
// __type and in the X-Amzn-ErrorType header, the text in message.
func writeJSON11Error(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errorf(http.StatusInternalServerError, "InternalFailure", err.Error())
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", ae.Type)
	w.WriteHeader(ae.Status)
	json.NewEncoder(w).Encode(map[string]string{"__type": ae.Type, "message": ae.Message})
}

func writeJSON11(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "SerializationException", "cannot read the request: "+err.Error())
	}
	if len(body) > maxRequestBody {
		return errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "the request body exceeds 6 MB")
	}
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "SerializationException", "the request is not valid JSON: "+err.Error())
	}
	return nil
}

// epoch is a timestamp as JSON 1.1 writes them: seconds since the epoch.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	s := float64(time.Time(t).UnixMilli()) / 1000
	return json.Marshal(math.Round(s*1000) / 1000)
}

func epochPtr(t *time.Time) *epoch {
	if t == nil {
		return nil
	}
	e := epoch(*t)
	return &e
}
