package flb

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

var (
	portRE      = regexp.MustCompile(`(?m)^(\s*Port\s+)9880\s*$`)
	tailInputRE = regexp.MustCompile(`(?im)^\s*(-\s*)?name:?\s+(tail|http)\s*$`)
	httpInputRE = regexp.MustCompile(`(?im)^\s*(-\s*)?name:?\s+http\s*$`)
)

// The README's deployment configurations (every whole configuration block
// with a tail or http input), run as written with their paths moved into a
// temporary directory (/fluent-bit/ holding the image's files,
// /var/log/kubernetes/audit/ the audit log, /var/lib/ the DB, spool and
// state, the token file a test token) and the SIEM URL pointing at a
// receiver that requires the bearer token. The standard harvest set goes in
// through the file, or in one EventList POST for the webhook, and its
// alerts must come out.
func TestREADMEConfigurations(t *testing.T) {
	var blocks []readmeBlock
	for _, b := range readmeBlocks(t) {
		whole := strings.Contains(b.text, "[SERVICE]") || strings.Contains(b.text, "pipeline:")
		// The loopback's wiring is an excerpt of deploy/loopback, which
		// loopback_test.go runs (TestLoopbackREADME keeps them equal).
		loopback := strings.Contains(b.text, loopbackTag)
		if whole && !loopback && tailInputRE.MatchString(b.text) {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) < 3 {
		t.Fatalf("found %d deployment configurations in the README, want the tail one in both formats and the webhook", len(blocks))
	}
	s, wants := standard()
	eachFluentBit(t, func(t *testing.T, fb fluentBit) {
		for _, b := range blocks {
			t.Run(b.lang+"-line-"+strconv.Itoa(b.line), func(t *testing.T) {
				dir := t.TempDir()
				root := filepath.Join(dir, "fluent-bit")
				imageLayout(t, fb, root)
				// the DaemonSet's hostPath mounts (Fluent Bit does not create the
				// DB's directory)
				for _, d := range []string{"fluent-bit", "k8s-secret-enum"} {
					if err := os.MkdirAll(filepath.Join(dir, "var-lib", d), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				token := filepath.Join(dir, "token")
				writeFile(t, token, []byte("test-token\n"))
				rcv := receiver.Start(t, receiver.Options{})
				if strings.Contains(b.text, "/var/run/secrets/siem/token") {
					rcv.RequireHeader("Authorization", "Bearer test-token")
				}
				addr := freeAddr(t)
				_, port, _ := net.SplitHostPort(addr)
				text := strings.NewReplacer(
					imageRoot, root+"/",
					"/var/log/kubernetes/audit/", dir+"/",
					"/var/lib/", dir+"/var-lib/",
					"/var/run/secrets/siem/token", token,
					"https://siem.example.com/api/alerts", rcv.URL()+"/alerts",
				).Replace(b.text)
				text = portRE.ReplaceAllString(text, "${1}"+port)
				config := filepath.Join(dir, "fluent-bit."+map[string]string{"ini": "conf", "yaml": "yaml"}[b.lang])
				writeFile(t, config, []byte(text))
				webhook := httpInputRE.MatchString(text)
				log := filepath.Join(dir, "audit.log")
				if !webhook {
					writeFile(t, log, nil)
				}
				p := start(t, "fluent-bit-"+fb.Version, []string{fb.Path, "-c", config}, nil, "")
				run := &fluentBitRun{proc: p, fb: fb}
				if webhook {
					run.started(0)
					postWhenUp(t, &http.Client{}, "http://127.0.0.1:"+port+"/kube.audit", eventList(s.lines()), run)
				} else {
					// without Read_from_Head, tail starts at the end of the file it
					// finds at start: the API server's lines come after
					run.waitFor("inotify_fs_add(): inode=", 1)
					appendFile(t, log, joinLines(s.lines()))
				}
				waitForSentinel(t, rcv)
				run.stopClean()
				exactly(t, rcv.Alerts(), wants...)
			})
		}
	})
}
