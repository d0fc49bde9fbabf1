// Command dysl is the project's tool: build and check model bundles, benchmark, replay bags, generate
// sample bags, listen to MAVLink, calibrate, train and evaluate. Each top-level command lives in its
// own cmd_*.go file with its subcommands; newRootCmd lists them all. A command's RunE parses and checks
// its flags and calls into the package it drives; what it prints goes to cmd.OutOrStdout() and
// cmd.ErrOrStderr(), so a test can run the whole tree against buffers.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// newRootCmd builds the whole command tree afresh: no command is registered anywhere else.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "dysl",
		Short:         "DySL-VLA: dynamic-static layer skipping for vision-language-action policies",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Files written at the end of a command's work are checked before it starts.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error { return checkOutputFiles(cmd.Flags()) },
	}
	root.AddCommand(
		newModelCmd(),
		newBenchCmd(),
		newBagCmd(),
		newReplayCmd(),
		newMavlinkCmd(),
		newTrainCmd(),
		newCalibrateCmd(),
		newDistillCmd(),
		newEvaluateCmd(),
		newSweepCmd(),
		newDemoCmd(),
	)
	root.InitDefaultCompletionCmd()
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group (bag, model, train, ...) refuse a subcommand it
// does not have: cobra prints the group's help and exits 0, so a script's `dysl bag infp` passed.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasParent() || !cmd.HasSubCommands() || cmd.Runnable() {
		return // the root refuses unknown commands itself
	}
	cmd.Args = cobra.NoArgs // "unknown command "infp" for "dysl bag""
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dysl:", err)
		os.Exit(1)
	}
}
