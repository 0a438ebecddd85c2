package audit

import (
	"time"
	"unsafe"
)

// Event times that count: after the Unix epoch and before 2200. Kubernetes
// did not exist before the one, and the other keeps every sum of a time and
// a duration far from overflowing.
var (
	MinTime = int64(1)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// ParseTime reads an RFC 3339 timestamp (the API server writes
// microseconds and "Z") as Unix nanoseconds.
func ParseTime(s string) (int64, bool) {
	if ns, ok := parseUTC(s); ok {
		return ns, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	// Years outside 1678..2262 do not fit int64 nanoseconds; such an event
	// time is meaningless for a real-time detector.
	if y := t.Year(); y < 1678 || y > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}

// borrow views b as a string without copying. The string is valid only as
// long as b is neither modified nor released: the contract of Event.
func borrow(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Borrow is borrow for decoders outside this package.
func Borrow(b []byte) string { return borrow(b) }

// parseUTC reads the one layout the API server writes,
// 2006-01-02T15:04:05.999999999Z, without time.Parse's generality (every
// audit event pays for its timestamp). Anything else, including values
// time.Parse would reject, goes to time.Parse; a fuzz test holds the two
// to the same answers.
func parseUTC(s string) (int64, bool) {
	if len(s) < 20 || len(s) > 30 {
		return 0, false
	}
	minute, ok := parseMinute(s[:16])
	if !ok {
		return 0, false
	}
	within, ok := parseWithinMinute(s[16:])
	return minute + within, ok
}

// parseMinute reads "2006-01-02T15:04" as Unix nanoseconds.
func parseMinute(s string) (int64, bool) {
	if len(s) != 16 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' {
		return 0, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	min, ok5 := digits(s[14:16])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || year < 1678 || year > 2261 || month < 1 || month > 12 ||
		day < 1 || day > daysIn(month, year) || hour > 23 || min > 59 {
		return 0, false
	}
	days := daysFromCivil(year, month, day)
	return ((days*24+int64(hour))*60 + int64(min)) * 60 * 1e9, true
}

// parseWithinMinute reads ":05.999999999Z" (the fraction optional, 1 to 9
// digits) as nanoseconds.
func parseWithinMinute(s string) (int64, bool) {
	if len(s) < 4 || s[0] != ':' || s[len(s)-1] != 'Z' {
		return 0, false
	}
	sec, ok := digits(s[1:3])
	if !ok || sec > 59 {
		return 0, false
	}
	var frac int64
	rest := s[3 : len(s)-1]
	if rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		f, ok := digits(rest[1:])
		if !ok {
			return 0, false
		}
		frac = int64(f)
		for i := len(rest) - 1; i < 9; i++ {
			frac *= 10
		}
	}
	return int64(sec)*1e9 + frac, true
}

// minuteCache remembers the minute of the last timestamp read: the API
// server stamps consecutive events within the same minute, so the calendar
// arithmetic is done about once a minute instead of once per event.
type minuteCache struct {
	prefix [16]byte // "2006-01-02T15:04"
	ns     int64
	set    bool // an empty cache matches nothing, not 16 NUL bytes
}

// parseTime is ParseTime with the cache.
func (c *minuteCache) parseTime(s string) (int64, bool) {
	if len(s) >= 20 && len(s) <= 30 {
		if c.set && s[:16] == string(c.prefix[:]) {
			if within, ok := parseWithinMinute(s[16:]); ok {
				return c.ns + within, true
			}
		} else if minute, ok := parseMinute(s[:16]); ok {
			if within, ok := parseWithinMinute(s[16:]); ok {
				copy(c.prefix[:], s)
				c.ns, c.set = minute, true
				return minute + within, true
			}
		}
	}
	return ParseTime(s)
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int(c)
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
