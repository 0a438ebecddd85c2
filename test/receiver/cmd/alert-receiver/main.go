// Command alert-receiver listens for the plugin's alerts and prints each
// one as a JSON line on stdout; on SIGINT/SIGTERM it prints how many it got
// (on stderr) and exits.
//
//	go run ./test/receiver/cmd/alert-receiver -listen 127.0.0.1:8088
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/k8s-secret-enum/k8s-secret-enum/test/receiver"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8088", "address to listen on")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a generated CA (its PEM path is printed on stderr)")
	quiet := flag.Bool("quiet", false, "do not log requests on stderr")
	flag.Parse()

	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	opts := receiver.Options{
		Addr: *listen,
		TLS:  *useTLS,
		OnAlert: func(a receiver.Alert) {
			var b bytes.Buffer
			if err := json.Compact(&b, a.Raw); err != nil {
				b.Reset()
				b.Write(a.Raw)
			}
			mu.Lock()
			defer mu.Unlock()
			out.Write(b.Bytes())
			out.WriteByte('\n')
			out.Flush()
		},
	}
	if !*quiet {
		opts.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}
	r, err := receiver.New(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "alert-receiver:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "alert-receiver: listening on %s\n", r.URL())
	if *useTLS {
		fmt.Fprintf(os.Stderr, "alert-receiver: CA certificate %s\n", r.CAFile())
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	r.Close()
	mu.Lock()
	out.Flush()
	mu.Unlock()
	reqs := r.Requests()
	fmt.Fprintf(os.Stderr, "alert-receiver: %v: %d alerts (%d unique) in %d requests\n",
		s, len(r.Alerts()), len(r.Unique()), len(reqs))
}
