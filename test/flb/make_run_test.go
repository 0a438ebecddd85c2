package flb

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// runNames are the four secrets the harvest of fluent-bit.conf reads (one
// dummy input each, all at Rate 1, so all four are read within the first
// second or two).
var runNames = []string{"db-credentials", "registry-pull-secret", "stripe-api-key", "tls-wildcard"}

// a. `make run` itself, stopped as a user stops it: Ctrl-C (SIGINT to the
// terminal's foreground process group: make, the shell, Fluent Bit) or
// SIGTERM to make. Either way every alert reaches the receiver and is
// printed, the receiver outliving Fluent Bit: the `new` alert while it
// runs, the `update` (the fourth name) while it shuts down.
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		for _, stop := range []struct {
			name  string
			sig   syscall.Signal
			group bool
		}{{"Ctrl-C", syscall.SIGINT, true}, {"SIGTERM", syscall.SIGTERM, false}} {
			t.Run(stop.name, func(t *testing.T) {
				listen := freeAddr(t)
				env := []string{"FLUENT_BIT=" + fb.Path, "RUN_LISTEN=" + listen}
				p := start(t, "make-run", []string{"make", "--no-print-directory", "run"}, env, repoRoot(t))
				p.waitOutput("an alert printed", func(out string) bool { return len(alertLines(out)) >= 1 })
				p.signal(stop.sig, stop.group)
				err := p.wait()
				out := p.Output()
				if !strings.Contains(out, "make run: Fluent Bit exited with status 0") {
					t.Errorf("make run did not report a clean exit of Fluent Bit (make: %v)", err)
				}
				if stop.sig == syscall.SIGTERM && err != nil {
					// make passes SIGTERM to its child and exits with the
					// child's status only when it was not itself signalled
					t.Logf("make: %v", err)
				}
				noProblems(t, "make run", out)
				alerts := parseAlertLines(t, out)
				checkRunAlerts(t, alerts)
				if want := fmt.Sprintf("%d alerts (%d unique) in", len(alerts), len(alerts)); !strings.Contains(out, want) {
					t.Errorf("the receiver's summary does not say %q", want)
				}
			})
		}
	})
}

// checkRunAlerts checks the alerts of fluent-bit.conf: ci:build-runner's
// `new` alert with three of its four names, then the `update` its mute
// period ends with at exit, listing all four. Their times are the times
// Fluent Bit gave the dummy records, so only their order is checked.
func checkRunAlerts(t *testing.T, alerts []receiver.Alert) {
	t.Helper()
	var got []string
	for _, a := range alerts {
		got = append(got, str(a, "alert.type")+" "+str(a, "user.name")+"@"+str(a, "source.ip")+" ("+str(a, "user_agent.original")+"): "+strings.Join(strs(a, "Esql.secrets_names"), ","))
	}
	if len(alerts) != 2 || str(alerts[0], "alert.type") != "new" || str(alerts[1], "alert.type") != "update" {
		t.Fatalf("want a new alert then an update, got:\n  %s", strings.Join(got, "\n  "))
	}
	for _, a := range alerts {
		if str(a, "user.name") != "system:serviceaccount:ci:build-runner" || str(a, "source.ip") != "10.244.3.17" ||
			str(a, "user_agent.original") != "curl/8.5.0" {
			t.Errorf("fingerprint: %s", gotKey(a))
		}
	}
	newNames, all := strs(alerts[0], "Esql.secrets_names"), strs(alerts[1], "Esql.secrets_names")
	if strings.Join(all, ",") != strings.Join(runNames, ",") {
		t.Errorf("update names %v, want %v", all, runNames)
	}
	if len(newNames) != 3 || !subset(newNames, runNames) {
		t.Errorf("new alert names %v, want three of %v", newNames, runNames)
	}
	if str(alerts[0], "alert.fingerprint") != str(alerts[1], "alert.fingerprint") || alerts[0].ID == alerts[1].ID {
		t.Errorf("the update must share the fingerprint and have an id of its own")
	}
}

func subset(a, b []string) bool {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	for _, s := range a {
		if !in[s] {
			return false
		}
	}
	return true
}

// alertLines are the receiver's printed alerts: one JSON object a line.
func alertLines(out string) []string {
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `{"@timestamp"`) {
			ls = append(ls, l)
		}
	}
	return ls
}

func parseAlertLines(t *testing.T, out string) []receiver.Alert {
	t.Helper()
	var alerts []receiver.Alert
	for _, l := range alertLines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("printed alert: %v: %s", err, l)
		}
		a := receiver.Alert{Fields: m, Raw: json.RawMessage(l)}
		a.ID = str(a, "alert.id")
		alerts = append(alerts, a)
	}
	sort.SliceStable(alerts, func(i, j int) bool { return str(alerts[i], "@timestamp") < str(alerts[j], "@timestamp") })
	return alerts
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// withoutMake drops the variables a parent make passes to its children,
// so that a nested `make run` sees only what the test sets.
func withoutMake(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=") ||
			strings.HasPrefix(kv, "FLUENT_BIT=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
