package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// interruptContext is done at the first SIGINT (Ctrl-C) or SIGTERM. The command then stops at its
// next safe point, an episode or a training step, and leaves what it wrote whole and resumable;
// the message says what it is doing. The handler is removed at that moment, so a second Ctrl-C
// quits at once. Call stop when the command returns.
func interruptContext(cmd *cobra.Command, stopping string) (ctx context.Context, stop func()) {
	parent := cmd.Context()
	if parent == nil { // a command run without Execute
		parent = context.Background()
	}
	ctx, stop = signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		// A signal's cause matches context.Canceled under errors.Is; the stop of a command that
		// returned is context.Canceled itself.
		if cause := context.Cause(ctx); cause != context.Canceled {
			fmt.Fprintf(cmd.ErrOrStderr(), "\n%v: %s (Ctrl-C again quits at once)\n", cause, stopping)
		}
	}()
	return ctx, stop
}

// interrupted says whether ctx is done: the Interrupted hook of the training runs.
func interrupted(ctx context.Context) func() bool {
	return func() bool { return ctx.Err() != nil }
}
