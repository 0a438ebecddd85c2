package config

import (
	"errors"
	"strings"
	"testing"
)

func TestMetricsListen(t *testing.T) {
	c, err := Parse(MapGetter{"alert_url": "http://127.0.0.1:9880/alerts"}, Plugin)
	if err != nil || c.MetricsListen != "" {
		t.Fatalf("default: %q, %v; want off", c.MetricsListen, err)
	}
	for _, good := range []string{"0.0.0.0:2021", "127.0.0.1:0", ":2021", "[::]:2021", "[::1]:9102", "localhost:2021"} {
		c, err := Parse(MapGetter{"alert_url": "http://127.0.0.1:9880/alerts", "metrics_listen": good}, Plugin)
		if err != nil || c.MetricsListen != good {
			t.Errorf("metrics_listen %q: %q, %v", good, c.MetricsListen, err)
		}
	}
	for _, bad := range []string{"2021", "0.0.0.0", "0.0.0.0:http", "0.0.0.0:65536", "0.0.0.0:-1", "::1:2021", "http://0.0.0.0:2021", "a b:2021"} {
		_, err := Parse(MapGetter{"alert_url": "http://127.0.0.1:9880/alerts", "metrics_listen": bad}, Plugin)
		var e *Error
		if !errors.As(err, &e) || e.Key != "metrics_listen" || !strings.Contains(err.Error(), bad) {
			t.Errorf("metrics_listen %q: want an error naming the key and the value, got %v", bad, err)
		}
	}
}
