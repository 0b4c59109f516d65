package discovery

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Comparison is the published copy measured against the live discovery:
// what `discovery check` prints (its JSON form is stable, for monitoring).
type Comparison struct {
	// BaseURL is the published location; DocumentURL and KeysURL are what
	// a downstream reads there (KeysURL is the document's jwks_uri).
	BaseURL     string `json:"baseURL"`
	DocumentURL string `json:"documentURL"`
	KeysURL     string `json:"keysURL"`
	// Issuer is the live issuer; PublishedIssuer the published document's.
	Issuer          string `json:"issuer"`
	PublishedIssuer string `json:"publishedIssuer"`
	// LiveKeyIDs and PublishedKeyIDs are the key ids on each side, sorted.
	LiveKeyIDs      []string `json:"liveKeyIDs"`
	PublishedKeyIDs []string `json:"publishedKeyIDs"`
	// MissingKeyIDs are live keys the copy lacks: every token the upstream
	// signs with them is refused by the downstreams reading the copy.
	MissingKeyIDs []string `json:"missingKeyIDs"`
	// ChangedKeyIDs are key ids whose key differs between the two sides.
	ChangedKeyIDs []string `json:"changedKeyIDs"`
	// ExtraKeyIDs are published keys the upstream no longer has: harmless
	// for federation, dropped by the next publish.
	ExtraKeyIDs []string `json:"extraKeyIDs"`
	// Problems say why the copy is not in sync (empty when it is).
	Problems []string `json:"problems"`
	// Warnings do not make the copy fail.
	Warnings []string `json:"warnings"`
	InSync   bool     `json:"inSync"`
	// Error is set when the check could not run (then nothing else is
	// meaningful); Compare never sets it, Failed does.
	Error string `json:"error,omitempty"`
}

// Failed is the comparison of a check that could not run (invalid flags,
// unreadable discovery): its Err is err, and it prints nothing as text.
func Failed(baseURL string, err error) *Comparison {
	return &Comparison{BaseURL: baseURL, Error: err.Error()}
}

// Compare measures the published copy (read as a downstream reads it) at
// baseURL against the live discovery. The published keys may be missing
// (Keys nil) when its jwks_uri is not https: FetchPublished does not read
// them in clear, and that is a problem of its own.
func Compare(live, published *Snapshot, baseURL string) *Comparison {
	c := &Comparison{
		BaseURL:         baseURL,
		DocumentURL:     published.DocumentURL,
		KeysURL:         published.KeysURL,
		Issuer:          live.Document.Issuer,
		PublishedIssuer: published.Document.Issuer,
		LiveKeyIDs:      live.Keys.IDs(),
		PublishedKeyIDs: []string{},
		MissingKeyIDs:   []string{},
		ChangedKeyIDs:   []string{},
		ExtraKeyIDs:     []string{},
		Problems:        []string{},
		Warnings:        []string{},
	}
	if c.PublishedIssuer != c.Issuer {
		c.Problems = append(c.Problems, fmt.Sprintf("the published document says issuer %q but the upstream's issuer is %q: downstreams refuse the copy (the issuer changed, or this is another cluster's copy)", c.PublishedIssuer, c.Issuer))
	}
	want := baseURL + KeysPath
	if !isHTTPS(published.Document.JWKSURI) {
		err := &InsecureJWKSURIError{DocumentURL: c.DocumentURL, JWKSURI: published.Document.JWKSURI}
		c.Problems = append(c.Problems, fmt.Sprintf("%v. Publish again: publish writes jwks_uri %s", err, want))
	} else if published.Document.JWKSURI != want {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the published jwks_uri is %s, not %s: downstreams read the keys there", published.Document.JWKSURI, want))
	}
	if published.Keys != nil {
		c.compareKeys(live.Keys, published.Keys)
	}
	c.InSync = len(c.Problems) == 0 && published.Keys != nil
	return c
}

// compareKeys fills in the key ids and their problems.
func (c *Comparison) compareKeys(live, published *KeySet) {
	c.PublishedKeyIDs = published.IDs()
	for _, k := range live.Keys {
		p, ok := published.Lookup(k.Name())
		switch {
		case !ok:
			c.MissingKeyIDs = append(c.MissingKeyIDs, k.Name())
		case !p.Same(k):
			c.ChangedKeyIDs = append(c.ChangedKeyIDs, k.Name())
		}
	}
	for _, k := range published.Keys {
		if _, ok := live.Lookup(k.Name()); !ok {
			c.ExtraKeyIDs = append(c.ExtraKeyIDs, k.Name())
		}
	}
	if n := len(c.MissingKeyIDs); n > 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("%s lacks %d live signing key(s) of the upstream: %s. The upstream rotated its keys; downstreams reading this copy refuse every token signed with them", c.KeysURL, n, strings.Join(c.MissingKeyIDs, ", ")))
	}
	if n := len(c.ChangedKeyIDs); n > 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("%s has other keys under the key id(s) %s than the upstream", c.KeysURL, strings.Join(c.ChangedKeyIDs, ", ")))
	}
	if n := len(c.ExtraKeyIDs); n > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s still has %d key(s) the upstream no longer uses: %s (tokens signed with them stay acceptable downstream until they expire; the next publish drops them)", c.KeysURL, n, strings.Join(c.ExtraKeyIDs, ", ")))
	}
}

// WriteText prints the comparison for a person: in sync, or each problem
// and the fix; warnings either way. A check that could not run prints
// nothing: its Err says it all.
func (c *Comparison) WriteText(w io.Writer) error {
	if c.Error != "" {
		return nil
	}
	var b strings.Builder
	if c.InSync {
		fmt.Fprintf(&b, "in sync: %s publishes the %d live signing key(s) of issuer %s: %s\n", c.BaseURL, len(c.LiveKeyIDs), c.Issuer, strings.Join(c.LiveKeyIDs, ", "))
	}
	for _, p := range c.Problems {
		fmt.Fprintf(&b, "STALE: %s\n", p)
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if !c.InSync {
		fmt.Fprintf(&b, "fix: argocd-k8s-federate discovery publish --base-url %s -o DIR (against the upstream), then upload DIR\n", c.BaseURL)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Err is nil when the copy is in sync, and otherwise says what it lacks,
// or why the check could not run.
func (c *Comparison) Err() error {
	switch {
	case c.Error != "":
		return errors.New(c.Error)
	case c.InSync:
		return nil
	}
	what := "is stale"
	switch {
	case len(c.MissingKeyIDs) > 0:
		what = "lacks the live key(s) " + strings.Join(c.MissingKeyIDs, ", ")
	case !isHTTPS(c.KeysURL):
		what = "names its keys at " + c.KeysURL + ", which is not https"
	}
	return fmt.Errorf("the discovery published at %s %s: publish it again", c.BaseURL, what)
}
