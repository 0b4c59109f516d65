package config

import (
	"errors"
	"sort"
	"strings"
)

// Set is the federations generated together: hubs that may share
// downstreams. Only NewSet and LoadSet make one, so a Set has always passed
// Complete, one by one, and ValidateSet, together.
type Set struct {
	feds []*Federation
}

// NewSet checks completed federations together (ValidateSet) and orders
// them by upstream name.
func NewSet(feds []*Federation) (*Set, error) {
	if len(feds) == 0 {
		return nil, errors.New("no federation config given")
	}
	if err := ValidateSet(feds); err != nil {
		return nil, err
	}
	feds = append([]*Federation(nil), feds...)
	sort.Slice(feds, func(i, j int) bool { return feds[i].Upstream.Name < feds[j].Upstream.Name })
	return &Set{feds: feds}, nil
}

// LoadSet loads every file (Load) and checks them together (NewSet). The
// problems of every file are reported at once.
func LoadSet(paths []string) (*Set, error) {
	var feds []*Federation
	var errs []string
	for _, p := range paths {
		f, err := Load(p)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		feds = append(feds, f)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return NewSet(feds)
}

// Federations are the set's federations, by upstream name.
func (s *Set) Federations() []*Federation { return s.feds }

// Warnings are the advice of every federation of the set.
func (s *Set) Warnings() []string {
	var w []string
	for _, f := range s.feds {
		w = append(w, f.Warnings()...)
	}
	return w
}
