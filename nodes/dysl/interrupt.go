package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// repeatGrace is how long after the first SIGINT or SIGTERM a second one is taken for the same
// request: GNU timeout sends its signal to the command and again to the command's process group,
// and a supervisor may signal every process of a group that a terminal already interrupted.
const repeatGrace = time.Second

// interruptContext is done at the first SIGINT (Ctrl-C) or SIGTERM. The command then stops at its
// next safe point, an episode or a training step, and leaves what it wrote whole and resumable;
// the message says what it is doing. A second signal, later than repeatGrace, quits at once, with
// the shell's status for a process killed by it (130 for SIGINT). Call stop when the command returns.
func interruptContext(cmd *cobra.Command, stopping string) (ctx context.Context, stop func()) {
	parent := cmd.Context()
	if parent == nil { // a command run without Execute
		parent = context.Background()
	}
	ctx, cancel := context.WithCancelCause(parent)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	returned := make(chan struct{})
	go func() {
		var first time.Time
		for {
			select {
			case <-returned:
				return
			case s := <-signals:
				switch {
				case first.IsZero():
					first = time.Now()
					cancel(fmt.Errorf("%v signal received", s))
					fmt.Fprintf(cmd.ErrOrStderr(), "\n%v signal received: %s (Ctrl-C again quits at once)\n", s, stopping)
				case time.Since(first) > repeatGrace:
					fmt.Fprintf(cmd.ErrOrStderr(), "\n%v signal received again: quitting\n", s)
					os.Exit(128 + int(s.(syscall.Signal)))
				}
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(signals)
			close(returned)
			cancel(context.Canceled)
		})
	}
}

// interrupted says whether ctx is done: the Interrupted hook of the training runs.
func interrupted(ctx context.Context) func() bool {
	return func() bool { return ctx.Err() != nil }
}
