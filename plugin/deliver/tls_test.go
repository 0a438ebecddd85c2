package deliver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// clientPair issues a client certificate and writes it and its key.
func (ca *testCA) clientPair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "fluent-bit"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	return certFile, keyFile
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func serverCAFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "server-ca.pem")
	writeFile(t, path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	return path
}

func serveTLS(t *testing.T, rc *receiver, cfg *tls.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(rc)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSWrongCAFailsClosed(t *testing.T) {
	rc := newReceiver()
	srv := serveTLS(t, rc, nil)
	wrong := filepath.Join(t.TempDir(), "wrong-ca.pem")
	writeFile(t, wrong, newCA(t, "not the receiver's CA").pem)

	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.TLSCAFile = wrong
	o.DrainTimeout = 50 * time.Millisecond
	s := mustNew(t, o, l)
	want := ids("tls", 4)
	enqueueAll(t, s, want)
	waitFor(t, "failed handshakes", func() bool { return s.Stats().Requests >= 5 })
	st := s.Close()
	checkBalance(t, st, 4)
	if rc.count() != 0 || st.Sent != 0 || st.DroppedAtClose != 4 {
		t.Errorf("sent despite a failed verification: receiver saw %d, stats %+v", rc.count(), st)
	}
	if n := logs.lines("TLS verification of receiver"); n != 1 {
		t.Errorf("TLS failure logged %d times, want once per interval", n)
	}
	if !strings.Contains(logs.String(), "fail closed") {
		t.Error("log does not say the sender fails closed")
	}

	// The right CA: the same alerts go through.
	o.TLSCAFile = serverCAFile(t, srv)
	o.DrainTimeout = 3 * time.Second
	s2 := mustNew(t, o, l)
	enqueueAll(t, s2, want)
	waitDelivered(t, rc, want)
	checkBalance(t, s2.Close(), 4)
}

func TestTLSClientCertificate(t *testing.T) {
	ca := newCA(t, "client CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	rc := newReceiver()
	srv := serveTLS(t, rc, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})

	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.TLSCAFile = serverCAFile(t, srv)
	o.DrainTimeout = 50 * time.Millisecond
	// Without a client certificate the receiver refuses the handshake.
	s := mustNew(t, o, l)
	enqueueAll(t, s, []string{"mtls-0"})
	waitFor(t, "refused handshakes", func() bool { return s.Stats().Requests >= 2 })
	s.Close()
	if rc.count() != 0 || logs.lines("TLS handshake with receiver") != 1 {
		t.Errorf("handshake refusal not reported once (receiver saw %d)", rc.count())
	}

	o.TLSCertFile, o.TLSKeyFile = ca.clientPair(t, t.TempDir())
	o.DrainTimeout = 3 * time.Second
	s2 := mustNew(t, o, l)
	want := ids("mtls", 3)
	enqueueAll(t, s2, want)
	waitDelivered(t, rc, want)
	checkBalance(t, s2.Close(), 3)
}

func TestTLSSkipVerifyWarns(t *testing.T) {
	rc := newReceiver()
	srv := serveTLS(t, rc, nil)
	l, logs := newLog(t)
	o := fastOpts(srv.URL)
	o.TLSVerify = false
	s := mustNew(t, o, l)
	if !strings.Contains(logs.String(), "tls verification is off") {
		t.Error("no warning at start")
	}
	enqueueAll(t, s, []string{"insecure-1"})
	waitDelivered(t, rc, []string{"insecure-1"})
	s.Close()
}
