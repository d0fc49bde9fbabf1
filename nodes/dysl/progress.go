package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress draws a bar on a terminal and nothing otherwise, so logs, CI output and a test's buffer stay
// readable.
type progress struct{ bar *progressbar.ProgressBar }

// newProgress draws on w when w is a terminal.
func newProgress(w io.Writer, total int, description string) progress {
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return progress{}
	}
	return progress{progressbar.NewOptions(total, progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description), progressbar.OptionClearOnFinish())}
}

func (p progress) set(done int) {
	if p.bar != nil {
		_ = p.bar.Set(done)
	}
}

func (p progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
