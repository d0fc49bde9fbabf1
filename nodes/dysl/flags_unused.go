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

// requireValues refuses a command line that leaves any of the flags names empty (not given, or given
// as ""), naming those, so that whoever left out one of three required flags is told which.
func requireValues(fs *pflag.FlagSet, names ...string) error {
	var empty []string
	for _, name := range names {
		if f := fs.Lookup(name); f == nil || f.Value.String() == "" {
			empty = append(empty, "--"+name)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	return fmt.Errorf("%s: required, and not given", strings.Join(empty, ", "))
}
