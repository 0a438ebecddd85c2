package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/detect/audit"
	"github.com/k8s-secret-enum/k8s-secret-enum/detect/rule"
)

func benchEngine(b *testing.B, kv ...string) *Engine {
	e, err := New(rule.RapidSecretGet, testSettings(b, kv...))
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// A non-matching event: the common case (a lease update, a pod list).
func BenchmarkEngineNonMatching(b *testing.B) {
	e := benchEngine(b)
	ev := secretGet(0, "a", func(e *audit.Event) { e.Verb = "update"; e.Resource = "leases" })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Time = t0 + int64(i)*1000
		e.Process(ev)
	}
}

// A matching event of a fingerprint that reads the same few secrets
// (a controller re-reading its secrets), below the threshold.
func BenchmarkEngineMatching(b *testing.B) {
	e := benchEngine(b)
	names := []string{"db-password", "api-token"}
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("system:serviceaccount:app-%d:default", i)
	}
	ev := secretGet(0, "")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Time = t0 + int64(i)*int64(time.Millisecond)
		ev.User = users[i%len(users)]
		ev.Name = names[(i/len(users))%2]
		e.Process(ev)
	}
}

// Matching events that keep alerting: one new fingerprint harvesting
// three secrets every few events.
func BenchmarkEngineAlerting(b *testing.B) {
	alerts := 0
	e := benchEngine(b)
	ev := secretGet(0, "")
	users := make([]string, 4096)
	for i := range users {
		users[i] = fmt.Sprintf("attacker-%d", i)
	}
	names := []string{"a", "b", "c"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Time = t0 + int64(i)*int64(time.Millisecond)
		ev.User = users[(i/3)%len(users)]
		ev.Name = names[i%3]
		e.Process(ev)
		alerts += len(e.TakeAlerts())
	}
	b.ReportMetric(float64(alerts)/float64(b.N), "alerts/op")
}
