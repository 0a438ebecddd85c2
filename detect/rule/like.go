package rule

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// likePattern is an ES|QL LIKE pattern: '*' matches any run of characters
// (also none), '?' exactly one character, a backslash makes the next
// character literal, everything else (including '.') matches itself, case
// sensitive, against the whole string. Characters are Unicode code points;
// a byte of invalid UTF-8 counts as one character.
type likePattern struct {
	source string
	kind   likeKind
	lit    string     // for exact, prefix, suffix and contains
	tokens []likeTerm // for the general case
}

type likeKind uint8

const (
	likeExact likeKind = iota
	likePrefix
	likeSuffix
	likeContains
	likeGeneral
)

type likeTerm struct {
	star bool   // '*'
	any  bool   // '?'
	lit  string // a literal run
}

func compileLike(p string) (likePattern, error) {
	var terms []likeTerm
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			terms = append(terms, likeTerm{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 == len(p) {
				return likePattern{}, fmt.Errorf("pattern %q ends with an escape character", p)
			}
			i++
			lit.WriteByte(p[i])
		case '*':
			flush()
			if n := len(terms); n == 0 || !terms[n-1].star {
				terms = append(terms, likeTerm{star: true})
			}
		case '?':
			flush()
			terms = append(terms, likeTerm{any: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	pat := likePattern{source: p, kind: likeGeneral, tokens: terms}
	// The common shapes need no backtracking.
	switch {
	case len(terms) == 0:
		pat.kind = likeExact
	case len(terms) == 1 && terms[0].lit != "":
		pat.kind, pat.lit = likeExact, terms[0].lit
	case len(terms) == 2 && terms[0].lit != "" && terms[1].star:
		pat.kind, pat.lit = likePrefix, terms[0].lit
	case len(terms) == 2 && terms[0].star && terms[1].lit != "":
		pat.kind, pat.lit = likeSuffix, terms[1].lit
	case len(terms) == 3 && terms[0].star && terms[1].lit != "" && terms[2].star:
		pat.kind, pat.lit = likeContains, terms[1].lit
	}
	return pat, nil
}

func (p *likePattern) match(s string) bool {
	switch p.kind {
	case likeExact:
		return s == p.lit
	case likePrefix:
		return strings.HasPrefix(s, p.lit)
	case likeSuffix:
		return strings.HasSuffix(s, p.lit)
	case likeContains:
		return strings.Contains(s, p.lit)
	}
	return matchTerms(p.tokens, s)
}

// matchTerms is the classic wildcard match: on a mismatch it retries from
// the most recent star, one character further. Linear in practice, never
// worse than len(terms)*len(s).
func matchTerms(terms []likeTerm, s string) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(terms) {
			t := terms[ti]
			switch {
			case t.star:
				starTi, starSi = ti, si
				ti++
				continue
			case t.any:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					ti++
					continue
				}
			default:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starSi:])
		starSi += w
		ti, si = starTi+1, starSi
	}
}
