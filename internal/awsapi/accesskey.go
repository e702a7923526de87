package awsapi

import (
	"net/http"
	"strings"
)

// RequireAccessKey refuses AWS API calls that are not signed with the
// access key id the engine hands its functions (AWS_ACCESS_KEY_ID), the way
// AWS refuses an unknown key: 403 UnrecognizedClientException, or
// MissingAuthenticationTokenException when the call is not signed at all.
// Signatures are not verified — the key is a dummy, not a secret — but an
// unsigned request from a browser or a stray tool gets nowhere. exempt
// lists path prefixes that need no key (e.g. /metrics for scrapers).
func RequireAccessKey(next http.Handler, keyID string, exempt ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range exempt {
			if strings.HasPrefix(r.URL.Path, p) {
				next.ServeHTTP(w, r)
				return
			}
		}
		switch got, signed := accessKeyOf(r); {
		case !signed:
			writeAuthError(w, r, "MissingAuthenticationTokenException", "Missing Authentication Token")
		case got != keyID:
			writeAuthError(w, r, "UnrecognizedClientException", "The security token included in the request is invalid. "+
				"(sluice accepts the access key id it gives functions, "+keyID+"; set AWS_ACCESS_KEY_ID to it, or start sluice serve with --api-access-key '')")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// accessKeyOf reads the access key id from a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/lambda/aws4_request, …")
// or from a presigned URL's X-Amz-Credential.
func accessKeyOf(r *http.Request) (key string, signed bool) {
	cred := ""
	if h := r.Header.Get("Authorization"); h != "" {
		_, params, ok := strings.Cut(h, " ")
		if !ok {
			return "", true
		}
		for _, p := range strings.Split(params, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "Credential="); ok {
				cred = v
			}
		}
	} else if v := r.URL.Query().Get("X-Amz-Credential"); v != "" {
		cred = v
	} else {
		return "", false
	}
	key, _, _ = strings.Cut(cred, "/")
	return key, true
}

// writeAuthError answers in the protocol of the call: JSON 1.1 when it
// names an X-Amz-Target, Lambda's REST shape otherwise.
func writeAuthError(w http.ResponseWriter, r *http.Request, typ, msg string) {
	if r.Header.Get("X-Amz-Target") != "" {
		writeJSON11Error(w, errorf(http.StatusForbidden, typ, msg))
		return
	}
	lambdaError(w, http.StatusForbidden, typ, msg)
}
