package detect

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// uaRotation is one client reading three secrets with a new user agent per
// request, as curl -A or a scripted client does, from two addresses (the
// last without a user agent at all).
func uaRotation() []*audit.Event {
	return []*audit.Event{
		secretGet(0, "a", ua("curl/8.5.0")),
		secretGet(time.Second, "b", ua("python-requests/2.31")),
		secretGet(2*time.Second, "c", ua(""), ips("10.0.0.10")),
	}
}

// alertMap is an alert as a receiver decodes it.
func alertMap(t *testing.T, a *Alert) map[string]any {
	t.Helper()
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func get(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func TestGroupByUserCatchesRotation(t *testing.T) {
	newHarness(t).feed(uaRotation()...).close().wantAlerts(0)
	newHarness(t, "group_by", "user,source_ip").feed(uaRotation()...).close().wantAlerts(0) // two addresses

	h := newHarness(t, "group_by", "user").feed(uaRotation()...)
	h.wantAlerts(1)
	m := alertMap(t, h.alerts[0])
	for path, want := range map[string]any{
		"user.name":           "mallory",
		"source.ip":           []any{"10.0.0.10", "10.0.0.9"},
		"user_agent.original": []any{"curl/8.5.0", "python-requests/2.31"},
		"alert.group_by":      []any{"user"},
		"related.ip":          []any{"10.0.0.10", "10.0.0.9"},
		"Esql.secrets_names":  []any{"a", "b", "c"},
	} {
		if got := get(m, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	// The id is the UUIDv5 of the key of the grouped fields and the window.
	a := h.alerts[0]
	name := "mallory\x00|" + strconv.FormatInt(a.WindowStart, 10) + "|" + strconv.FormatInt(a.WindowEnd, 10)
	if want := uuid.NewSHA1(uuid.MustParse(rule.RapidSecretGet.ID), []byte(name)).String(); a.ID != want {
		t.Errorf("alert.id %s, want %s", a.ID, want)
	}
}

func TestGroupByUserAndSourceIP(t *testing.T) {
	evs := []*audit.Event{secretGet(0, "a", ua("ua-1")), secretGet(1, "b", ua("ua-2")), secretGet(2, "c", ua(""))}
	h := newHarness(t, "group_by", "source_ip,user").feed(evs...)
	h.wantAlerts(1)
	m := alertMap(t, h.alerts[0])
	if got := get(m, "source.ip"); got != "10.0.0.9" {
		t.Errorf("source.ip %#v: the address is grouped, one value", got)
	}
	if got := get(m, "user_agent.original"); !reflect.DeepEqual(got, []any{"ua-1", "ua-2"}) {
		t.Errorf("user_agent.original %#v", got)
	}
	if got := get(m, "alert.group_by"); !reflect.DeepEqual(got, []any{"user", "source_ip"}) {
		t.Errorf("alert.group_by %#v (the rule's order, whatever the setting's)", got)
	}
	// The order group_by is written in changes nothing.
	o := newHarness(t, "group_by", "user,source_ip").feed(evs...)
	if o.alerts[0].ID != h.alerts[0].ID || o.alerts[0].Fingerprint != h.alerts[0].Fingerprint {
		t.Error("group_by's order changed the ids")
	}
}

func TestGroupByMissingUserAgents(t *testing.T) {
	h := newHarness(t, "group_by", "user").feed(secretGet(0, "a", ua("")), secretGet(1, "b", ua("")), secretGet(2, "c", ua("")))
	h.wantAlerts(1)
	m := alertMap(t, h.alerts[0])
	if _, ok := m["user_agent"]; ok {
		t.Errorf("user_agent present without any: %v", m["user_agent"])
	}
	if got := get(m, "source.ip"); !reflect.DeepEqual(got, []any{"10.0.0.9"}) {
		t.Errorf("source.ip %#v: a list even with one value", got)
	}
}

func TestGroupByDefaultIsTheRule(t *testing.T) {
	for _, kv := range [][]string{nil, {"group_by", "user_agent,source_ip,user"}} {
		h := newHarness(t, kv...).feed(secretGet(0, "a"), secretGet(1, "b"), secretGet(2, "c"))
		h.wantAlerts(1)
		m := alertMap(t, h.alerts[0])
		if _, ok := m["alert"].(map[string]any)["group_by"]; ok {
			t.Errorf("%v: alert.group_by with the rule's grouping", kv)
		}
		if get(m, "source.ip") != "10.0.0.9" || get(m, "user_agent.original") != "curl/8.5.0" {
			t.Errorf("%v: %v %v", kv, m["source"], m["user_agent"])
		}
	}
}

func TestGroupByRefused(t *testing.T) {
	for _, g := range [][]rule.Field{{}, {rule.FieldSourceIP}, {rule.FieldSourceIP, rule.FieldUserAgent}, {rule.FieldUser, rule.FieldName}} {
		s := testSettings(t)
		s.GroupBy = g
		if _, err := New(rule.RapidSecretGet, s); err == nil {
			t.Errorf("group_by %v accepted", g)
		}
	}
}

// A group without the address still requires one: the WHERE clause is
// the rule's.
func TestGroupByKeepsTheWhereClause(t *testing.T) {
	h := newHarness(t, "group_by", "user").feed(secretGet(0, "a"), secretGet(1, "b", ips()), secretGet(2, "c"),
		secretGet(3, "d", ips("127.0.0.1")), secretGet(4, "e", user("")))
	h.wantAlerts(0)
	if s := h.e.Stats(); s.Matched != 2 {
		t.Errorf("matched %d, want 2", s.Matched)
	}
}

func TestGroupBySchedule(t *testing.T) {
	h := newHarness(t, "mode", "schedule", "group_by", "user")
	h.feed(secretGet(time.Minute, "a", ua("x")), secretGet(2*time.Minute, "b", ua("y")),
		secretGet(3*time.Minute, "c", ips("10.0.0.1")), secretGet(3*time.Minute, "a", user("eve")),
		secretGet(3*time.Minute+1, "b", user("eve")), secretGet(3*time.Minute+2, "c", user("eve"), ua("z")))
	h.close()
	h.wantAlerts(2) // the evaluation at 5m: mallory and eve
	var users []string
	for _, a := range h.alerts {
		users = append(users, a.User)
	}
	if strings.Join(users, ",") != "eve,mallory" {
		t.Errorf("order %v: equal counts go by user", users)
	}
	if got := h.alerts[0].UserAgents; !reflect.DeepEqual(got, []string{"curl/8.5.0", "z"}) {
		t.Errorf("eve's user agents %v", got)
	}
}

func TestGroupByRestore(t *testing.T) {
	evs := uaRotation()
	before := newHarness(t, "group_by", "user").feed(evs[:2]...)
	before.wantAlerts(0)
	after := roundTrip(t, before, "group_by", "user")
	after.feed(evs[2])
	after.wantAlerts(1)
	ref := newHarness(t, "group_by", "user").feed(evs...)
	if !reflect.DeepEqual(alertMap(t, after.alerts[0]), alertMap(t, ref.alerts[0])) {
		t.Errorf("after a restart:\n%v\nwithout:\n%v", alertMap(t, after.alerts[0]), alertMap(t, ref.alerts[0]))
	}
	// Fingerprints of another grouping are not taken over, either way.
	if err := newHarness(t).e.Restore(before.e.Snapshot()); err == nil {
		t.Error("a group_by user state restored under the default grouping")
	}
	if err := newHarness(t, "group_by", "user").e.Restore(newHarness(t).feed(evs[0]).e.Snapshot()); err == nil {
		t.Error("a default state restored under group_by user")
	}
}

// A NUL inside a user name or user agent (JSON may carry one as \u0000)
// is the key's separator: it is replaced, under every grouping alike, so
// the value is printed whole and two clients never share a fingerprint.
func TestNULInsideGroupedValues(t *testing.T) {
	for _, groupBy := range []string{"user,source_ip,user_agent", "user,user_agent", "user"} {
		h := newHarness(t, "group_by", groupBy)
		// Without the replacement, "m\x00\x02x" + "y" and "m" + "x\x00\x02y"
		// would both be the key m NUL 2 x NUL 2 y NUL under user,user_agent.
		var evs []*audit.Event
		for i, name := range []string{"a", "b", "c"} {
			e := secretGet(time.Duration(i)*time.Second, name, ua("x\x00\x02y"))
			e.User = "m"
			evs = append(evs, e)
			e = secretGet(time.Duration(i)*time.Second, name+"2", ua("y"))
			e.User = "m\x00\x02x"
			evs = append(evs, e)
		}
		h.feed(evs...).close().wantAlerts(2)
		seen := map[string]bool{}
		for _, a := range h.alerts {
			m := alertMap(t, a)
			user, _ := get(m, "user.name").(string)
			uaText := ""
			switch v := get(m, "user_agent.original").(type) {
			case string:
				uaText = v
			case []any:
				uaText, _ = v[0].(string)
			}
			seen[user+" / "+uaText] = true
		}
		for _, want := range []string{"m / x\uFFFD\x02y", "m\uFFFD\x02x / y"} {
			if !seen[want] {
				t.Errorf("group_by %s: no alert for %q; got %v", groupBy, want, seen)
			}
		}
	}
}
