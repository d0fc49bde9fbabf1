package main

import "github.com/spf13/cobra"

// addCommand is what cmd_train.go and cmd_evaluate.go still call from their init functions; it does
// nothing, since newRootCmd lists every command. It goes when those two files drop their init.
func addCommand(func() *cobra.Command) {}
