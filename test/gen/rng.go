package gen

import (
	"math"
	"math/bits"
)

// rng is a splitmix64 generator. It is tiny, fast, and — unlike the helpers
// of math/rand — its output for a given seed is fixed by this file alone, so
// generated logs stay byte-identical across Go releases.
type rng struct{ s uint64 }

func newRNG(seed uint64) rng { return rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// mix64 derives an independent seed from two values.
func mix64(a, b uint64) uint64 {
	r := rng{s: a ^ bits.RotateLeft64(b, 29) ^ 0x5851f42d4c957f2d}
	r.next()
	return r.next()
}

// intn returns a value in [0, n); n must be > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// between returns a value in [lo, hi] (inclusive).
func (r *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.intn(hi-lo+1)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return r.float() < p }

// expo returns an exponentially distributed value with the given mean.
func (r *rng) expo(mean float64) float64 { return -mean * math.Log(1-r.float()) }

// logUniform returns a value between lo and hi whose logarithm is uniform:
// most values are small, a few are large.
func (r *rng) logUniform(lo, hi float64) float64 {
	return lo * math.Exp(r.float()*math.Log(hi/lo))
}

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// shuffle permutes xs in place (Fisher-Yates).
func shuffle[T any](r *rng, xs []T) {
	for i := len(xs) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		xs[i], xs[j] = xs[j], xs[i]
	}
}

const hexDigits = "0123456789abcdef"

// appendUUID appends a random version-4 UUID.
func (r *rng) appendUUID(b []byte) []byte {
	x, y := r.next(), r.next()
	x = x&^(0xf<<12) | 4<<12         // version 4
	y = y&^(0x3<<62) | uint64(2)<<62 // variant 10
	var u [36]byte
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			u[j] = '-'
			j++
		}
		var v byte
		if i < 8 {
			v = byte(x >> (56 - 8*i))
		} else {
			v = byte(y >> (56 - 8*(i-8)))
		}
		u[j] = hexDigits[v>>4]
		u[j+1] = hexDigits[v&15]
		j += 2
	}
	return append(b, u[:]...)
}

func (r *rng) uuid() string { return string(r.appendUUID(nil)) }

// Kubernetes' generateName/pod-template-hash alphabet (no vowels, no 0/1/3).
const kubeAlnum = "bcdfghjklmnpqrstvwxz2456789"

func (r *rng) kubeSuffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = kubeAlnum[r.intn(len(kubeAlnum))]
	}
	return string(b)
}

func (r *rng) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[r.intn(16)]
	}
	return string(b)
}

func (r *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.intn(10))
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"

func (r *rng) lowerAlnum(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = lowerAlnum[r.intn(len(lowerAlnum))]
	}
	return string(b)
}
