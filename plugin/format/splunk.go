package format

import (
	"bytes"
	"fmt"
)

// splunk wraps the ECS alert, unchanged, in Splunk HEC's event envelope:
// {"time":<epoch seconds with fraction>,"host":..,"source":..,
// "sourcetype":..,"index":..,"event":<alert>}. Empty envelope fields are
// left out so that the token's defaults apply.
func (f *Format) splunk(a *alert, ecs []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(ecs) + 160)
	b.WriteByte('{')
	if ns := a.at.UnixNano(); ns >= 0 {
		// Microseconds: Splunk's _time keeps no finer precision.
		fmt.Fprintf(&b, `"time":%d.%06d,`, ns/1e9, ns%1e9/1e3)
	}
	for _, kv := range [][2]string{{"host", f.Host}, {"source", f.Source}, {"sourcetype", f.Sourcetype}, {"index", f.Index}} {
		if kv[1] == "" {
			continue
		}
		v, err := marshal(kv[1])
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%q:%s,", kv[0], v)
	}
	b.WriteString(`"event":`)
	b.Write(ecs)
	b.WriteByte('}')
	return b.Bytes(), nil
}
