// Package destcheck checks request bodies the way each destination reads
// them, written from the destinations' documentation and source code (not
// from plugin/format, which it checks):
//
//   - Splunk HEC: docs.splunk.com "Format events for HTTP Event Collector"
//     and the HEC status codes (event required and not blank, envelope keys
//     and their types, events back to back in one body);
//   - Slack incoming webhooks: the Block Kit reference's limits (blocks,
//     header, section text and fields, context elements) and Slack's
//     mrkdwn escaping rules;
//   - falcosidekick: a mirror of its types.FalcoPayload decoding and
//     Check() (falcosidekick/types/types.go, priority.go, handlers.go);
//   - Alertmanager: the shape every Alertmanager accepts (classic label
//     names, non-empty values, times); test/interop also validates with
//     Alertmanager's own models and API handler;
//   - HMAC signatures: recomputed with the openssl command line.
package destcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// HECEvent is one Splunk HEC event envelope.
type HECEvent struct {
	Time       *float64        `json:"time"`
	Host       *string         `json:"host"`
	Source     *string         `json:"source"`
	Sourcetype *string         `json:"sourcetype"`
	Index      *string         `json:"index"`
	Event      json.RawMessage `json:"event"`
	Fields     map[string]any  `json:"fields"`
}

var hecKeys = map[string]bool{"time": true, "host": true, "source": true, "sourcetype": true, "index": true,
	"event": true, "fields": true}

// Splunk index names: lower-case letters, digits, "_" and "-", not
// starting with "_" or "-" (those are Splunk's internal indexes).
var hecIndex = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// SplunkHEC reads a /services/collector/event body: one or more envelopes
// back to back (not an array).
func SplunkHEC(body []byte) ([]HECEvent, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []HECEvent
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: invalid data format (code 6): %w", len(out), err)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, fmt.Errorf("event %d is not a JSON object (code 6): %.40s", len(out), raw)
		}
		for k := range keys {
			if !hecKeys[k] {
				return nil, fmt.Errorf("event %d: unknown envelope key %q", len(out), k)
			}
		}
		var ev HECEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("event %d: envelope field of the wrong type: %w", len(out), err)
		}
		switch e := bytes.TrimSpace(ev.Event); {
		case len(e) == 0:
			return nil, fmt.Errorf("event %d: event field is required (code 12)", len(out))
		case string(e) == "null" || string(e) == `""` || string(e) == "{}":
			return nil, fmt.Errorf("event %d: event field cannot be blank (code 13)", len(out))
		}
		if ev.Time != nil && (*ev.Time < 1e9 || *ev.Time >= 1e10) {
			return nil, fmt.Errorf("event %d: time %v is not epoch seconds", len(out), *ev.Time)
		}
		for name, v := range map[string]*string{"host": ev.Host, "source": ev.Source, "sourcetype": ev.Sourcetype, "index": ev.Index} {
			if v != nil && *v == "" {
				return nil, fmt.Errorf("event %d: empty %s", len(out), name)
			}
		}
		if ev.Index != nil && !hecIndex.MatchString(*ev.Index) {
			return nil, fmt.Errorf("event %d: index %q is not an index name", len(out), *ev.Index)
		}
		for k, v := range ev.Fields {
			if !stringOrStrings(v) {
				return nil, fmt.Errorf("event %d: indexed field %s is not a string (code 15)", len(out), k)
			}
		}
		out = append(out, ev)
	}
	if len(out) == 0 {
		return nil, errors.New("no data (code 5)")
	}
	return out, nil
}

func stringOrStrings(v any) bool {
	switch x := v.(type) {
	case string:
		return true
	case []any:
		for _, e := range x {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}

// SlackMessage is an incoming-webhook payload.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is one layout block.
type SlackBlock struct {
	Type     string      `json:"type"`
	BlockID  string      `json:"block_id"`
	Text     *SlackText  `json:"text"`
	Fields   []SlackText `json:"fields"`
	Elements []SlackText `json:"elements"`
}

// SlackText is a text composition object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Slack's documented limits, in characters (counted here as UTF-16 code
// units, the larger of the two counts Slack could mean).
const (
	SlackMaxBlocks      = 50
	SlackMaxText        = 40000
	SlackMaxSectionText = 3000
	SlackMaxField       = 2000
	SlackMaxFields      = 10
	SlackMaxHeader      = 150
	SlackMaxContext     = 10
	SlackMaxBlockID     = 255
)

// Slack checks an incoming-webhook message: its structure, Slack's limits,
// and that every mrkdwn string is escaped (no raw "<" or ">", "&" only in
// &amp; &lt; &gt;), so untrusted text can neither mention nor link.
func Slack(body []byte) (SlackMessage, error) {
	var m SlackMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("invalid_payload: %w", err)
	}
	if dec.More() {
		return m, errors.New("invalid_payload: more than one JSON value")
	}
	if m.Text == "" && len(m.Blocks) == 0 {
		return m, errors.New("no_text: neither text nor blocks")
	}
	if m.Text == "" {
		return m, errors.New("no top-level text: the notification would be empty")
	}
	if n := chars(m.Text); n > SlackMaxText {
		return m, fmt.Errorf("text of %d characters", n)
	}
	if err := escaped(m.Text); err != nil {
		return m, fmt.Errorf("text: %w", err)
	}
	if len(m.Blocks) > SlackMaxBlocks {
		return m, fmt.Errorf("invalid_blocks: %d blocks", len(m.Blocks))
	}
	for i, b := range m.Blocks {
		if err := checkBlock(b); err != nil {
			return m, fmt.Errorf("invalid_blocks: block %d (%s): %w", i, b.Type, err)
		}
	}
	return m, nil
}

func checkBlock(b SlackBlock) error {
	if chars(b.BlockID) > SlackMaxBlockID {
		return errors.New("block_id too long")
	}
	switch b.Type {
	case "header":
		if b.Text == nil || b.Text.Type != "plain_text" {
			return errors.New("a header needs a plain_text text")
		}
		if n := chars(b.Text.Text); n == 0 || n > SlackMaxHeader {
			return fmt.Errorf("header text of %d characters", n)
		}
		if len(b.Fields) > 0 || len(b.Elements) > 0 {
			return errors.New("a header has only text")
		}
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			return errors.New("a section needs text or fields")
		}
		if b.Text != nil {
			if err := checkText(*b.Text, SlackMaxSectionText); err != nil {
				return err
			}
		}
		if len(b.Fields) > SlackMaxFields {
			return fmt.Errorf("%d fields", len(b.Fields))
		}
		for _, f := range b.Fields {
			if err := checkText(f, SlackMaxField); err != nil {
				return fmt.Errorf("field: %w", err)
			}
		}
	case "context":
		if n := len(b.Elements); n == 0 || n > SlackMaxContext {
			return fmt.Errorf("%d context elements", n)
		}
		for _, e := range b.Elements {
			if err := checkText(e, SlackMaxSectionText); err != nil {
				return fmt.Errorf("context: %w", err)
			}
		}
	case "divider":
	default:
		return fmt.Errorf("unexpected block type %q", b.Type)
	}
	return nil
}

func checkText(t SlackText, max int) error {
	switch t.Type {
	case "plain_text":
	case "mrkdwn":
		if err := escaped(t.Text); err != nil {
			return err
		}
	default:
		return fmt.Errorf("text type %q", t.Type)
	}
	if n := chars(t.Text); n == 0 || n > max {
		return fmt.Errorf("text of %d characters (1 to %d)", n, max)
	}
	return nil
}

var slackEntity = regexp.MustCompile(`&(amp|lt|gt);`)

func escaped(s string) error {
	if rest := slackEntity.ReplaceAllString(s, ""); strings.ContainsAny(rest, "<>&") {
		return fmt.Errorf("unescaped <, > or & in mrkdwn %.80q", s)
	}
	return nil
}

func chars(s string) int { return len(utf16.Encode([]rune(s))) }

// FalcoPriority mirrors falcosidekick's PriorityType: the JSON string is
// read case-insensitively; anything else is the zero (unknown) priority.
type FalcoPriority int

var falcoPriorities = map[string]FalcoPriority{"debug": 1, "informational": 2, "info": 2, "notice": 3, "warning": 4,
	"error": 5, "critical": 6, "alert": 7, "emergency": 8}

func (p *FalcoPriority) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*p = falcoPriorities[strings.ToLower(s)]
	return nil
}

// FalcoPayload has the fields and Go types of falcosidekick's
// types.FalcoPayload, so that decoding fails where falcosidekick's does.
type FalcoPayload struct {
	UUID         string         `json:"uuid,omitempty"`
	Output       string         `json:"output"`
	Priority     FalcoPriority  `json:"priority"`
	Rule         string         `json:"rule"`
	Time         time.Time      `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags,omitempty"`
	Hostname     string         `json:"hostname,omitempty"`
}

// Falco reads a body as falcosidekick's POST / handler does (the first JSON
// value, decoded into FalcoPayload, then Check()), and adds what it does
// not say but does: the rest of the body is ignored (so there must be
// none), k8s.ns.name and k8s.pod.name must be strings (it type-asserts
// them), and strings over 512 characters are cut when the event exceeds
// 4096 bytes.
func Falco(body []byte) (FalcoPayload, error) {
	var p FalcoPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("400 Please send a valid request body: %w", err)
	}
	switch {
	case p.Priority == 0:
		return p, errors.New("400: unknown priority")
	case p.Rule == "":
		return p, errors.New("400: no rule")
	case p.Time.IsZero():
		return p, errors.New("400: no time")
	case len(p.OutputFields) == 0:
		return p, errors.New("400: no output_fields")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return p, errors.New("more than one event in the body: falcosidekick reads the first only")
	}
	for _, k := range []string{"k8s.ns.name", "k8s.pod.name"} {
		if v, ok := p.OutputFields[k]; ok {
			if _, isString := v.(string); !isString {
				return p, fmt.Errorf("output_fields[%s] is not a string: falcosidekick's handler would panic", k)
			}
		}
	}
	if len(body) > 4096 {
		for k, v := range p.OutputFields {
			if s, ok := v.(string); ok && utf8.RuneCountInString(s) > 512 {
				return p, fmt.Errorf("output_fields[%s] of %d characters in an event over 4096 bytes: falcosidekick cuts it", k, utf8.RuneCountInString(s))
			}
		}
	}
	return p, nil
}

// AlertmanagerAlert is one postable alert.
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// Label and annotation names Alertmanager accepts in every mode (classic
// mode allows no more).
var promName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Alertmanager checks a POST /api/v2/alerts body for what every
// Alertmanager accepts: an array; labels present, valid names, values
// non-empty and UTF-8 (empty ones would be dropped); annotation names
// valid; RFC 3339 times with startsAt ≤ endsAt; an absolute generatorURL.
func Alertmanager(body []byte) ([]AlertmanagerAlert, error) {
	var as []AlertmanagerAlert
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&as); err != nil {
		return nil, fmt.Errorf("not an array of postable alerts: %w", err)
	}
	for i, a := range as {
		if len(a.Labels) == 0 {
			return nil, fmt.Errorf("%d: at least one label pair required", i)
		}
		for kind, m := range map[string]map[string]string{"label": a.Labels, "annotation": a.Annotations} {
			for k, v := range m {
				if !promName.MatchString(k) {
					return nil, fmt.Errorf("%d: invalid %s name %q", i, kind, k)
				}
				if v == "" || !utf8.ValidString(v) {
					return nil, fmt.Errorf("%d: %s %s: empty or invalid value %q", i, kind, k, v)
				}
			}
		}
		start, err1 := time.Parse(time.RFC3339Nano, a.StartsAt)
		end, err2 := time.Parse(time.RFC3339Nano, a.EndsAt)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%d: times: %w", i, err)
		}
		if end.Before(start) {
			return nil, fmt.Errorf("%d: start time must be before end time", i)
		}
		if a.GeneratorURL != "" {
			if u, err := url.ParseRequestURI(a.GeneratorURL); err != nil || !u.IsAbs() || u.Host == "" {
				return nil, fmt.Errorf("%d: generatorURL %q is not an absolute URL", i, a.GeneratorURL)
			}
		}
	}
	return as, nil
}

// OpenSSLSignature is "sha256=" and the hex HMAC-SHA256 of
// timestamp + "." + body under key, computed by the openssl command line:
// a verifier that shares no code with the plugin.
func OpenSSLSignature(key, timestamp string, body []byte) (string, error) {
	cmd := exec.Command("openssl", "dgst", "-sha256", "-hmac", key)
	cmd.Stdin = io.MultiReader(strings.NewReader(timestamp+"."), bytes.NewReader(body))
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("openssl (Debian: apt-get install openssl): %w", err)
	}
	// "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.1).
	_, hexsum, ok := strings.Cut(strings.TrimSpace(string(out)), "= ")
	if !ok || len(hexsum) != 64 {
		return "", fmt.Errorf("unexpected openssl output %q", out)
	}
	return "sha256=" + hexsum, nil
}
