package credential

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// This file walks JSON that json.Valid has already accepted, to pick a few
// members out of the token's payload and of KUBERNETES_EXEC_INFO without
// encoding/json's reflection, maps and copies: every exec of the plugin pays
// for each memory page it touches, and a page fault costs tens of
// microseconds on a virtual machine. (Measured with the direct Marshal: the
// plugin's median minor faults went from 255 to 238, the floor's are 220.)
// Validity is checked first, so the walk only needs to find where strings,
// objects and arrays end. A differential fuzz test
// (FuzzScanMatchesEncodingJSON) holds it equal to encoding/json.

// forEachMember calls fn with the decoded key and the raw value of each
// member of obj, a valid JSON object, in order. A repeated key is reported
// each time; callers keep the last, as encoding/json does.
func forEachMember(obj []byte, fn func(key, value []byte) error) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errNotObject
	}
	i = skipSpace(obj, i+1)
	for i < len(obj) && obj[i] == '"' {
		end := skipString(obj, i)
		key := obj[i+1 : end-1]
		if needsDecoding(key) {
			var s string
			if err := json.Unmarshal(obj[i:end], &s); err != nil {
				return err
			}
			key = []byte(s)
		}
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return errNotObject
		}
		i = skipSpace(obj, i+1)
		vend := skipValue(obj, i)
		if err := fn(key, obj[i:vend]); err != nil {
			return err
		}
		i = skipSpace(obj, vend)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return nil
}

// forEachElement calls fn with each raw element of arr, a valid JSON array.
func forEachElement(arr []byte, fn func(value []byte) error) error {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return errNotArray
	}
	i = skipSpace(arr, i+1)
	for i < len(arr) && arr[i] != ']' {
		end := skipValue(arr, i)
		if err := fn(arr[i:end]); err != nil {
			return err
		}
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return nil
}

type scanError string

func (e scanError) Error() string { return string(e) }

const (
	errNotObject scanError = "not a JSON object"
	errNotArray  scanError = "not a JSON array"
	errNotString scanError = "not a JSON string"
)

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just after the string that starts at d[i].
func skipString(d []byte, i int) int {
	for i++; i < len(d); i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(d)
}

// skipValue returns the index just after the value that starts at d[i].
func skipValue(d []byte, i int) int {
	depth := 0
	for i < len(d) {
		switch d[i] {
		case '"':
			i = skipString(d, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing container ends a number or literal
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return i
}

// needsDecoding reports whether the content of a JSON string differs from
// its raw bytes: escapes, or invalid UTF-8 that encoding/json replaces.
func needsDecoding(raw []byte) bool {
	return bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw)
}

// jsonString decodes a valid JSON value; ok is false when it is not a string.
func jsonString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if raw := v[1 : len(v)-1]; !needsDecoding(raw) {
		return string(raw), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}
