package model

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Diff is the first difference between two lists of alerts.
type Diff struct {
	Index       int    // alert index (emission order)
	Path        string // field path inside the alert, "" when one list is shorter
	Got, Want   any    // the values at Path (engine, model)
	GotN, WantN int    // lengths of the lists
	GotAlert    map[string]any
	WantAlert   map[string]any
}

func (d *Diff) String() string {
	if d == nil {
		return "no difference"
	}
	var b strings.Builder
	if d.Path == "" {
		fmt.Fprintf(&b, "alert %d: engine has %d alerts, model %d\n", d.Index, d.GotN, d.WantN)
	} else {
		fmt.Fprintf(&b, "alert %d of %d/%d, field %s: engine %s, model %s\n", d.Index, d.GotN, d.WantN, d.Path,
			show(d.Got), show(d.Want))
	}
	if d.GotAlert != nil {
		fmt.Fprintf(&b, "engine alert: %s\n", Brief(d.GotAlert))
	}
	if d.WantAlert != nil {
		fmt.Fprintf(&b, "model alert:  %s\n", Brief(d.WantAlert))
	}
	return b.String()
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Brief is an alert in one line, without its constant parts.
func Brief(a map[string]any) string {
	get := func(path string) any { v, _ := lookup(a, path); return v }
	return fmt.Sprintf("%v %v %v user=%v ip=%v ua=%v window=[%v, %v] names=%v count=%v events=[%v, %v] id=%v",
		get("alert.type"), get("alert.mode"), get("@timestamp"), get("user.name"), get("source.ip"),
		get("user_agent.original"), get("window.start"), get("window.end"), show(get("Esql.secrets_names")),
		get("event.count"), get("event.start"), get("event.end"), get("alert.id"))
}

func lookup(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Compare returns the first difference between the engine's alerts (got) and
// the model's (want), field by field, or nil when they are equal.
func Compare(got, want []map[string]any) *Diff {
	for i := 0; i < len(got) || i < len(want); i++ {
		if i >= len(got) || i >= len(want) {
			d := &Diff{Index: i, GotN: len(got), WantN: len(want)}
			if i < len(got) {
				d.GotAlert = got[i]
			}
			if i < len(want) {
				d.WantAlert = want[i]
			}
			return d
		}
		if path, g, w, ok := firstDiff("", got[i], want[i]); !ok {
			return &Diff{Index: i, Path: path, Got: g, Want: w, GotN: len(got), WantN: len(want),
				GotAlert: got[i], WantAlert: want[i]}
		}
	}
	return nil
}

// firstDiff walks two decoded JSON values; keys in sorted order.
func firstDiff(path string, a, b any) (string, any, any, bool) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if p, x, y, ok := firstDiff(p, am[k], bm[k]); !ok {
				return p, x, y, false
			}
		}
		return "", nil, nil, true
	}
	if !reflect.DeepEqual(a, b) {
		return path, a, b, false
	}
	return "", nil, nil, true
}
