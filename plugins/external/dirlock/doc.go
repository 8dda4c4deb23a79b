// Package dirlock tells a directory in use from one whose user is gone, with an exclusive
// flock that the kernel releases when its holder ends, however it ends: a crashed holder
// leaves no stale lock, and a pid (reused since, or of another pid namespace) is never what
// decides.
//
// LockDir gives one process at a time a directory it keeps (a worker's store). MkdirTemp
// makes a directory of this process's in a shared parent (the temporary directory), locked
// while the process lives, and SweepTemp removes those whose lock is free: the directories
// of processes no longer running. On a platform without flock (Supported is false) LockDir
// always succeeds and SweepTemp removes nothing.
//
// It sits under plugins/external, which uses it for the plugin sockets' directories, because
// the worker (its store lock) may import plugins and plugins may not import the worker.
package dirlock
