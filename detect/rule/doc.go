// Package rule writes a detection of the family "one client touches many
// distinct things in a short window" as data (Rule): which audit events it
// counts, the field it counts distinct, the fields it groups by, its
// threshold, its allowlists and the columns its alerts carry. Compile turns
// a Rule and the plugin's source-address choice and exclusion lists into a
// Filter, the rule's WHERE clause; the engine (package detect) knows
// nothing of secrets. RapidSecretGet is Elastic's rule.
package rule
