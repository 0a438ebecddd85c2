// Package metricscrape reads the plugin's metrics endpoint as Prometheus
// does, for the tests of every layer (in-process, the C host, real Fluent
// Bit, the rendered Helm chart): one parser, so that they all check the
// same exposition.
package metricscrape

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape GETs http://addr/metrics, parses it with Prometheus' text parser
// and returns the plugin's counters and gauges by their output label:
// output → "name{other labels}" → value.
func Scrape(addr string) (map[string]map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("the Prometheus text parser refuses the scrape: %w", err)
	}
	out := map[string]map[string]float64{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "k8s_secret_enum_") {
			continue
		}
		for _, m := range f.Metric {
			var output string
			var extra []string
			for _, l := range m.Label {
				if l.GetName() == "output" {
					output = l.GetValue()
				} else {
					extra = append(extra, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
			}
			key := name
			if len(extra) > 0 {
				key += "{" + strings.Join(extra, ",") + "}"
			}
			if out[output] == nil {
				out[output] = map[string]float64{}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[output][key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[output][key] = m.GetGauge().GetValue()
			}
		}
	}
	return out, nil
}

// Get GETs url and returns the status code and the body.
func Get(url string) (int, string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
