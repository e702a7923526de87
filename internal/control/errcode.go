package control

import "errors"

// ErrorCode is the code of an error the control API answered with
// (GroupNotFound, NoDeploymentInProgress, …), or "" for any other error,
// so the CLI can say what it means in the service's terms.
func ErrorCode(err error) string {
	var ae *apiErr
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}
