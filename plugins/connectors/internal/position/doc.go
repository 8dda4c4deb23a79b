// Package position reads integer fields of committed source offsets for the built-in connectors, whatever
// numeric type the position store hands back: int64 as produced, float64 or json.Number after a JSON round
// trip, or a decimal string. A value that is not an integer (or, for Int64, is negative) is an error wrapping
// ErrBadPosition, never a silent restart from zero.
package position
