// Package box puts values in interfaces from blocks of slots. Go stores a value of a type that is not
// pointer-shaped in an interface as the type's word and a pointer to a copy of the value, which it
// allocates (unless the value is small enough for a static table); a decoder that boxes every column value
// of every row pays an allocation a value. Boxes makes the same interface with the pointer to a slot of a
// block of 256, one allocation a block. A slot is written once, before its interface is made, and never
// again: a boxed value is as immutable as Go's own, and keeps its block alive. jdbc-source's page arena,
// mysql-cdc's row decoder and the plugin protocol's record decoder box their values with it.
package box
