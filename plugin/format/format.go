package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Name is a value of alert_format.
type Name int

const (
	JSON Name = iota
	JSONLines
	Alertmanager
	SplunkHEC
	Slack
	Falco
)

// Names lists every format, in the order the README documents them.
var Names = []Name{JSON, JSONLines, Alertmanager, SplunkHEC, Slack, Falco}

func (n Name) String() string {
	switch n {
	case JSON:
		return "json"
	case JSONLines:
		return "json_lines"
	case Alertmanager:
		return "alertmanager"
	case SplunkHEC:
		return "splunk_hec"
	case Slack:
		return "slack"
	case Falco:
		return "falco"
	}
	return fmt.Sprintf("format(%d)", int(n))
}

// Framing is how the items of a batch make one request body.
type Framing int

const (
	// Array: [a,b], a JSON array.
	Array Framing = iota
	// Lines: a\nb\n, one item per line.
	Lines
	// Concat: ab, objects back to back (Splunk HEC's batch).
	Concat
	// Single: one item per request (Slack messages, falcosidekick events).
	Single
)

// DefaultMaxNames is how many secret names (and namespaces) a message
// lists when MaxNames is unset.
const DefaultMaxNames = 10

// Format is one alert_format with the settings its destination needs.
type Format struct {
	Name Name

	// Alertmanager: the alerts' generatorURL ("" leaves it out). An alert
	// stays firing for Suppress after its time in stream mode and for
	// Interval in schedule mode (Window when that is 0), so a harvest that
	// goes quiet resolves by itself.
	GeneratorURL string
	Suppress     time.Duration
	Interval     time.Duration
	Window       time.Duration

	// Splunk HEC envelope fields; Index "" leaves the token's default.
	Index      string
	Source     string
	Sourcetype string
	// Host is Splunk's host and Falco's hostname.
	Host string

	// MaxNames bounds the names and namespaces listed by alertmanager,
	// slack and falco; the rest is counted ("and 12 more").
	MaxNames int
}

// ContentType is the request's Content-Type. It carries no parameters:
// Fluent Bit 4.2's http input refuses "application/json; charset=utf-8".
func (f *Format) ContentType() string {
	if f.Name == JSONLines {
		return "application/x-ndjson"
	}
	return "application/json"
}

// AuthScheme is the Authorization scheme a token file is sent with.
func (f *Format) AuthScheme() string {
	if f.Name == SplunkHEC {
		return "Splunk"
	}
	return "Bearer"
}

// Framing says how a batch is framed.
func (f *Format) Framing() Framing {
	switch f.Name {
	case JSONLines:
		return Lines
	case SplunkHEC:
		return Concat
	case Slack, Falco:
		return Single
	}
	return Array
}

// URLIsSecret tells that the endpoint's path is itself the credential (a
// Slack webhook), so logs name only its host.
func (f *Format) URLIsSecret() bool { return f.Name == Slack }

// Item renders one alert, given as the engine's ECS JSON, for the
// destination. The result is one JSON value without line breaks. json and
// json_lines send the alert as it is (the same slice).
func (f *Format) Item(ecs []byte) ([]byte, error) {
	if f.Name == JSON || f.Name == JSONLines {
		return ecs, nil
	}
	a, err := decode(ecs)
	if err != nil {
		return nil, err
	}
	var v any
	switch f.Name {
	case Alertmanager:
		v = f.alertmanager(a)
	case SplunkHEC:
		return f.splunk(a, ecs)
	case Slack:
		v = f.slack(a)
	case Falco:
		v = f.falco(a)
	default:
		return nil, fmt.Errorf("unknown format %v", f.Name)
	}
	return marshal(v)
}

// Frame joins rendered items into one request body.
func (f *Format) Frame(items [][]byte) []byte {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	buf := make([]byte, 0, n)
	switch f.Framing() {
	case Lines:
		for _, it := range items {
			buf = append(buf, it...)
			buf = append(buf, '\n')
		}
	case Concat, Single:
		for _, it := range items {
			buf = append(buf, it...)
		}
	default:
		buf = append(buf, '[')
		for i, it := range items {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, it...)
		}
		buf = append(buf, ']')
	}
	return buf
}

func (f *Format) maxNames() int {
	if f.MaxNames > 0 {
		return f.MaxNames
	}
	return DefaultMaxNames
}

// marshal encodes without HTML escaping: the destinations read JSON, and
// Slack's own escaping (&amp;) stays readable in the body.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
