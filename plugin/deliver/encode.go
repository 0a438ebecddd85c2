package deliver

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/format"
)

// prepare checks and copies an alert at the door: one malformed alert inside
// a JSON array would get the whole batch refused, and the caller may reuse
// its buffer once Enqueue returns.
func prepare(body []byte, maxBytes int) ([]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, fmt.Errorf("empty alert")
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("alert is not valid JSON")
	}
	var out []byte
	// A raw line break would split the alert in JSON lines; Compact removes
	// the insignificant ones (those inside strings are escaped already).
	if bytes.ContainsAny(body, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, body); err != nil {
			return nil, err
		}
		out = b.Bytes()
	} else {
		out = bytes.Clone(body)
	}
	if len(out)+2 > maxBytes {
		return nil, fmt.Errorf("alert of %d bytes exceeds the batch byte limit %d", len(out), maxBytes)
	}
	return out, nil
}

// framedSize is what an alert adds to a request body: its rendered bytes
// plus one separator (comma or newline); the array brackets are accounted
// per batch.
func framedSize(it item) int { return len(it.out) + 1 }

func encodeBatch(f *format.Format, items []item) []byte {
	outs := make([][]byte, len(items))
	for i, it := range items {
		outs[i] = it.out
	}
	return f.Frame(outs)
}
