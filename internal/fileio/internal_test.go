package fileio

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// Messages: thousands of files failing for one reason (a full disk) are one
// error, not one line per file.
func TestOneErrorForManyFailedFiles(t *testing.T) {
	errs := make([]error, 8700)
	for i := range errs {
		if i%3 != 0 {
			errs[i] = fmt.Errorf("write f%d: %w", i, syscall.ENOSPC)
		}
	}
	err := firstError(errs)
	if !errors.Is(err, syscall.ENOSPC) || strings.Count(err.Error(), "\n") != 0 || !strings.HasSuffix(err.Error(), "(and 5799 more files)") {
		t.Errorf("firstError = %v", err)
	}
	if err := firstError(make([]error, 3)); err != nil {
		t.Errorf("no failure: %v", err)
	}
}
