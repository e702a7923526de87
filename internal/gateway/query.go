package gateway

import "strings"

// parseQuery reads a raw query string the way API Gateway fills
// queryStringParameters: pairs split on '&' only (a ';' is data), each
// split on its first '='; a key without '=' has the value "", '+' is a
// space. url.ParseQuery drops a pair with a ';' in it; here it is data.
// (ServeHTTP has refused malformed escapes already; were one to come, it
// would be kept as written.) Bytes that are not UTF-8 after decoding reach
// the function as U+FFFD, as the event is JSON.
func parseQuery(raw string) map[string][]string {
	if raw == "" {
		return nil
	}
	q := make(map[string][]string, strings.Count(raw, "&")+1)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, v = queryUnescape(k), queryUnescape(v)
		q[k] = append(q[k], v)
	}
	if len(q) == 0 {
		return nil
	}
	return q
}

// queryUnescape decodes %XX escapes and '+', leaving malformed escapes as
// they are. It allocates only when there is something to decode.
func queryUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
