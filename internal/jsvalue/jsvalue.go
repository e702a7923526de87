// Package jsvalue reads decoded JSON values (map[string]any, []any, string,
// float64 or json.Number, bool, nil) as JavaScript does. The Serverless
// Framework and its plugins are JavaScript: where sluice reproduces what
// they do with a setting, it must read the setting as they would.
package jsvalue

import (
	"encoding/json"
	"math"
)

// Truthy is JavaScript truthiness: false, null, 0, NaN and "" are false;
// everything else, an empty list or mapping and the string "false"
// included, is true. An absent key (undefined) reads as nil.
func Truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0 && !math.IsNaN(v)
	case int:
		return v != 0
	case json.Number:
		f, err := v.Float64()
		return err != nil || f != 0
	}
	return true
}
