package deliver

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/k8s-secret-enum/k8s-secret-enum/plugin/logging"
)

// newClient builds the one HTTP client of a Sender. It never follows
// redirects: the credentials must only reach the configured endpoint.
func newClient(o *Options, log *logging.Logger) (*http.Client, *http.Transport, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls ca file %s: no PEM certificate found", o.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if o.TLSCertFile != "" {
		kp, err := newKeyPair(o.TLSCertFile, o.TLSKeyFile, log)
		if err != nil {
			return nil, nil, err
		}
		tc.GetClientCertificate = kp.get
	}
	if !o.TLSVerify {
		tc.InsecureSkipVerify = true
	}
	tr := &http.Transport{
		// Same proxy rules as every other Go and Fluent Bit HTTP client;
		// loopback receivers are never proxied.
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    o.Timeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c, tr, nil
}

// fileChanged tells whether a file was replaced or rewritten since prev:
// Kubernetes swaps projected volumes through a symlink (new inode), editors
// and cert-manager may rewrite in place (new mtime or size).
func fileChanged(prev, cur os.FileInfo) bool {
	return prev == nil || !os.SameFile(prev, cur) ||
		!prev.ModTime().Equal(cur.ModTime()) || prev.Size() != cur.Size()
}

// tokenFile serves a credential read from a file (a bearer or Splunk
// token, an HMAC key), trimmed, re-read when the file changes. A failed
// re-read keeps the last good value: the old one is usually still valid
// for a while, and an empty one certainly is not.
type tokenFile struct {
	what string // "bearer token file", for log lines
	path string
	log  *logging.Logger

	mu    sync.Mutex
	info  os.FileInfo
	token string
}

func newTokenFile(what, path string, log *logging.Logger) (*tokenFile, error) {
	t := &tokenFile{what: what, path: path, log: log}
	if err := t.reload(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return t, nil
}

func (t *tokenFile) reload() error {
	info, err := os.Stat(t.path)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(t.path)
	if err != nil {
		return err
	}
	tok := string(bytes.TrimSpace(raw))
	if tok == "" {
		return fmt.Errorf("%s is empty", t.path)
	}
	t.info, t.token = info, tok
	return nil
}

func (t *tokenFile) get() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	info, err := os.Stat(t.path)
	if err == nil && !fileChanged(t.info, info) {
		return t.token
	}
	if err == nil {
		err = t.reload()
		if err == nil {
			t.log.Debugf("%s %s changed, reloaded", t.what, t.path)
			return t.token
		}
	}
	if t.log.Every("deliver.token."+t.what, logInterval) {
		t.log.Warnf("cannot re-read %s: %v; using the value read before", t.what, err)
	}
	return t.token
}

// keyPair serves the client certificate, re-read when either file changes
// so that short-lived certificates rotate without a restart.
type keyPair struct {
	certFile, keyFile string
	log               *logging.Logger

	mu       sync.Mutex
	certInfo os.FileInfo
	keyInfo  os.FileInfo
	cert     *tls.Certificate
}

func newKeyPair(certFile, keyFile string, log *logging.Logger) (*keyPair, error) {
	k := &keyPair{certFile: certFile, keyFile: keyFile, log: log}
	if err := k.reload(); err != nil {
		return nil, fmt.Errorf("tls client certificate: %w", err)
	}
	return k, nil
}

func (k *keyPair) reload() error {
	ci, err1 := os.Stat(k.certFile)
	ki, err2 := os.Stat(k.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return err
	}
	k.certInfo, k.keyInfo, k.cert = ci, ki, &c
	return nil
}

func (k *keyPair) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ci, err1 := os.Stat(k.certFile)
	ki, err2 := os.Stat(k.keyFile)
	err := errors.Join(err1, err2)
	if err == nil && !fileChanged(k.certInfo, ci) && !fileChanged(k.keyInfo, ki) {
		return k.cert, nil
	}
	if err == nil {
		// A rotation writes two files; between the writes they do not match
		// and loading fails. Keeping the old pair bridges that moment.
		if err = k.reload(); err == nil {
			k.log.Infof("tls client certificate %s changed, reloaded", k.certFile)
			return k.cert, nil
		}
	}
	if k.log.Every("deliver.clientcert", logInterval) {
		k.log.Warnf("cannot reload tls client certificate: %v; using the one loaded before", err)
	}
	return k.cert, nil
}
