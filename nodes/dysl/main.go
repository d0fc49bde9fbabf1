// Command dysl is the project's tool: build and check model bundles, benchmark, replay bags, generate
// sample bags, listen to MAVLink, calibrate and train. Each subcommand lives in its own cmd_*.go file
// and registers itself with addCommand from an init function, so areas of the tool stay independent.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var subcommands []func() *cobra.Command

// addCommand registers a top-level subcommand constructor; called from init functions.
func addCommand(newCmd func() *cobra.Command) { subcommands = append(subcommands, newCmd) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "dysl",
		Short:         "DySL-VLA: dynamic-static layer skipping for vision-language-action policies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, newCmd := range subcommands {
		root.AddCommand(newCmd())
	}
	return root
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "dysl:", err)
		os.Exit(1)
	}
}
