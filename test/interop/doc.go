// Package interop checks what the plugin sends with the destinations' own
// code rather than with our reading of their documentation:
// Alertmanager's API v2 models (PostableAlerts.Validate) and label-name
// rules, and Alertmanager's API handler and alert store, run in process
// in classic mode (the strictest label-name rules), receiving the alerts
// the plugin's .so posts through the C host.
package interop
