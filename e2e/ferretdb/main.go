// Command threatmesh-ferretdb runs FerretDB (a MongoDB wire-protocol server) with its pure-Go
// SQLite backend, or with its PostgreSQL backend when --postgresql-url is given, for ThreatMesh's
// integration tests and local sandbox. Upstream's own command needs a version file generated at
// release time; embedding the ferretdb package avoids it.
//
//	threatmesh-ferretdb (--data-dir DIR | --postgresql-url URL) [--listen 127.0.0.1:0] [--uri-file FILE] [--log-level warn] [--exit-on-stdin-eof]
//
// Once listening it prints "mongodb://HOST:PORT/" on stdout and, with --uri-file, writes it to
// FILE (atomically), so a caller can let the kernel choose the port and still find it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "threatmesh-ferretdb: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	dataDir := flag.String("data-dir", "", "directory for the SQLite databases (the SQLite backend)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection string, e.g. postgres://127.0.0.1:5432/ferretdb (the PostgreSQL backend instead of SQLite)")
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on; port 0 picks a free one")
	uriFile := flag.String("uri-file", "", "write the MongoDB URI here once listening")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	stdinEOF := flag.Bool("exit-on-stdin-eof", false, "shut down when stdin closes (the parent process died)")
	flag.Parse()
	if (*dataDir == "") == (*pgURL == "") {
		return fmt.Errorf("give exactly one of --data-dir (SQLite) and --postgresql-url (PostgreSQL)")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}, Logger: logger}
	if *pgURL != "" {
		cfg.Handler = "postgresql"
		cfg.PostgreSQLURL = *pgURL
	} else {
		abs, err := filepath.Abs(*dataDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return err
		}
		cfg.Handler = "sqlite"
		cfg.SQLiteURL = "file:" + abs + "/"
	}
	f, err := ferretdb.New(cfg)
	if err != nil {
		return err
	}
	uri := f.MongoDBURI()
	if *uriFile != "" {
		tmp := *uriFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(uri+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, *uriFile); err != nil {
			return err
		}
	}
	fmt.Println(uri)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *stdinEOF {
		// The parent's death closes our stdin: stop rather than linger as an orphan.
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	return f.Run(ctx)
}
