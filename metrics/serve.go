package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// CheckLoopback refuses an address that is not a loopback one: the
// metrics tell an attacker about users and load, so they are for a local
// agent (or an SSH tunnel), like the pprof endpoint.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics address: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("metrics address must be a loopback address, not %q", addr)
	}
	return nil
}

// Serve serves /metrics on addr, which must be a loopback address, until
// stop is called.
func (m *Metrics) Serve(addr string) (stop func(), err error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return m.ServeListener(l), nil
}

// ServeListener serves /metrics on l until stop is called; stop closes l
// and waits (at most a second) for scrapes in progress. The caller checks
// the address (CheckLoopback).
func (m *Metrics) ServeListener(l net.Listener) (stop func()) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l) // ErrServerClosed after Shutdown; any other error ends the endpoint only
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}
}
