// Package scripts tests the shell scripts under distribution/bin as a user runs them.
package scripts
