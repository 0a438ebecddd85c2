package gen

import (
	"strconv"
	"time"
)

// appendStr appends s as a JSON string, escaping what encoding/json would
// escape except '<', '>' and '&' (the apiserver's encoder does not escape
// those either).
func appendStr[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendStrList appends a JSON array of strings.
func appendStrList(b []byte, xs []string) []byte {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, x)
	}
	return append(b, ']')
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// appendMicro appends a metav1.MicroTime value (RFC 3339, six fractional
// digits, UTC "Z") as a JSON string; t is Unix microseconds.
func appendMicro(b []byte, t int64) []byte {
	b = append(b, '"')
	b = appendMicroRaw(b, t)
	return append(b, '"')
}

func appendMicroRaw(b []byte, t int64) []byte {
	tm := time.UnixMicro(t).UTC()
	us := tm.Nanosecond() / 1000
	b = appendSeconds(b, tm)
	b = append(b, '.')
	b = append(b, byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
	return append(b, 'Z')
}

// appendSecondTime appends a metav1.Time value (RFC 3339, whole seconds).
func appendSecondTime(b []byte, t int64) []byte {
	b = append(b, '"')
	b = appendSeconds(b, time.UnixMicro(t).UTC())
	return append(b, 'Z', '"')
}

// appendSeconds appends tm as 2006-01-02T15:04:05.
func appendSeconds(b []byte, tm time.Time) []byte {
	y, mo, d := tm.Date()
	h, mi, s := tm.Clock()
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	return append2(b, s)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendDuration appends a Go-style duration such as "7m24s" or "612.3ms".
func appendDurationMS(b []byte, us int64) []byte {
	return append(b, time.Duration(us*1000).Round(100*time.Microsecond).String()...)
}
