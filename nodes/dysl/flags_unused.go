package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// refuseUnused refuses the flags among names that the command line gave although the mode chosen
// leaves them unused: a setting that silently changes nothing looks, to whoever typed it, like one that
// took effect. needs says what uses them, such as "--closed-loop".
func refuseUnused(fs *pflag.FlagSet, needs string, names ...string) error {
	var given []string
	for _, name := range names {
		if fs.Changed(name) {
			given = append(given, "--"+name)
		}
	}
	if len(given) == 0 {
		return nil
	}
	return fmt.Errorf("%s: only with %s", strings.Join(given, ", "), needs)
}

// flagNames lists the flags registered on fs, for a group registered on a FlagSet of its own before
// it is added to the command's.
func flagNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return names
}
