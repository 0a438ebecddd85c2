package logging

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFormatAndLevels(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, Warn, "#0")
	l.now = func() time.Time { return time.Date(2026, 11, 25, 22, 11, 24, 0, time.UTC) }
	l.Infof("hidden")
	l.Warnf("shown %d", 1)
	l.Errorf("also")
	want := "[2026/11/25 22:11:24] [ warn] [k8s_secret_enum] [#0] shown 1\n[2026/11/25 22:11:24] [error] [k8s_secret_enum] [#0] also\n"
	if b.String() != want {
		t.Fatalf("got %q", b.String())
	}
	l.SetLevel(Off)
	l.Errorf("nothing")
	if strings.Count(b.String(), "\n") != 2 {
		t.Fatal("off still logs")
	}
}

func TestEvery(t *testing.T) {
	l := New(&bytes.Buffer{}, Info, "")
	now := time.Unix(100, 0)
	l.now = func() time.Time { return now }
	if !l.Every("k", time.Minute) || l.Every("k", time.Minute) {
		t.Fatal("once per interval")
	}
	now = now.Add(61 * time.Second)
	if !l.Every("k", time.Minute) || !l.Every("other", time.Minute) {
		t.Fatal("after the interval, and per key")
	}
}
