package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"dysl_vla/bag"
)

func init() { addCommand(newBagCmd) }

func newBagCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bag",
		Short: "Inspect rosbag2 recordings and generate sample pick-and-place bags",
	}
	cmd.AddCommand(newBagInfoCmd())
	return cmd
}

func newBagInfoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info PATH",
		Short: "Describe a bag as `ros2 bag info` does (a bag directory, or a lone .mcap/.db3 file)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := bag.Open(args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			info := r.Info()
			fmt.Fprint(cmd.OutOrStdout(), info.Format(time.Local))
			for _, w := range info.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			return nil
		},
	}
}
