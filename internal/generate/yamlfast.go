package generate

import (
	"slices"
	"strconv"
	"strings"
)

// fastYAML renders a JSON-decoded value (maps, slices, strings, float64,
// bools, nil) the way go.yaml.in/yaml/v2's Marshal does, for the plain
// shapes the generator writes most: block mappings with sorted keys,
// indentless sequences, plain scalars (folded at column 80 as yaml.v2 folds
// them) and literal blocks. It answers ok=false for anything outside that
// subset (a string yaml.v2 would quote, keys whose order yaml.v2 decides
// differently than bytes, a sequence in a sequence ...), and toYAML then
// renders the whole value with yaml.v2. TestFastYAMLMatchesYAMLv2 holds it
// to byte-identical output.
func fastYAML(v any) ([]byte, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	if len(m) == 0 {
		return []byte("{}\n"), true
	}
	e := fastEncoder{buf: make([]byte, 0, 1024)}
	if !e.mapping(m, 0, false) {
		return nil, false
	}
	return e.buf, true
}

type fastEncoder struct {
	buf []byte
}

// bestWidth is yaml.v2's line width for folding plain scalars.
const bestWidth = 80

func (e *fastEncoder) spaces(n int) {
	for range n {
		e.buf = append(e.buf, ' ')
	}
}

// mapping writes m's entries with keys at column indent. inSeq: the first
// key follows a "- " already written.
func (e *fastEncoder) mapping(m map[string]any, indent int, inSeq bool) bool {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if !plainKey(k) || (i > 0 && !sameOrder(keys[i-1], k)) {
			return false
		}
		if i > 0 || !inSeq {
			e.spaces(indent)
		}
		e.buf = append(e.buf, k...)
		e.buf = append(e.buf, ':')
		if !e.value(m[k], indent, indent+len(k)+1) {
			return false
		}
	}
	return true
}

// value writes v after "key:" (or "-") at column col, for an entry whose
// key (or dash) is at column indent.
func (e *fastEncoder) value(v any, indent, col int) bool {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			e.buf = append(e.buf, " {}\n"...)
			return true
		}
		e.buf = append(e.buf, '\n')
		return e.mapping(x, indent+2, false)
	case []any:
		if len(x) == 0 {
			e.buf = append(e.buf, " []\n"...)
			return true
		}
		e.buf = append(e.buf, '\n')
		return e.sequence(x, indent)
	}
	e.buf = append(e.buf, ' ')
	return e.scalar(v, indent+2, col+1)
}

// sequence writes items as "- item" at column indent (yaml.v2 does not
// indent a sequence under a mapping key).
func (e *fastEncoder) sequence(items []any, indent int) bool {
	for _, it := range items {
		e.spaces(indent)
		e.buf = append(e.buf, '-')
		switch x := it.(type) {
		case map[string]any:
			if len(x) == 0 {
				e.buf = append(e.buf, " {}\n"...)
				continue
			}
			e.buf = append(e.buf, ' ')
			if !e.mapping(x, indent+2, true) {
				return false
			}
		case []any:
			return false
		default:
			e.buf = append(e.buf, ' ')
			if !e.scalar(it, indent+2, indent+2) {
				return false
			}
		}
	}
	return true
}

// scalar writes a scalar starting at column col; folded lines and literal
// block lines are indented by indent.
func (e *fastEncoder) scalar(v any, indent, col int) bool {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, "null\n"...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, x)
		e.buf = append(e.buf, '\n')
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if strings.ContainsAny(s, "IN") { // Inf, NaN
			return false
		}
		e.buf = append(e.buf, s...)
		e.buf = append(e.buf, '\n')
	case string:
		if x == "" {
			e.buf = append(e.buf, `""`+"\n"...)
			return true
		}
		if strings.IndexByte(x, '\n') >= 0 {
			return e.literal(x, indent)
		}
		switch styleOf(x) {
		case stylePlain:
			e.plain(x, indent, col)
		case styleSingle:
			e.single(x, indent, col)
		case styleDouble:
			// Only the words of yaml11Words: nothing to escape, no spaces.
			e.buf = append(e.buf, '"')
			e.buf = append(e.buf, x...)
			e.buf = append(e.buf, '"', '\n')
		default:
			return false
		}
	default:
		return false
	}
	return true
}

// plain writes s as a plain scalar, folding at a space once the line is
// past bestWidth (s holds no double spaces).
func (e *fastEncoder) plain(s string, indent, col int) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' && col > bestWidth {
			e.buf = append(e.buf, '\n')
			e.spaces(indent)
			col = indent
			continue
		}
		e.buf = append(e.buf, c)
		col++
	}
	e.buf = append(e.buf, '\n')
}

// single writes s single-quoted (a quote doubled), folding as plain does
// but never at its first or last character.
func (e *fastEncoder) single(s string, indent, col int) {
	e.buf = append(e.buf, '\'')
	col++
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' && col > bestWidth && i > 0 && i < len(s)-1 {
			e.buf = append(e.buf, '\n')
			e.spaces(indent)
			col = indent
			continue
		}
		if c == '\'' {
			e.buf = append(e.buf, '\'')
			col++
		}
		e.buf = append(e.buf, c)
		col++
	}
	e.buf = append(e.buf, '\'', '\n')
}

// literal writes s as a literal block ("|", or "|-" without a final line
// break), its lines indented by indent.
func (e *fastEncoder) literal(s string, indent int) bool {
	if s[0] == ' ' || s[0] == '\n' || strings.HasSuffix(s, "\n\n") || strings.HasSuffix(s, " ") || strings.Contains(s, " \n") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\n' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	if strings.HasSuffix(s, "\n") {
		e.buf = append(e.buf, "|\n"...)
		s = s[:len(s)-1]
	} else {
		e.buf = append(e.buf, "|-\n"...)
	}
	for line := range strings.SplitSeq(s, "\n") {
		if line != "" {
			e.spaces(indent)
			e.buf = append(e.buf, line...)
		}
		e.buf = append(e.buf, '\n')
	}
	return true
}

// plainKey: a key yaml.v2 writes as it is (a simple plain scalar without
// spaces).
func plainKey(k string) bool {
	return len(k) <= 128 && !strings.Contains(k, " ") && styleOf(k) == stylePlain
}

// The styles of a single-line string, as yaml.v2 chooses them.
const (
	styleDecline = iota // left to yaml.v2
	stylePlain
	styleSingle
	styleDouble
)

// yaml11Words are the plain scalars yaml.v2 reads as booleans or null:
// it writes them double-quoted.
var yaml11Words = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
	"null": true, "Null": true, "NULL": true, "~": true,
}

// styleOf is how yaml.v2 writes a single-line, non-empty string: plain
// unless it would read as something else (a boolean or null: double
// quotes) or holds YAML syntax (single quotes). Conservative: anything that
// could read as a number or timestamp, any byte outside printable ASCII,
// and double spaces are left to yaml.v2.
func styleOf(s string) int {
	if s == "" {
		return styleDecline
	}
	if yaml11Words[s] {
		if s == "~" {
			return styleDecline
		}
		return styleDouble
	}
	c0 := s[0]
	if isDigit(c0) || c0 == '+' || c0 == '.' || c0 == '<' || c0 == '=' ||
		c0 == '-' && len(s) > 1 && (isDigit(s[1]) || s[1] == '.') {
		return styleDecline
	}
	indicator := false
	switch c0 {
	case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		indicator = true
	case '?', ':', '-':
		indicator = len(s) == 1 || s[1] == ' '
	}
	if c0 == ' ' || s[len(s)-1] == ' ' || strings.HasPrefix(s, "---") {
		indicator = true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return styleDecline
		}
		switch {
		case c == ' ' && i+1 < len(s) && s[i+1] == ' ':
			return styleDecline
		case c == ':' && i > 0 && (i+1 == len(s) || s[i+1] == ' '):
			indicator = true
		case c == '#' && i > 0 && s[i-1] == ' ':
			indicator = true
		}
	}
	if indicator {
		return styleSingle
	}
	return stylePlain
}

// sameOrder reports whether yaml.v2, which sorts keys with runs of digits
// compared as numbers and letters after other characters, puts a before b
// as byte order does (a < b). Conservative: false when unsure.
func sameOrder(a, b string) bool {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return len(a) < len(b)
	}
	x, y := a[i], b[i]
	prevDigit := i > 0 && isDigit(a[i-1])
	switch {
	case isLetter(x) && isLetter(y):
		return true
	case isLetter(x) || isLetter(y):
		other := x
		if isLetter(x) {
			other = y
		}
		return !prevDigit && (isDigit(other) || other < 'A')
	case isDigit(x) && isDigit(y):
		// yaml.v2 compares the runs as int64s: equal lengths that fit
		// compare as bytes do.
		n := digitRun(a[i:])
		return n == digitRun(b[i:]) && leadingDigits(a[:i])+n <= 18
	case isDigit(x) || isDigit(y):
		other := x
		if isDigit(x) {
			other = y
		}
		return other < '0'
	}
	return true
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// leadingDigits is the length of the run of digits that ends s.
func leadingDigits(s string) int {
	n := 0
	for n < len(s) && isDigit(s[len(s)-1-n]) {
		n++
	}
	return n
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}
