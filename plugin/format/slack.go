package format

import (
	"strconv"
	"strings"
)

// Slack's limits on a message's parts (Block Kit reference), in
// characters; the values here are bytes, which never count fewer.
const (
	slackText    = 3000 // top-level text (notifications) and a section's text
	slackField   = 2000 // one section field
	slackHeader  = 150  // a header's plain_text
	slackContext = 2000
	slackFields  = 10 // fields per section
)

type slackTextObject struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string            `json:"type"`
	Text     *slackTextObject  `json:"text,omitempty"`
	Fields   []slackTextObject `json:"fields,omitempty"`
	Elements []slackTextObject `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slack is an incoming-webhook message: a one-line text (the notification
// and the fallback) and blocks listing who, from where, how many and which
// names. Every value from the audit log is escaped for mrkdwn, so a user
// named "<!channel>" cannot ping a channel.
func (f *Format) slack(a *alert) slackMessage {
	ua := a.userAgents().shown(f.maxNames())
	field := func(label, value string) slackTextObject {
		head := "*" + label + "*\n"
		return slackTextObject{Type: "mrkdwn", Text: head + mrkdwn(orNone(value), slackField-len(head))}
	}
	fields := []slackTextObject{
		field("User", a.user()),
		field("Source IP", a.sourceIPs().shown(f.maxNames())),
		field("User agent", ua),
		field("Distinct secrets", strconv.Itoa(a.distinct())),
		field("Reads", strconv.Itoa(a.Event.Count)),
		field("Namespaces", listed(a.Esql.Namespaces, f.maxNames())),
		field("Outcomes", strings.Join(a.Esql.Outcomes, ", ")),
		field("Window", a.Window.Start+" – "+a.Window.End),
	}
	kind := a.Alert.Type
	if a.Alert.Truncated {
		kind += " (truncated: more activity than the limits kept)"
	}
	fields = append(fields, field("Alert", kind))
	if imp := a.impersonated(); len(imp) > 0 {
		fields = append(fields, field("Impersonated", strings.Join(imp, ", ")))
	}
	fields = fields[:min(len(fields), slackFields)]

	names := a.Esql.Names
	head := "*Secret names*"
	if n := f.maxNames(); len(names) > n {
		head += " (first " + strconv.Itoa(n) + " of " + strconv.Itoa(len(names)) + ")"
	}
	head += "\n"
	summary := "Kubernetes secret enumeration: " + a.summary()
	return slackMessage{
		Text: mrkdwn(summary, slackText),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackTextObject{Type: "plain_text",
				Text: cut("Secret enumeration by "+orNone(a.user()), slackHeader)}},
			{Type: "section", Text: &slackTextObject{Type: "mrkdwn", Text: mrkdwn(a.summary(), slackText)}, Fields: fields},
			{Type: "section", Text: &slackTextObject{Type: "mrkdwn",
				Text: head + mrkdwn(orNone(listed(names, f.maxNames())), slackText-len(head))}},
			{Type: "context", Elements: []slackTextObject{{Type: "mrkdwn", Text: mrkdwn(
				"k8s-secret-enum · "+a.Rule.Name+" · alert "+a.Alert.ID+" · fingerprint "+a.Alert.Fingerprint, slackContext)}}},
		},
	}
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// mrkdwn escapes s for Slack's mrkdwn (the only three characters Slack
// asks to escape; "<" starts its link and mention syntax), then cuts it to
// n bytes without splitting an entity.
func mrkdwn(s string, n int) string {
	s = mrkdwnEscaper.Replace(s)
	if len(s) <= n {
		return s
	}
	c := cut(s, n)
	body := strings.TrimSuffix(c, "…")
	if amp := strings.LastIndexByte(body, '&'); amp >= 0 && !strings.Contains(body[amp:], ";") {
		return body[:amp] + c[len(body):]
	}
	return c
}
