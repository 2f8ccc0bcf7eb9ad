// A Go HTTPS server and client for spanwire's end-to-end tests: net/http and
// crypto/tls only, built by the tests with Debian's Go, no tracing code.
//
//	go_tls_app server PORT CERT KEY [DOWNSTREAM_URL h1|h2]
//	    /hello: a fixed body; /chain?n=N: GETs DOWNSTREAM_URL?n=N and returns its body.
//	    CERT "-": plaintext HTTP/1.1 instead of TLS.
//	go_tls_app client URL COUNT h1|h2 CONCURRENCY
//	    COUNT GETs of URL (each with ?n=I appended when URL ends in "n="); prints "ok COUNT".
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var helloBody = strings.Repeat("hello from go\n", 20) // 280 bytes

func newClient(proto string) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 64,
	}
	if proto == "h2" {
		tr.ForceAttemptHTTP2 = true
	} else {
		// A non-nil empty map turns HTTP/2 off.
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(body), nil
}

func server(args []string) {
	port, cert, key := args[0], args[1], args[2]
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, helloBody)
	})
	if len(args) >= 5 {
		down, client := args[3], newClient(args[4])
		mux.HandleFunc("/chain", func(w http.ResponseWriter, r *http.Request) {
			body, err := get(client, down+"?n="+r.URL.Query().Get("n"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			io.WriteString(w, body)
		})
	}
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: mux}
	fmt.Println("ready")
	var err error
	if cert == "-" {
		err = srv.ListenAndServe()
	} else {
		err = srv.ListenAndServeTLS(cert, key)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func client(args []string) {
	url, proto := args[0], args[2]
	count, _ := strconv.Atoi(args[1])
	workers, _ := strconv.Atoi(args[3])
	c := newClient(proto)
	jobs := make(chan int)
	var failed sync.Once
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				u := url
				if strings.HasSuffix(u, "n=") {
					u += strconv.Itoa(i)
				}
				if _, err := get(c, u); err != nil {
					failed.Do(func() { fmt.Fprintln(os.Stderr, "request failed:", err); os.Exit(1) })
				}
			}
		}()
	}
	for i := 0; i < count; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	fmt.Println("ok", count)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_tls_app server|client ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		server(os.Args[2:])
	case "client":
		client(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
