package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/reten/reten-relay/sources/reten/retensim"
)

// cmdSim runs the Reten simulator alone, for local development against the relay.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sim")
	listen := fs.String("listen", "127.0.0.1:3000", "address to listen on")
	tasks := fs.Int("tasks", 200, "tasks to seed")
	churnEvery := fs.Duration("churn", 5*time.Second, "change some tasks this often (0: never)")
	churnN := fs.Int("churn-n", 3, "changes per churn tick")
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same tasks and changes (0: a random one)")
	if code, ok := parseNoArgs(fs, args, stdout, stderr); !ok {
		return code
	}
	opts := []retensim.Option{retensim.WithTasks(*tasks)}
	if *seed != 0 {
		opts = append(opts, retensim.WithSeed(*seed))
	}
	sim, err := retensim.Start(*listen, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return exitFailure
	}
	defer sim.Close()
	if *churnEvery > 0 {
		sim.StartChurn(ctx, *churnEvery, *churnN)
	}
	fmt.Fprintf(stdout, "Reten simulator listening on %s with %d tasks\n", sim.URL(), *tasks)
	fmt.Fprintf(stdout, "  export RETEN_URL=%s\n  export RETEN_API_KEY=%s\n", sim.URL(), sim.APIKey())
	fmt.Fprintf(stdout, "  curl -H \"x-api-key: $RETEN_API_KEY\" \"$RETEN_URL/api/integration/activities/tasks?per_page=5\"\n")
	fmt.Fprintln(stdout, "Ctrl-C stops it.")
	<-ctx.Done()
	return exitOK
}
