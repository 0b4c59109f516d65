package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a config file.
type FieldError struct {
	// Path is the field path, e.g. downstreams[1].usernamePrefix.
	Path string
	// Message says what is wrong and what would be valid.
	Message string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Errors is every problem found in one or more config files.
type Errors struct {
	// Source is the file the problems were found in ("" for several).
	Source string
	List   []FieldError
}

func (e *Errors) Error() string {
	var b strings.Builder
	if e.Source != "" {
		fmt.Fprintf(&b, "%s: ", e.Source)
	}
	if len(e.List) == 1 {
		b.WriteString(e.List[0].Error())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", len(e.List))
	for _, fe := range e.List {
		b.WriteString("\n  - ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// add records a problem; format and args make its message.
func (e *Errors) add(path, format string, args ...any) {
	e.List = append(e.List, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// err returns e when it holds problems, else nil.
func (e *Errors) err() error {
	if len(e.List) == 0 {
		return nil
	}
	return e
}

// path joins field path elements: path("a", "b") is a.b.
func path(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}

// index is the path of a list element: index("a", 2) is a[2].
func index(parent string, i int) string {
	return fmt.Sprintf("%s[%d]", parent, i)
}
