package detect

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

// testSettings are the rule's defaults (as the plugin's settings table
// declares them) with the given keys changed: the engine's tests speak the
// plugin's key names without depending on the plugin.
func testSettings(t testing.TB, kv ...string) Settings {
	t.Helper()
	s := Settings{
		Mode: ModeStream, Threshold: rule.RapidSecretGet.Threshold, Window: 6 * time.Minute,
		Suppress: 5 * time.Minute, Interval: 5 * time.Minute, AllowedLateness: 30 * time.Second,
		IdleTimeout: 30 * time.Second, MaxClockSkew: 10 * time.Minute, MaxAlerts: 100,
		SourceIP: rule.SourceIPPeer, Exclusions: map[string][]string{},
		MaxFingerprints: 100000, MaxNamesPerFingerprint: 1000,
	}
	for _, x := range rule.RapidSecretGet.Exclusions {
		s.Exclusions[x.Setting] = x.Default
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k, v := kv[i], kv[i+1]
		d, derr := time.ParseDuration(v)
		n, nerr := strconv.Atoi(v)
		switch k {
		case "mode":
			s.Mode = map[string]Mode{"stream": ModeStream, "schedule": ModeSchedule}[v]
		case "source_ip":
			s.SourceIP = map[string]rule.SourceIPMode{"peer": rule.SourceIPPeer, "client": rule.SourceIPClient, "elastic": rule.SourceIPElastic}[v]
		case "window":
			s.Window, nerr = d, derr
		case "suppress":
			s.Suppress, nerr = d, derr
		case "interval":
			s.Interval, nerr = d, derr
		case "allowed_lateness":
			s.AllowedLateness, nerr = d, derr
		case "reorder_delay":
			s.ReorderDelay, nerr = d, derr
		case "idle_timeout":
			s.IdleTimeout, nerr = d, derr
		case "max_clock_skew":
			s.MaxClockSkew, nerr = d, derr
		case "threshold":
			s.Threshold = n
		case "max_alerts":
			s.MaxAlerts = n
		case "max_fingerprints":
			s.MaxFingerprints = n
		case "max_names_per_fingerprint":
			s.MaxNamesPerFingerprint = n
		case "group_by":
			s.GroupBy, nerr = []rule.Field{}, nil
			for _, g := range strings.Split(v, ",") {
				f := map[string]rule.Field{"user": rule.FieldUser, "source_ip": rule.FieldSourceIP, "user_agent": rule.FieldUserAgent}[g]
				if f == rule.FieldNone {
					t.Fatalf("testSettings: group_by %q", g)
				}
				s.GroupBy = append(s.GroupBy, f)
			}
		default:
			if _, ok := s.Exclusions[k]; !ok {
				t.Fatalf("testSettings: no key %q", k)
			}
			s.Exclusions[k], nerr = nil, nil
			if v != "none" {
				s.Exclusions[k] = strings.Split(v, ",")
			}
		}
		if _, isList := s.Exclusions[k]; nerr != nil && !isList && k != "mode" && k != "source_ip" {
			t.Fatalf("testSettings: %s=%s: %v", k, v, nerr)
		}
	}
	return s
}
