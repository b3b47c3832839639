// A minimal render worker in Go, pgx v4 (Debian golang-github-jackc-pgx-v4-dev); docs/workers.md.
// GO111MODULE=off GOPATH=/usr/share/gocode go run worker.go 'dbname=farm' go-box-1 [--once]
package main

import (
	"context"
	"errors"
	"github.com/jackc/pgx/v4"
	"log"
	"os"
	"time"
)

func render(jobType string, payload map[string]any) (map[string]any, error) {
	if payload["fail"] == true {
		return nil, errors.New("renderer crashed")
	}
	return map[string]any{"url": "https://cdn.example/v/" + jobType + ".mp4", "input": payload}, nil
}

func main() {
	ctx, workerID := context.Background(), os.Args[2]
	db, err := pgx.Connect(ctx, os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close(ctx)
	// One statement; false when it returned no row, fatal on any error.
	query := func(sql string, into []any, args ...any) bool {
		err := db.QueryRow(ctx, sql, args...).Scan(into...)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			log.Fatal(err)
		}
		return err == nil
	}
	query("SELECT queue.register_worker($1, NULL, 1)::text", []any{new(string)}, workerID)
	query("LISTEN queue_jobs", nil)
	for {
		query("SELECT count(*) FROM queue.heartbeat($1)", []any{new(int64)}, workerID)
		var id, attempt, jobType, payload = new(int64), new(int32), new(string), new(map[string]any)
		if !query("SELECT id, attempts, job_type, payload FROM queue.dequeue($1, 1)",
			[]any{id, attempt, jobType, payload}, workerID) {
			if len(os.Args) > 3 && os.Args[3] == "--once" {
				return
			}
			wait, cancel := context.WithTimeout(ctx, 5*time.Second) // a wake-up, or the poll
			db.WaitForNotification(wait)
			cancel()
		} else if result, renderErr := render(*jobType, *payload); renderErr != nil {
			status := new(string) // the attempt fails, retryably
			query("SELECT queue.fail($1, $2, $3, true, $4)::text", []any{status}, *id, workerID, renderErr.Error(), *attempt)
			log.Printf("job %d attempt %d failed: %v -> %s", *id, *attempt, renderErr, *status)
		} else {
			taken := new(bool)
			query("SELECT queue.complete($1, $2, $3, $4)", []any{taken}, *id, workerID, result, *attempt)
			log.Printf("job %d attempt %d completed: %v", *id, *attempt, *taken)
		}
	}
}
