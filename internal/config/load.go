package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	goyaml "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/fileio"
)

// maxConfigBytes caps a config file: a federation of thousands of
// downstreams is a few MiB.
const maxConfigBytes = 64 << 20

// Load reads, decodes, defaults and validates the federation config at path.
func Load(path string) (*Federation, error) {
	data, err := fileio.ReadFile(path, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("read federation config: %w", err)
	}
	fed, err := Decode(data, path)
	if err != nil {
		return nil, err
	}
	if err := fed.Complete(); err != nil {
		return nil, err
	}
	return fed, nil
}

// Decode parses one federation document strictly: unknown fields, duplicate
// keys, values of the wrong type and a second document are errors naming the
// field path (or the file). source names the file in errors and anchors
// relative caFile paths.
func Decode(data []byte, source string) (*Federation, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Errors{Source: source, List: []FieldError{{Message: "the file is empty: it needs apiVersion: " + APIVersion + ", kind: " + Kind + ", upstream and downstreams"}}}
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, &Errors{Source: source, List: []FieldError{{Message: "not valid YAML: " + err.Error()}}}
	}
	if secondDocument(data) {
		return nil, &Errors{Source: source, List: []FieldError{{Message: `holds more than one YAML document (a "---" line followed by more YAML), and only the first would be read: a config file is one Federation; put each hub in a file of its own and pass them together (generate -f hub-a.yaml -f hub-b.yaml)`}}}
	}
	var raw any
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, &Errors{Source: source, List: []FieldError{{Message: "not valid YAML: " + err.Error()}}}
	}
	if _, ok := raw.(map[string]any); !ok {
		return nil, &Errors{Source: source, List: []FieldError{{Message: fmt.Sprintf("expected a mapping with apiVersion: %s and kind: %s, got %s", APIVersion, Kind, jsonKind(raw))}}}
	}
	errs := &Errors{Source: source}
	checkShape(errs, "", raw, reflect.TypeFor[Federation]())
	checkSetButEmpty(errs, raw)
	if err := errs.err(); err != nil {
		return nil, err
	}
	fed := &Federation{Source: source}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fed); err != nil {
		// checkShape has seen every field; this is a value out of range.
		return nil, &Errors{Source: source, List: []FieldError{{Message: err.Error()}}}
	}
	fed.Source = source
	return fed, nil
}

// secondDocument reports whether data holds a YAML document after the first.
// One that is empty (a trailing "---", comments only, or null) holds no
// config and does not count; one that does not even parse does.
func secondDocument(data []byte) bool {
	dec := goyaml.NewDecoder(bytes.NewReader(data))
	for n := 0; ; n++ {
		var v any
		err := dec.Decode(&v)
		switch {
		case err == io.EOF:
			return false
		case err != nil:
			return n > 0
		case n > 0 && v != nil:
			return true
		}
	}
}

// checkSetButEmpty refuses fields that the file sets to "" (or null) where
// the default would otherwise quietly replace what the file says: a
// downstream's usernamePrefix defaults only when the field is absent.
func checkSetButEmpty(errs *Errors, raw any) {
	obj, _ := raw.(map[string]any)
	list, _ := obj["downstreams"].([]any)
	for i, e := range list {
		d, _ := e.(map[string]any)
		if v, ok := d["usernamePrefix"]; ok && (v == nil || v == "") {
			errs.add(path(index("downstreams", i), "usernamePrefix"), `is set but empty: without a prefix an upstream token could claim any username of the downstream; leave the field out for the default "<upstream.name>:", or write a prefix such as "hub:"`)
		}
	}
	up, _ := obj["upstream"].(map[string]any)
	people, _ := up["people"].(map[string]any)
	for _, k := range []string{"usernamePrefix", "groupsPrefix"} {
		if v, ok := people[k]; ok && (v == nil || v == "") {
			errs.add(path("upstream.people", k), `is set but empty: without a prefix a person's ID token could claim any user or group of the downstream, system:masters included; leave the field out for the default "`+DefaultPeoplePrefix+`", or write a prefix such as "corp:"`)
		}
	}
}

// checkShape walks a decoded JSON value against the Go type it must fill and
// records unknown fields and wrong types with their paths, so the operator
// sees every mistake of the file at once.
func checkShape(errs *Errors, at string, v any, t reflect.Type) {
	if v == nil {
		return // null: the field keeps its zero value and defaulting applies
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			errs.add(at, "expected a mapping, got %s", jsonKind(v))
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				errs.add(path(at, k), "unknown field%s", suggest(k, fields))
				continue
			}
			checkShape(errs, path(at, k), obj[k], ft)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			errs.add(at, "expected a mapping of strings, got %s", jsonKind(v))
			return
		}
		for k, e := range obj {
			checkShape(errs, path(at, k), e, t.Elem())
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			errs.add(at, "expected a list, got %s", jsonKind(v))
			return
		}
		for i, e := range list {
			checkShape(errs, index(at, i), e, t.Elem())
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			errs.add(at, "expected a string, got %s (quote it)", jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			errs.add(at, "expected true or false, got %s", jsonKind(v))
		}
	case reflect.Int64, reflect.Int:
		n, ok := v.(float64)
		if !ok || n != float64(int64(n)) {
			errs.add(at, "expected a whole number, got %s", jsonKind(v))
		}
	}
}

// jsonFields maps the JSON names of t's fields (embedded structs promoted)
// to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || (!f.IsExported() && !f.Anonymous):
		case f.Anonymous && name == "":
			for k, v := range jsonFields(f.Type) {
				fields[k] = v
			}
		default:
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
	}
	return fields
}

// suggest names the known field closest to an unknown one.
func suggest(unknown string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	for k := range fields {
		d := distance(strings.ToLower(unknown), strings.ToLower(k))
		if d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	sort.Strings(known)
	return "; valid fields here: " + strings.Join(known, ", ")
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", v)
	case float64:
		return fmt.Sprintf("the number %v", v)
	case bool:
		return fmt.Sprintf("%v", v)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
