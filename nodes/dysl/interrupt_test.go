package main

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// lockedBuilder is a strings.Builder a goroutine (a signal's, a command's) writes while the test reads it.
type lockedBuilder struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *lockedBuilder) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *lockedBuilder) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// Ctrl-C delivered twice at once, as GNU timeout does (to the command, then to its process group):
// the context is done, the hook says so, the command says what it is doing, and the process is
// still there to do it.
func TestInterruptContextOnCtrlC(t *testing.T) {
	cmd := &cobra.Command{}
	var stderr lockedBuilder
	cmd.SetErr(&stderr)
	ctx, stop := interruptContext(cmd, "closing the bag after this frame")
	defer stop()
	require.False(t, interrupted(ctx)())
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT))
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT))
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not end the context")
	}
	require.True(t, interrupted(ctx)())
	require.Eventually(t, func() bool {
		return strings.Contains(stderr.String(), "interrupt signal received: closing the bag after this frame (Ctrl-C again quits at once)")
	}, 10*time.Second, 10*time.Millisecond, "stderr: %q", stderr.String())
	require.Equal(t, "interrupt signal received", context.Cause(ctx).Error())
}

// A command that returns without a signal: its context ends as a plain cancellation, which the
// commands do not report as an interruption.
func TestInterruptContextStop(t *testing.T) {
	ctx, stop := interruptContext(&cobra.Command{}, "nothing")
	require.False(t, interrupted(ctx)())
	stop()
	stop()
	require.Equal(t, context.Canceled, context.Cause(ctx))
}
