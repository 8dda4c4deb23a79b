package avro

import (
	"fmt"
	"slices"
	"strings"
)

// Mode is a subject's compatibility level, as the schema registry names it.
type Mode string

// The compatibility modes. BACKWARD: the new schema reads data written with the latest; FORWARD: the latest
// reads data written with the new one; FULL: both. The _TRANSITIVE variants check every previous version, not
// only the latest. NONE checks nothing.
const (
	Backward           Mode = "BACKWARD"
	BackwardTransitive Mode = "BACKWARD_TRANSITIVE"
	Forward            Mode = "FORWARD"
	ForwardTransitive  Mode = "FORWARD_TRANSITIVE"
	Full               Mode = "FULL"
	FullTransitive     Mode = "FULL_TRANSITIVE"
	None               Mode = "NONE"
)

// DefaultMode is the registry's default.
const DefaultMode = Backward

// ParseMode reads a mode name (case-insensitive; "" is DefaultMode).
func ParseMode(s string) (Mode, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultMode, nil
	}
	m := Mode(strings.ToUpper(strings.TrimSpace(s)))
	switch m {
	case Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None:
		return m, nil
	}
	return "", fmt.Errorf("unknown compatibility %q (BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE)", s)
}

// Incompatibility is one broken resolution rule: where (a path such as `User.address.zip` or `User.tags[]`) and
// which rule.
type Incompatibility struct {
	Path string
	Rule string
}

func (i Incompatibility) String() string {
	if i.Path == "" {
		return i.Rule
	}
	return i.Path + ": " + i.Rule
}

// CompatibilityError lists why a reader cannot read a writer. Direction says which check failed ("new schema
// reading version 3" and the like, set by Check); it wraps ErrIncompatible.
type CompatibilityError struct {
	Direction string
	Issues    []Incompatibility
}

func (e *CompatibilityError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.String()
	}
	msg := strings.Join(parts, "; ")
	if e.Direction != "" {
		msg = e.Direction + ": " + msg
	}
	return msg + ": " + ErrIncompatible.Error()
}

// Unwrap returns ErrIncompatible.
func (e *CompatibilityError) Unwrap() error { return ErrIncompatible }

// CanRead reports whether data written with writer can be read with reader under the Avro schema-resolution
// rules; if not, a *CompatibilityError lists every rule broken.
func CanRead(reader, writer *Schema) error {
	c := checker{seen: map[[2]*Schema]bool{}}
	c.check(reader, writer, rootPath(reader))
	if len(c.issues) == 0 {
		return nil
	}
	return &CompatibilityError{Issues: c.issues}
}

// Check decides whether candidate may follow previous (the subject's versions, oldest first) under mode. Schemas
// are Avro JSON; a schema that does not parse gives an error wrapping ErrInvalidSchema. An incompatibility gives a
// *CompatibilityError (ErrIncompatible) that says which version and why.
func Check(candidate string, previous []string, mode Mode) error {
	next, err := Parse(candidate)
	if err != nil {
		return err
	}
	if mode == "" {
		mode = DefaultMode
	}
	if _, err := ParseMode(string(mode)); err != nil {
		return err
	}
	if mode == None || len(previous) == 0 {
		return nil
	}
	first := len(previous) - 1
	if strings.HasSuffix(string(mode), "_TRANSITIVE") {
		first = 0
	}
	backward := mode != Forward && mode != ForwardTransitive
	forward := mode != Backward && mode != BackwardTransitive
	for i := len(previous) - 1; i >= first; i-- {
		old, err := Parse(previous[i])
		if err != nil {
			return fmt.Errorf("previous version %d: %w", i+1, err)
		}
		if backward {
			if err := CanRead(next, old); err != nil {
				ce := err.(*CompatibilityError)
				ce.Direction = fmt.Sprintf("%s: the new schema cannot read data written with version %d", mode, i+1)
				return ce
			}
		}
		if forward {
			if err := CanRead(old, next); err != nil {
				ce := err.(*CompatibilityError)
				ce.Direction = fmt.Sprintf("%s: version %d cannot read data written with the new schema", mode, i+1)
				return ce
			}
		}
	}
	return nil
}

func rootPath(s *Schema) string {
	if s.IsNamed() {
		return s.Name
	}
	return ""
}

type checker struct {
	seen   map[[2]*Schema]bool
	issues []Incompatibility
}

func (c *checker) fail(path, format string, a ...any) {
	c.issues = append(c.issues, Incompatibility{Path: path, Rule: fmt.Sprintf(format, a...)})
}

// promotable reports the Avro promotions: int to long, float, double; long to float, double; float to double;
// string to bytes and bytes to string.
func promotable(w, r Kind) bool {
	switch w {
	case Int:
		return r == Long || r == Float || r == Double
	case Long:
		return r == Float || r == Double
	case Float:
		return r == Double
	case String:
		return r == Bytes
	case Bytes:
		return r == String
	}
	return false
}

// namesMatch: the unqualified names are equal, or one of the reader's aliases names the writer (full or
// unqualified).
func namesMatch(r, w *Schema) bool {
	if r.Name == w.Name {
		return true
	}
	for _, a := range r.Aliases {
		if a == w.FullName() || a == w.Name || a[strings.LastIndexByte(a, '.')+1:] == w.Name && !strings.Contains(w.FullName(), ".") {
			return true
		}
	}
	return false
}

func join(path, seg string) string {
	if path == "" {
		return seg
	}
	return path + "." + seg
}

func (c *checker) check(r, w *Schema, path string) {
	key := [2]*Schema{r, w}
	if c.seen[key] {
		return // a recursive pair already under check (or checked)
	}
	c.seen[key] = true

	if w.Kind == Union {
		// Every branch the writer may use must be readable.
		for _, wb := range w.Branches {
			if r.Kind == Union {
				rb := matchBranchForCheck(r, wb)
				if rb == nil {
					c.fail(path, "the writer union branch %s has no matching branch in the reader union", describe(wb))
					continue
				}
				c.check(rb, wb, path)
				continue
			}
			c.check(r, wb, path)
		}
		return
	}
	if r.Kind == Union {
		rb := matchBranchForCheck(r, w)
		if rb == nil {
			c.fail(path, "the reader union has no branch for the writer type %s", describe(w))
			return
		}
		c.check(rb, w, path)
		return
	}
	if r.Kind != w.Kind {
		if promotable(w.Kind, r.Kind) {
			c.logical(r, w, path)
			return
		}
		c.fail(path, "type changed from %s to %s, which is not one of the Avro promotions (int→long→float→double, string↔bytes)", describe(w), describe(r))
		return
	}
	if r.IsNamed() && !namesMatch(r, w) {
		c.fail(path, "%s name changed from %q to %q (add the old name to the reader's aliases)", r.Kind, w.FullName(), r.FullName())
		return
	}
	switch r.Kind {
	case Record:
		c.record(r, w, path)
	case Enum:
		var missing []string
		for _, s := range w.Symbols {
			if !slices.Contains(r.Symbols, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 && !r.HasEnumDefault {
			c.fail(path, "enum symbols %v written by the writer are missing from the reader, which has no enum default", missing)
		}
	case Fixed:
		if r.Size != w.Size {
			c.fail(path, "fixed size changed from %d to %d", w.Size, r.Size)
		}
	case Array:
		c.check(r.Items, w.Items, path+"[]")
	case Map:
		c.check(r.Values, w.Values, path+"{}")
	}
	c.logical(r, w, path)
}

// logical applies the one logical-type resolution rule of the specification: two decimals match only with the
// same scale (and a reader precision no smaller than the writer's, so no value overflows).
func (c *checker) logical(r, w *Schema, path string) {
	if r.LogicalType != LogicalDecimal || w.LogicalType != LogicalDecimal {
		return
	}
	if r.Scale != w.Scale {
		c.fail(path, "decimal scale changed from %d to %d", w.Scale, r.Scale)
	}
	if r.Precision < w.Precision {
		c.fail(path, "decimal precision narrowed from %d to %d", w.Precision, r.Precision)
	}
}

func (c *checker) record(r, w *Schema, path string) {
	for j, rf := range r.Fields {
		wf := writerField(w, r, j)
		fpath := join(path, rf.Name)
		if wf == nil {
			if !rf.HasDefault {
				c.fail(fpath, "field is missing from the writer and has no default in the reader (a field added to a record needs a default)")
			}
			continue
		}
		c.check(rf.Type, wf.Type, fpath)
	}
}

// matchBranchForCheck is matchBranch with named types matched by name or alias as well as full name.
func matchBranchForCheck(r, w *Schema) *Schema {
	if b := matchBranch(r, w); b != nil {
		return b
	}
	for _, b := range r.Branches {
		if b.Kind == w.Kind && b.IsNamed() && namesMatch(b, w) {
			return b
		}
	}
	return nil
}
