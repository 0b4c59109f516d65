package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Output formats of the commands that report (-o).
const (
	outputText = "text"
	outputJSON = "json"
)

// options are a command's inputs: Validate checks the flags, all problems at
// once, before Run does the work.
type options interface {
	Validate() error
	Run(ctx context.Context) error
}

// invalidReporter is a command whose report has a form for invalid flags
// too (discovery check: -o json prints one object in every case).
// ReportInvalid prints it and returns the error to exit with.
type invalidReporter interface {
	ReportInvalid(err error) error
}

// runE is the RunE of a command with options o.
func runE(o options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := o.Validate(); err != nil {
			if r, ok := o.(invalidReporter); ok {
				return r.ReportInvalid(err)
			}
			return err
		}
		return o.Run(cmd.Context())
	}
}

// addOutputFlag is -o of a reporting command.
func addOutputFlag(cmd *cobra.Command, format *string) {
	*format = outputText
	cmd.Flags().StringVarP(format, "output", "o", outputText, "output format: text or json")
}

// report is what a command prints as text or as JSON: doctor's Report,
// discovery check's Comparison. Err says whether it is a failure.
type report interface {
	WriteText(w io.Writer) error
	Err() error
}

// writeReport prints r in format and turns its failure into exit code 1,
// after the report is out.
func writeReport(w io.Writer, format string, r report) error {
	var err error
	if format == outputJSON {
		err = writeJSON(w, r)
	} else {
		err = r.WriteText(w)
	}
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return &exitError{code: 1, err: err}
	}
	return nil
}

// checkOutput is the problem with an -o value of a reporting command.
func checkOutput(format string) []string {
	if format != outputText && format != outputJSON {
		return []string{fmt.Sprintf("--output (-o) is %q: text or json", format)}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// joinProblems is every problem of a command's flags, in one error.
func joinProblems(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}
