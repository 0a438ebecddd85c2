package flb

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

// The loopback configuration (deploy/loopback): the plugin POSTs its
// alerts to an http input of the same Fluent Bit, and a second pipeline
// sends them on with a Fluent Bit output.

const (
	loopbackTag   = "k8s.secret_enum.alerts"
	loopbackPort  = "9880"
	tagHeader     = "X-Fluent-Tag"
	shippedPlugin = "/fluent-bit/lib/out_k8s_secret_enum.so"
	shippedPlugFn = "/fluent-bit/etc/plugins.conf"
	shippedAudit  = "/var/log/kubernetes/audit/"
	shippedState  = "/var/lib/k8s-secret-enum/"
)

// loopbackRun is a shipped loopback configuration laid out for a test: its
// host paths moved under dir, the http input on a free port.
type loopbackRun struct {
	config   string // the rewritten configuration
	auditLog string
	spool    string
	storage  string
	port     int
}

// layLoopback rewrites deploy/loopback/<file>: the host paths go under a
// temporary directory, the plugin is the one under test, the http input
// and alert_url use a free port, dest (if not "") replaces the es output,
// and keys are added to the plugin's output. Nothing else changes.
func layLoopback(t *testing.T, file, dest string, keys ...string) loopbackRun {
	t.Helper()
	text := string(readFile(t, filepath.Join(repoRoot(t), "deploy", "loopback", file)))
	yaml := strings.HasSuffix(file, ".yaml")
	dir := t.TempDir()
	for _, d := range []string{"audit", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lb := loopbackRun{config: filepath.Join(dir, file), auditLog: filepath.Join(dir, "audit", "audit.log"),
		spool: filepath.Join(dir, "state", "spool"), storage: filepath.Join(dir, "state", "flb-storage")}
	_, portText, _ := strings.Cut(freeAddr(t), ":")
	lb.port, _ = strconv.Atoi(portText)

	mustReplace := func(old, new string) {
		t.Helper()
		if !strings.Contains(text, old) {
			t.Fatalf("deploy/loopback/%s no longer holds %q", file, old)
		}
		text = strings.ReplaceAll(text, old, new)
	}
	if yaml {
		mustReplace(shippedPlugin, plugin(t))
	} else {
		plugins := filepath.Join(dir, "plugins.conf")
		writeFile(t, plugins, []byte("[PLUGINS]\n    Path "+plugin(t)+"\n"))
		mustReplace(shippedPlugFn, plugins)
	}
	mustReplace(shippedAudit, filepath.Join(dir, "audit")+"/")
	mustReplace(shippedState, filepath.Join(dir, "state")+"/")
	mustReplace("http://127.0.0.1:"+loopbackPort+"/"+loopbackTag, fmt.Sprintf("http://127.0.0.1:%d/%s", lb.port, loopbackTag))
	portRE := regexp.MustCompile(`(?mi)^(\s*port:?\s+)` + loopbackPort + `\s*$`)
	if len(portRE.FindAllString(text, -1)) != 1 {
		t.Fatalf("deploy/loopback/%s: want one http input on port %s", file, loopbackPort)
	}
	text = portRE.ReplaceAllString(text, "${1}"+strconv.Itoa(lb.port))
	if dest != "" {
		text = replaceOutput(t, text, yaml, "es", dest)
	}
	if len(keys) > 0 {
		text = addPluginKeys(t, text, yaml, keys...)
	}
	writeFile(t, lb.config, []byte(text))
	return lb
}

// replaceOutput replaces the output named name (a classic [OUTPUT]
// section, or an item of a YAML list) with with.
func replaceOutput(t *testing.T, text string, yaml bool, name, with string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	var out []string
	found := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if yaml {
			m := regexp.MustCompile(`^(\s*)- name: ` + regexp.QuoteMeta(name) + `\s*$`).FindStringSubmatch(l)
			if m == nil {
				out = append(out, l)
				continue
			}
			found++
			indent := len(m[1])
			j := i + 1
			for ; j < len(lines); j++ {
				trim := strings.TrimLeft(lines[j], " ")
				if trim != "" && len(lines[j])-len(trim) <= indent {
					break
				}
			}
			out = append(out, with)
			i = j - 1
			continue
		}
		if strings.TrimSpace(l) != "[OUTPUT]" {
			out = append(out, l)
			continue
		}
		j := i + 1
		isIt := false
		for ; j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), "["); j++ {
			if f := strings.Fields(lines[j]); len(f) == 2 && strings.EqualFold(f[0], "name") && f[1] == name {
				isIt = true
			}
		}
		if !isIt {
			out = append(out, l)
			continue
		}
		found++
		out = append(out, with)
		i = j - 1
	}
	if found != 1 {
		t.Fatalf("%d outputs named %s, want one", found, name)
	}
	return strings.Join(out, "\n")
}

// addPluginKeys adds key/value pairs to the k8s_secret_enum output, after
// its alert_url.
func addPluginKeys(t *testing.T, text string, yaml bool, kv ...string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\s*)alert_url(:?)(\s+).*$`)
	loc := re.FindStringSubmatchIndex(text)
	if loc == nil {
		t.Fatal("no alert_url")
	}
	indent := text[loc[2]:loc[3]]
	var add strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if yaml {
			fmt.Fprintf(&add, "\n%s%s: %s", indent, kv[i], kv[i+1])
		} else {
			fmt.Fprintf(&add, "\n%s%s %s", indent, kv[i], kv[i+1])
		}
	}
	return text[:loc[1]] + add.String() + text[loc[1]:]
}

// httpDestination is an http output to rcv in place of the shipped es
// output: records as a JSON array, no date key added, the tag in a header.
func httpDestination(t *testing.T, rcv *receiver.Receiver, yaml bool) string {
	t.Helper()
	u, err := url.Parse(rcv.URL())
	if err != nil {
		t.Fatal(err)
	}
	kv := [][2]string{{"name", "http"}, {"match", loopbackTag}, {"host", u.Hostname()}, {"port", u.Port()},
		{"uri", "/alerts"}, {"format", "json"}, {"json_date_key", "false"}, {"header_tag", tagHeader},
		{"retry_limit", "no_limits"}, {"storage.total_limit_size", "256M"}}
	var b strings.Builder
	if yaml {
		for i, p := range kv {
			if i == 0 {
				fmt.Fprintf(&b, "    - %s: %s", p[0], p[1])
			} else {
				fmt.Fprintf(&b, "\n      %s: %s", p[0], p[1])
			}
		}
		return b.String()
	}
	b.WriteString("[OUTPUT]")
	for _, p := range kv {
		fmt.Fprintf(&b, "\n    %-24s %s", p[0], p[1])
	}
	return b.String() + "\n"
}

// hasOutput reports whether fb was built with the output plugin name.
func hasOutput(t *testing.T, fb fluentBit, name string) bool {
	t.Helper()
	out, _ := exec.Command(fb.Path, "--help").CombinedOutput()
	_, outputs, _ := strings.Cut(string(out), "Outputs")
	outputs, _, _ = strings.Cut(outputs, "Internal")
	for _, l := range strings.Split(outputs, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// runLoopback starts fb on a laid-out loopback configuration (it loads the
// plugin itself) and waits until the tail input watches the audit log:
// without Read_from_Head, lines written before that are not read.
func runLoopback(t *testing.T, fb fluentBit, lb loopbackRun) *fluentBitRun {
	t.Helper()
	if _, err := os.Stat(lb.auditLog); err != nil {
		writeFile(t, lb.auditLog, nil)
	}
	r := &fluentBitRun{proc: start(t, "fluent-bit-"+fb.Version, []string{fb.Path, "-c", lb.config}, nil, ""), fb: fb}
	r.started(0)
	r.waitOutput("the tail input watching "+lb.auditLog, func(out string) bool {
		return strings.Contains(out, "inotify_fs_add") && strings.Contains(out, lb.auditLog)
	})
	return r
}

var notAuditRE = regexp.MustCompile(`\[k8s_secret_enum\] \[#\d+\] stats: .*not_audit=(\d+)`)

// noLoop checks the stats lines: the plugin never got a record that was
// not an audit event (its own alerts, had the alert pipeline fed it).
func noLoop(t *testing.T, out string) {
	t.Helper()
	ms := notAuditRE.FindAllStringSubmatch(out, -1)
	if len(ms) == 0 {
		t.Fatalf("no stats line")
	}
	for _, m := range ms {
		if m[1] != "0" {
			t.Errorf("the plugin read %s records that were not audit events: its own alerts came back", m[1])
		}
	}
}

// waitForUsers waits until the receiver has an alert of each user.
func waitForUsers(t *testing.T, rcv *receiver.Receiver, users ...string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		alerts := rcv.Alerts()
		missing := 0
		for _, u := range users {
			found := false
			for _, a := range alerts {
				found = found || str(a, "user.name") == u
			}
			if !found {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if _, err := rcv.WaitForAlerts(len(alerts)+1, time.Until(deadline)); err != nil {
			t.Fatalf("alerts of %d of %v missing: %v", missing, users, err)
		}
	}
}

// checkRecords checks what the destination got: requests tagged
// k8s.secret_enum.alerts, each alert a record of its own that is the
// alert as the plugin made it (nothing added: the http output's date key
// is off).
func checkRecords(t *testing.T, rcv *receiver.Receiver) {
	t.Helper()
	for _, r := range rcv.Requests() {
		if !r.Accepted() {
			continue
		}
		if tag := r.Header.Get(tagHeader); tag != loopbackTag {
			t.Errorf("request %d tagged %q, want %q", r.Index, tag, loopbackTag)
		}
		for _, a := range r.Alerts {
			if _, ok := a.Fields["date"]; ok || a.ID == "" || str(a, "rule.id") == "" {
				t.Errorf("a record is not one alert: %s", a.Raw)
			}
		}
	}
}

// j. Loopback, classic and YAML: the shipped configuration with its es
// output swapped for an http output to a receiver. Alerts arrive there as
// records, one per alert, tagged k8s.secret_enum.alerts. The alert raised
// at shutdown cannot take the loopback (the http input has stopped): it
// waits in the spool and arrives after the next start.
//
//   - ciRunner reads p-a … p-c (1s … 3s): `new` at 3s; p-d at 4s, in the
//     mute period: `update` at 3s+5m, raised at shutdown; the sentinel at 6s.
func TestLoopback(t *testing.T) {
	s := harvest(ciRunner, time.Second, time.Second, "p-a", "p-b", "p-c", "p-d")
	s = append(s, leases(20, 0)...)
	end, endWant := sentinel(6 * time.Second)
	s = append(s, end...)
	wants := []want{
		{typ: "new", c: ciRunner, at: 3 * time.Second, names: []string{"p-a", "p-b", "p-c"}},
		{typ: "update", c: ciRunner, at: 3*time.Second + 5*time.Minute, names: []string{"p-a", "p-b", "p-c", "p-d"}},
		endWant,
	}
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		for _, file := range []string{"fluent-bit.conf", "fluent-bit.yaml"} {
			t.Run(file, func(t *testing.T) {
				rcv := receiver.Start(t, receiver.Options{})
				lb := layLoopback(t, file, httpDestination(t, rcv, strings.HasSuffix(file, ".yaml")))
				run := runLoopback(t, fb, lb)
				appendFile(t, lb.auditLog, joinLines(s.lines()))
				waitForSentinel(t, rcv)
				run.stopClean("exit: 1 alert(s) not delivered (1 still pending, kept in " + lb.spool)
				if n := countFiles(lb.spool, ".json"); n != 1 {
					t.Errorf("%d alerts in the spool after the first run, want the update", n)
				}
				noLoop(t, run.Output())

				again := runLoopback(t, fb, lb)
				waitForUsers(t, rcv, ciRunner.user, sentinelClient.user)
				for len(rcv.Alerts()) < len(wants) {
					if _, err := rcv.WaitForAlerts(len(wants), waitLimit); err != nil {
						t.Fatal(err)
					}
				}
				again.stopClean()
				noLoop(t, again.Output())
				exactly(t, rcv.Alerts(), wants...)
				checkRecords(t, rcv)
			})
		}
	})
}

// k. Loopback with the destination down and a SIGKILL: the alerts the
// http input took (201) are in its filesystem chunks only (the plugin's
// spool is empty); Fluent Bit is killed, restarted with the destination
// back, and delivers them with the later ones. A duplicate may arrive
// (a chunk delivered but not yet marked done), with the same alert.id.
//
//   - part 1, destination down: ciRunner p-a … p-c (1s … 3s) and intruder
//     r-a … r-c (4s … 6s): `new` at 3s and 6s, taken by the http input.
//   - part 2, after the restart: backup b-a … b-c (8s … 10s), the sentinel
//     at 12s.
func TestLoopbackKill(t *testing.T) {
	part1 := harvest(ciRunner, time.Second, time.Second, "p-a", "p-b", "p-c")
	part1 = append(part1, harvest(intruder, 4*time.Second, time.Second, "r-a", "r-b", "r-c")...)
	part2 := harvest(backup, 8*time.Second, time.Second, "b-a", "b-b", "b-c")
	end, endWant := sentinel(12 * time.Second)
	part2 = append(part2, end...)
	for i := range part2 {
		part2[i].id = 1000 + i
	}
	wants := []want{
		{typ: "new", c: ciRunner, at: 3 * time.Second, names: []string{"p-a", "p-b", "p-c"}},
		{typ: "new", c: intruder, at: 6 * time.Second, names: []string{"r-a", "r-b", "r-c"}},
		{typ: "new", c: backup, at: 10 * time.Second, names: []string{"b-a", "b-b", "b-c"}},
		endWant,
	}
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcv := receiver.Start(t, receiver.Options{})
		rcv.Down()
		metrics := freeAddr(t)
		lb := layLoopback(t, "fluent-bit.conf", httpDestination(t, rcv, false), "metrics_listen", metrics)
		run := runLoopback(t, fb, lb)
		appendFile(t, lb.auditLog, joinLines(part1.lines()))
		// Both alerts are Fluent Bit's once the http input answered them.
		deadline := time.Now().Add(waitLimit)
		for scrape(t, metrics)["0"]["k8s_secret_enum_alerts_sent_total"] < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("the http input did not take both alerts within %v", waitLimit)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := countFiles(lb.spool, ".json"); n != 0 {
			t.Fatalf("%d alerts still in the plugin's spool", n)
		}
		run.kill()
		chunks := countFiles(lb.storage, ".flb")
		t.Logf("killed with %d chunk file(s) in storage.path", chunks)
		if chunks == 0 {
			t.Fatalf("no chunk in %s: the alerts were not buffered on disk", lb.storage)
		}
		if len(rcv.Alerts()) != 0 {
			t.Fatalf("the destination was down, yet it has alerts")
		}

		if err := rcv.Up(); err != nil {
			t.Fatal(err)
		}
		again := runLoopback(t, fb, lb)
		appendFile(t, lb.auditLog, joinLines(part2.lines()))
		waitForUsers(t, rcv, ciRunner.user, intruder.user, backup.user, sentinelClient.user)
		// The restarted plugin read part 2 only (the tail DB resumed after
		// part 1): the first two alerts came from the replayed chunks.
		if got := scrape(t, metrics)["0"]["k8s_secret_enum_records_total"]; got != float64(len(part2)) {
			t.Errorf("the restarted plugin read %v records, want the %d of part 2", got, len(part2))
		}
		again.stopClean()
		noLoop(t, again.Output())
		dedupedExactly(t, rcv.Alerts(), wants...)
		checkRecords(t, rcv)
	})
}

// l. What the http input takes (formats.md, section 5): alert_format
// json_lines sends application/x-ndjson, which it refuses with 400; the
// plugin counts the alert as rejected and nothing reaches the destination.
// (json, the shipped format, is what every other loopback case runs.)
func TestLoopbackRefusesJSONLines(t *testing.T) {
	s := harvest(ciRunner, time.Second, time.Second, "p-a", "p-b", "p-c")
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		rcv := receiver.Start(t, receiver.Options{})
		lb := layLoopback(t, "fluent-bit.conf", httpDestination(t, rcv, false), "alert_format", "json_lines",
			"alert_retry_max", "0")
		run := runLoopback(t, fb, lb)
		appendFile(t, lb.auditLog, joinLines(s.lines()))
		run.waitFor("alerts with 400 Bad Request, not retrying", 1)
		run.stop()
		st := lastStatsLine(t, run.Output())
		if !strings.Contains(st, "sent=0 ") || !strings.Contains(st, "rejected=1 ") {
			t.Errorf("stats: %s; want sent=0 rejected=1", st)
		}
		if n := len(rcv.Alerts()); n != 0 {
			t.Errorf("%d alerts reached the destination", n)
		}
	})
}

func lastStatsLine(t *testing.T, out string) string {
	t.Helper()
	var last string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "] stats: ") {
			last = l
		}
	}
	if last == "" {
		t.Fatal("no stats line")
	}
	return last
}

// m. --dry-run of both shipped loopback configurations: as they are where
// the Fluent Bit under test has the es output (the official builds do),
// else with es swapped for the http output, which is all that changes.
func TestLoopbackDryRun(t *testing.T) {
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		es := hasOutput(t, fb, "es")
		if !es {
			t.Logf("%s has no es output: dry-run with the http output in its place", fb.Path)
		}
		for _, file := range []string{"fluent-bit.conf", "fluent-bit.yaml"} {
			dest := ""
			if !es {
				dest = httpDestination(t, receiver.Start(t, receiver.Options{}), strings.HasSuffix(file, ".yaml"))
			}
			lb := layLoopback(t, file, dest)
			dryRun(t, fb, nil, "-c", lb.config)
		}
	})
}

// missingOutput names an output of a classic configuration that fb was
// not built with ("" when there is none): the README's destinations use
// outputs a minimal build leaves out.
func missingOutput(t *testing.T, fb fluentBit, text string) string {
	t.Helper()
	for _, sec := range strings.Split(text, "[OUTPUT]")[1:] {
		for _, l := range strings.Split(sec, "\n") {
			if f := strings.Fields(l); len(f) == 2 && strings.EqualFold(f[0], "name") {
				if f[1] != "k8s_secret_enum" && !hasOutput(t, fb, f[1]) {
					return f[1]
				}
				break
			}
		}
	}
	return ""
}

// sections splits a classic configuration into its sections, each the
// list of its non-comment lines with blanks collapsed.
func sections(text string) [][]string {
	var out [][]string
	for _, l := range strings.Split(text, "\n") {
		l = strings.Join(strings.Fields(l), " ")
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			out = append(out, []string{l})
		case len(out) > 0:
			out[len(out)-1] = append(out[len(out)-1], l)
		}
	}
	return out
}

// n. The README's loopback wiring is an excerpt of deploy/loopback/
// fluent-bit.conf: each of its sections is one of the file's, line for
// line (the file is what the other loopback cases run; TestDryRun runs the
// README's block).
func TestLoopbackREADME(t *testing.T) {
	shipped := sections(string(readFile(t, filepath.Join(repoRoot(t), "deploy", "loopback", "fluent-bit.conf"))))
	found := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "ini" || !strings.Contains(b.text, "[SERVICE]") || !strings.Contains(b.text, loopbackTag) {
			continue
		}
		found++
		for _, sec := range sections(b.text) {
			ok := false
			for _, s := range shipped {
				ok = ok || strings.Join(s, "\n") == strings.Join(sec, "\n")
			}
			if !ok {
				t.Errorf("README line %d: this section is not deploy/loopback/fluent-bit.conf's:\n%s", b.line, strings.Join(sec, "\n"))
			}
		}
	}
	if found != 1 {
		t.Errorf("%d loopback configurations in the README, want 1", found)
	}
}
