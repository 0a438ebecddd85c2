// Package format turns alerts into what a destination accepts: our ECS JSON
// (json, json_lines), Alertmanager's API v2 postable alerts, Splunk HEC
// events, Slack incoming-webhook messages and Falco's JSON output for
// falcosidekick.
//
// An alert enters as the ECS JSON the engine encodes (detect.Alert's
// MarshalJSON), which is also what the sender's spool keeps. Rendering from
// that one shape at send time means that alerts left in the spool by a run
// with another alert_format are delivered in the current one: nothing is
// lost or sent in the wrong shape when the format changes between runs.
//
// A Format renders one alert (Item) and frames a batch of rendered items
// into a request body (Frame): a JSON array, JSON lines, concatenated
// objects, or one alert per request. Only names, namespaces and metadata
// ever reach an item: the ECS alert carries nothing of a request or
// response object, and no format adds anything but its settings.
package format
