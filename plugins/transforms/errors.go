package transforms

import "errors"

// Sentinel errors of the transforms package. Match them with errors.Is.
var (
	// ErrUnknownTransform means a transforms.<alias>.type names no registered transform.
	ErrUnknownTransform = errors.New("unknown transform type")
	// ErrUnknownPredicate means a predicate type is not registered, or a
	// transform refers to a predicate alias missing from `predicates`.
	ErrUnknownPredicate = errors.New("unknown predicate")
	// ErrDuplicateAlias means an alias appears twice in `transforms` or `predicates`.
	ErrDuplicateAlias = errors.New("duplicate alias")
	// ErrDuplicateName means a transform or predicate name is registered twice.
	ErrDuplicateName = errors.New("duplicate transform or predicate name")
	// ErrUnsupportedValue means a record's key or value does not have the
	// shape the transform needs (a struct or a map, a field of some type...).
	ErrUnsupportedValue = errors.New("unsupported value")
	// ErrSchemaRequired means the transform only works on records with a schema.
	ErrSchemaRequired = errors.New("schema required")
	// ErrFieldNotFound means a field the transform must read is missing.
	ErrFieldNotFound = errors.New("field not found")
)
